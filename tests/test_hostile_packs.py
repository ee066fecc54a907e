"""Rule packs are data only: hostile packs are refused, clearly, in bounded time and memory.

Each hostile pack is a fixture under tests/data/hostile-packs/: the minimal valid
pack there (valid-minimal.yaml) with one hostile change, so that a refusal can only
come from that change.
"""

from __future__ import annotations

import hashlib
import os
import re
import resource
import shutil
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

import triage
from triage.packs.guards import (
    MAX_ANSWER_SETS,
    MAX_CONDITION_DEPTH,
    MAX_CONDITION_NODES,
    MAX_NUMBER_DIGITS,
    MAX_PACK_BYTES,
    MAX_SOURCE_BYTES,
    MAX_YAML_DEPTH,
)
from triage.packs.loading import default_pack_path

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
    from triage.core.answerspace import answer_space

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


# -- `rules check` reads the pack once, under the same limits ---------------------------------------------

CHECK_TIME_LIMIT_S = 10.0
"""Seconds for a whole `triage rules check` process (start-up included)."""
CHECK_MEMORY_LIMIT_MB = 150
"""Peak resident memory of that process (Python, pydantic and the bundled pack take about 40 MB)."""
ADDRESS_SPACE_CAP = 2 << 30
"""A cap on the process's address space, so that a run that would exhaust memory fails early instead."""
NOT_REGULAR = "is not a regular file but"
TOO_LARGE = f"is larger than {MAX_PACK_BYTES // 1024} KiB, the limit for this file"


def _ten_megabytes(folder: Path) -> Path:
    """A pack of 10 MB of plain YAML: many small mappings after the minimal pack."""
    text = (HOSTILE / "valid-minimal.yaml").read_text(encoding="utf-8") + "padding:\n"
    row = "  - {id: x, label: y, text: [a, b, c]}\n"
    (folder / "pack.yaml").write_text(text + row * ((10 << 20) // len(row)), encoding="utf-8")
    return folder


def _deep(folder: Path) -> Path:
    """400 KB of nesting: a list in a list… 200,000 levels deep."""
    (folder / "pack.yaml").write_text("a: " + "[" * 200_000 + "]" * 200_000 + "\n", encoding="utf-8")
    return folder / "pack.yaml"


def _fifo_in_a_folder(folder: Path) -> Path:
    os.mkfifo(folder / "pack.yaml")
    return folder


def _fifo(folder: Path) -> Path:
    os.mkfifo(folder / "pack.yaml")
    return folder / "pack.yaml"


def _link_to_dev_zero(folder: Path) -> Path:
    (folder / "pack.yaml").symlink_to("/dev/zero")
    return folder


# (shape, how to make it, exit status, what the one problem says)
CHECK_SHAPES: list[tuple[str, Callable[[Path], Path], int, str]] = [
    ("ten-megabytes", _ten_megabytes, 1, TOO_LARGE),
    ("deep-400-kb", _deep, 1, TOO_LARGE),
    ("fifo-in-a-folder", _fifo_in_a_folder, 2, f"{NOT_REGULAR} a named pipe"),
    ("fifo", _fifo, 2, f"{NOT_REGULAR} a named pipe"),
    ("dev-zero", lambda _: Path("/dev/zero"), 2, f"{NOT_REGULAR} a character device"),
    ("dev-null", lambda _: Path("/dev/null"), 2, f"{NOT_REGULAR} a character device"),
    ("link-to-dev-zero", _link_to_dev_zero, 2, f"{NOT_REGULAR} a character device"),
    ("folder-as-pack-file", lambda f: (f / "pack.yaml").mkdir() or f, 2, f"{NOT_REGULAR} a folder"),
]


def _cap_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_CAP, ADDRESS_SPACE_CAP))


_PEAK = """
import atexit, runpy, sys
report = sys.argv.pop(1)

def peak():  # the peak resident memory of this program alone (VmHWM starts afresh at exec)
    with open("/proc/self/status") as status, open(report, "w") as out:
        out.write(next((line.split()[1] for line in status if line.startswith("VmHWM:")), "0"))

atexit.register(peak)
sys.argv[0] = "triage"
runpy.run_module("triage", run_name="__main__", alter_sys=True)
"""


