"""Rule packs are data only: hostile packs are refused, clearly, in bounded time and memory.

Each hostile pack is a fixture under tests/data/hostile-packs/: the minimal valid
pack there (valid-minimal.yaml) with one hostile change, so that a refusal can only
come from that change.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

import triage
from triage.rulepack import (
    MAX_ANSWER_SETS,
    MAX_CONDITION_DEPTH,
    MAX_CONDITION_NODES,
    MAX_NUMBER_DIGITS,
    MAX_PACK_BYTES,
    MAX_SOURCE_BYTES,
    MAX_YAML_DEPTH,
    default_pack_path,
)

HOSTILE = Path(__file__).parent / "data" / "hostile-packs"
TIME_LIMIT_S = 5.0
MEMORY_LIMIT_MB = 64

TAGS = "YAML tags are not allowed in a rule pack"
ALIASES = "anchors and aliases (&name, *name) are not allowed in a rule pack"
OPERATOR = "a condition needs exactly one operator: all, any, not, term, always, in, includes"
OUTSIDE = "is not a file in the pack's folder"

# (fixture, where the problem is, what the message says)
CASES = [
    ("python-object-tag.yaml", "line 5, column 8", f"{TAGS} (found !!python/object/apply:os.system)"),
    ("custom-tag.yaml", "line 10, column 13", f"{TAGS} (found !include)"),
    ("standard-tag.yaml", "line 4, column 10", f"{TAGS} (found !!str)"),
    ("binary-tag.yaml", "line 5, column 8", f"{TAGS} (found !!binary)"),
    ("alias-bomb.yaml", "line 3, column 7", ALIASES),
    ("alias.yaml", "line 10, column 13", ALIASES),
    ("merge-key.yaml", "line 67, column 5", "merge keys (<<) are not allowed in a rule pack"),
    (
        "deep-yaml.yaml",
        "line 73",
        f"nested more than {MAX_YAML_DEPTH} levels deep, the limit for a rule pack",
    ),
    (
        "deep-condition.yaml",
        "urgency.rules[U1].when",
        f"nested 20 levels deep, counting the terms it uses; the limit is {MAX_CONDITION_DEPTH}",
    ),
    (
        "term-chain.yaml",
        "terms.t0",
        f"nested 1001 levels deep, counting the terms it uses; the limit is {MAX_CONDITION_DEPTH}",
    ),
    (
        "term-fanout.yaml",
        "document",
        f"the conditions have 102,285,384 parts in all, with every term written out; "
        f"the limit is {MAX_CONDITION_NODES:,}",
    ),
    ("unknown-operator.yaml", "urgency.rules[U1].when", OPERATOR),
    ("unknown-test.yaml", "terms.red_flag", OPERATOR),
    (
        "huge-number.yaml",
        "line 2, column 9",
        f"a number with more than {MAX_NUMBER_DIGITS} digits, the most a rule pack allows",
    ),
    ("date.yaml", "line 4, column 10", "YAML reads 2020-13-45 as a date; write it in quotes if it is text"),
    (
        "many-options.yaml",
        "questions[red_flags].options",
        f"22 options allow more answers than the {MAX_ANSWER_SETS:,} answer sets that verification checks",
    ),
    (
        "answer-space.yaml",
        "questions",
        f"the questions allow more than {MAX_ANSWER_SETS:,} complete answer sets",
    ),
    ("source-outside.yaml", "source.file", f"'/etc/passwd' {OUTSIDE}"),
    ("source-parent.yaml", "source.file", f"'../hostile-packs/source.txt' {OUTSIDE}"),
    ("source-not-utf8.yaml", "source.file", "the source article is not UTF-8 text (at byte 107)"),
    ("too-large.yaml", "file", f"is larger than {MAX_PACK_BYTES // 1024} KiB, the limit for this file"),
    ("truncated.yaml", "line 40, column 12", "expected the node content, but found '<stream end>'"),
    ("random-bytes.yaml", "YAML", "invalid start byte"),
    ("nul-byte.yaml", "YAML", "unacceptable character #x0000: special characters are not allowed"),
    ("utf16-no-bom.yaml", "YAML", "unacceptable character #x0000"),
    ("not-a-mapping.yaml", "document", "must be a mapping of pack fields"),
]


def test_every_fixture_has_a_case() -> None:
    """Every hostile pack on disk is exercised by a case below (none is forgotten)."""
    on_disk = {p.name for p in HOSTILE.glob("*.yaml")} - {"valid-minimal.yaml"}
    assert on_disk == {fixture for fixture, _, _ in CASES}


def test_the_minimal_pack_is_valid() -> None:
    """The pack the fixtures are made from loads, so each refusal comes from its one change."""
    pack = triage.load_rulepack(HOSTILE / "valid-minimal.yaml")
    result = triage.evaluate({"red_flags": ["stroke_signs"]}, rulepack=pack)
    assert (result.urgency, result.prognosis.category) == ("urgent", "not_assessed")


@pytest.mark.parametrize(
    ("fixture", "where", "message"), CASES, ids=[c[0].removesuffix(".yaml") for c in CASES]
)
def test_hostile_pack_is_refused(fixture: str, where: str, message: str) -> None:
    """A hostile pack is refused with a message naming where and what, within the time and memory bounds."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(triage.RulePackError) as caught:
            triage.load_rulepack(HOSTILE / fixture)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    problems = [(p.where, p.message) for p in caught.value.problems]
    assert any(where in w and message in m for w, m in problems), problems
    assert str(HOSTILE / fixture) in str(caught.value)
    assert elapsed < TIME_LIMIT_S
    assert peak < MEMORY_LIMIT_MB * 1024 * 1024