def _run_measured(args: list[str], folder: Path) -> tuple[int, str, str, float, int]:
    """Run `triage ARGS`; its exit status, output, error output, seconds and peak resident memory
    (bytes; 0 where /proc cannot tell). Killed (and the test failed) if it runs longer than the limit.
    """
    out_path, err_path, peak_path = folder / "stdout", folder / "stderr", folder / "peak"
    command = [sys.executable, "-c", _PEAK, str(peak_path), *args]
    started = time.perf_counter()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, preexec_fn=_cap_address_space)
    try:
        process.wait(timeout=CHECK_TIME_LIMIT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"triage {' '.join(args)} still ran after {CHECK_TIME_LIMIT_S} s")
    elapsed = time.perf_counter() - started
    peak = int(peak_path.read_text() or 0) * 1024 if peak_path.exists() else 0
    text = (out_path.read_text(errors="replace"), err_path.read_text(errors="replace"))
    return process.returncode, *text, elapsed, peak


@pytest.mark.parametrize(
    ("make", "code", "message"), [c[1:] for c in CHECK_SHAPES], ids=[c[0] for c in CHECK_SHAPES]
)
def test_rules_check_keeps_to_the_pack_limits(
    tmp_path: Path, make: Callable[[Path], Path], code: int, message: str
) -> None:
    """`triage rules check` on a huge, deep, endless or blocking pack file reports its one problem
    within the time and memory bounds, without a traceback: 1 for a pack over the size limit, 2 for a
    path that is not a readable regular file (a pipe, a device, a folder)."""
    work = tmp_path / "work"
    work.mkdir()
    path = make(work)
    status, out, err, elapsed, peak = _run_measured(["rules", "check", str(path)], tmp_path)
    assert (status, "Traceback" in err) == (code, False), (out, err)
    assert message in out, out
    assert "1 problem(s) found." in err
    assert elapsed < CHECK_TIME_LIMIT_S
    assert peak < CHECK_MEMORY_LIMIT_MB << 20


def test_rules_check_reads_the_pack_file_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The line of each problem comes from the one read of pack.yaml, made within the limits: the
    file is opened once (an audit hook sees every open), and the lines are right."""
    from triage.apps.cli import main

    folder = tmp_path / "pack"
    folder.mkdir()
    text = (HOSTILE / "valid-minimal.yaml").read_text(encoding="utf-8")
    assert "title: A minimal pack\n" in text
    (folder / "pack.yaml").write_text(
        text.replace("title: A minimal pack\n", "title: A minimal pack\nextra: 1\n")
    )
    shutil.copy(HOSTILE / "source.txt", folder / "source.txt")
    line = text.splitlines().index("title: A minimal pack") + 2
    opened: list[str] = []
    _watch_opens(opened)
    try:
        assert main(["rules", "check", str(folder)]) == 1
    finally:
        opened.append(_STOP)
    assert f"{folder / 'pack.yaml'}:{line}: extra: unknown field [schema]" in capsys.readouterr().out
    assert [p for p in opened[:-1] if p.endswith("pack.yaml")] == [str(folder / "pack.yaml")]


_STOP = "\0stop"


def _watch_opens(opened: list[str]) -> None:
    """Note every file opened into `opened`, until `_STOP` is added to it (an audit hook stays for the
    life of the process, so it stops noting instead)."""

    def hook(event: str, args: tuple[object, ...]) -> None:
        if event == "open" and (not opened or opened[-1] != _STOP) and isinstance(args[0], str | Path):
            opened.append(str(args[0]))

    sys.addaudithook(hook)


def test_rules_check_locates_thousands_of_problems_quickly(tmp_path: Path) -> None:
    """A pack within the size limit with 27,000 problems (9,000 questions, each with an unknown field
    and two missing ones) is reported within the bounds, each problem at its line: locating is a
    look-up per step, not a search of every question for each problem."""
    text = (HOSTILE / "valid-minimal.yaml").read_text(encoding="utf-8")
    bogus = "".join(f"  - {{id: q{n}, x: 1}}\n" for n in range(9000))
    folder = tmp_path / "pack"
    folder.mkdir()
    (folder / "pack.yaml").write_text(
        text.replace("questions:\n", "questions:\n" + bogus, 1), encoding="utf-8"
    )
    shutil.copy(HOSTILE / "source.txt", folder / "source.txt")
    assert (folder / "pack.yaml").stat().st_size < MAX_PACK_BYTES
    first = text.splitlines().index("questions:") + 2
    status, out, err, elapsed, peak = _run_measured(["rules", "check", str(folder)], tmp_path)
    assert (status, "Traceback" in err) == (1, False), err
    assert "27000 problem(s) found." in err
    for n in (0, 4500, 8999):
        assert f"{folder / 'pack.yaml'}:{first + n}: questions[q{n}].x: unknown field [schema]" in out
    assert elapsed < CHECK_TIME_LIMIT_S
    assert peak < CHECK_MEMORY_LIMIT_MB << 20