NOT_YAML = {"not-a-mapping.yaml", "nul-byte.yaml", "random-bytes.yaml", "truncated.yaml", "utf16-no-bom.yaml"}


def test_rules_check_refuses_every_hostile_pack_without_a_traceback() -> None:
    """`triage rules check` on each hostile pack prints its problem, never a traceback.

    It exits 2 for a file that is not YAML (or not a mapping) at all, 1 for a refused pack.
    """
    runs = {
        fixture: subprocess.Popen(
            [sys.executable, "-m", "triage", "rules", "check", str(HOSTILE / fixture)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for fixture, _, _ in CASES
    }
    for fixture, where, message in CASES:
        stdout, stderr = runs[fixture].communicate(timeout=60)
        assert runs[fixture].returncode == (2 if fixture in NOT_YAML else 1), (fixture, stderr)
        assert "Traceback" not in stderr, fixture
        # The command prints a YAML position as `file:LINE:`, compiler style.
        assert re.sub(r"^line (\d+)(, column \d+)?$", r":\1: ", where) in stdout, (fixture, stdout)
        assert message in stdout, (fixture, stdout)


def test_a_python_tag_never_runs(tmp_path: Path) -> None:
    """A pack whose tag would create a file if YAML ran it is refused and the file never appears."""
    marker = tmp_path / "ran"
    text = (HOSTILE / "valid-minimal.yaml").read_text(encoding="utf-8")
    pack = tmp_path / "pack.yaml"
    pack.write_text(
        text.replace("title: A minimal pack", f'title: !!python/object/apply:os.system ["touch {marker}"]'),
        encoding="utf-8",
    )
    shutil.copy(HOSTILE / "source.txt", tmp_path / "source.txt")
    with pytest.raises(triage.RulePackError, match=re.escape("found !!python/object/apply:os.system")):
        triage.load_rulepack(tmp_path)
    assert not marker.exists()


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_device_is_not_read_as_a_pack() -> None:
    """An endless device given as a pack is refused without reading it."""
    with pytest.raises(triage.RulePackError, match="is not a regular file"):
        triage.load_rulepack("/dev/zero")


def test_an_oversized_source_article_is_refused(tmp_path: Path) -> None:
    """A source article over the limit is refused before it is read whole."""
    shutil.copy(HOSTILE / "valid-minimal.yaml", tmp_path / "pack.yaml")
    source = (HOSTILE / "source.txt").read_text(encoding="utf-8")
    (tmp_path / "source.txt").write_text(source + "x" * MAX_SOURCE_BYTES, encoding="utf-8")
    with pytest.raises(triage.RulePackError) as caught:
        triage.load_rulepack(tmp_path)
    assert [(p.where, p.message) for p in caught.value.problems] == [
        ("source.file", f"{tmp_path / 'source.txt'} is larger than 256 KiB, the limit for this file")
    ]


def test_the_bundled_pack_is_well_inside_every_limit(pack: triage.RulePack) -> None:
    """The limits leave room: the bundled pack uses at most a quarter of each (figures in docs/SAFETY.md)."""
    from triage.answerspace import answer_space

    pack_file = default_pack_path() / "pack.yaml"
    assert pack_file.stat().st_size * 4 < MAX_PACK_BYTES
    assert (default_pack_path() / "source.txt").stat().st_size * 4 < MAX_SOURCE_BYTES
    assert sum(1 for _ in answer_space(pack)) * 4 < MAX_ANSWER_SETS


def _edited_copy(tmp_path: Path, old: str, new: str) -> Path:
    copy = tmp_path / "edited"
    copy.mkdir()
    text = (default_pack_path() / "pack.yaml").read_text(encoding="utf-8")
    assert old in text
    (copy / "pack.yaml").write_text(text.replace(old, new, 1), encoding="utf-8")
    shutil.copy(default_pack_path() / "source.txt", copy / "source.txt")
    return copy


def _sha256_of(folder: Path) -> str:
    """The pack's identity computed here independently: each file's length (8 bytes) and bytes."""
    digest = hashlib.sha256()
    for name in ("pack.yaml", "source.txt"):
        blob = (folder / name).read_bytes()
        digest.update(len(blob).to_bytes(8, "big") + blob)
    return digest.hexdigest()


def test_an_edited_pack_is_used_under_its_own_sha256(tmp_path: Path, pack: triage.RulePack) -> None:
    """A valid edit (a changed text) loads, and its results carry the sha256 of the edited content."""
    edited = _edited_copy(tmp_path, "Everyday care of the face.", "Daily care of the face.")
    loaded = triage.load_rulepack(edited)
    assert loaded.info.sha256 == _sha256_of(edited)
    assert loaded.info.sha256 != pack.info.sha256
    assert pack.info.sha256 == _sha256_of(default_pack_path())
    result = triage.evaluate({"red_flags": [], "cause": "fshd", "severity": "mild"}, rulepack=loaded)
    assert result.rulepack.sha256 == loaded.info.sha256
    assert result.rulepack.version == pack.info.version  # same version, other content: the sha256 tells


def test_an_edited_pack_is_verified_in_full(tmp_path: Path) -> None:
    """An edit that keeps the schema but changes a decision is caught by the pack's own examples."""
    edited = _edited_copy(tmp_path, "    value: 6\n", "    value: 7\n")
    with pytest.raises(triage.RulePackError) as caught:
        triage.load_rulepack(edited)
    assert [(p.where, p.message) for p in caught.value.problems] == [
        ("examples[P2-long-standing-paralysis].expect.prognosis", "expected difficult, got recoverable")
    ]


@pytest.mark.parametrize("edit", [False, True], ids=["bundled", "edited"])
def test_rules_check_prints_the_sha256_of_the_content(tmp_path: Path, edit: bool) -> None:
    """`triage rules check` reports a pack, bundled or edited, as valid with the sha256 of its exact content."""
    folder = _edited_copy(tmp_path, "Everyday care", "Daily care") if edit else default_pack_path()
    out = subprocess.run(
        [sys.executable, "-m", "triage", "rules", "check", str(folder)],
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"is valid \(sha256 ([0-9a-f]{64})\)", out.stdout)
    assert match, out.stdout
    assert match.group(1) == _sha256_of(folder)
