"""Hostile answer files give clear error entries, in bounded time and memory, never a traceback.

Each small hostile file is a fixture under tests/data/hostile-answers/, with its
expected entries below; large ones (a 100 MB line, files over the size limits)
are written into a temporary folder by the test that needs them. Every fixture
goes through the real command (`triage evaluate` in a subprocess) and through
the library readers.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

import triage
from triage.core.answers import MAX_PROBLEMS_OF_A_KIND
from triage.io.formats import EXTENSIONS
from triage.io.readers import (
    MAX_JSON_DEPTH,
    MAX_JSON_FILE_BYTES,
    MAX_RECORD_BYTES,
    MAX_YAML_ALIAS_COPIES,
    MAX_YAML_DEPTH,
    MAX_YAML_FILE_BYTES,
    Item,
    Rejected,
    Unreadable,
    bounded_lines,
    exact_record,
    jsonl_problem,
    read_all,
    read_csv_header,
    read_csv_rows,
    read_json,
    read_yaml,
)

HOSTILE = Path(__file__).parent / "data" / "hostile-answers"
TIME_LIMIT_S = 20.0
MEMORY_LIMIT_MB = 90
"""Peak RSS of a whole `triage evaluate` run (Python, pydantic and the pack take about 40 MB)."""

NOT_UTF8 = "is not UTF-8 text; save it as UTF-8"
NUL = "a NUL byte (0x00), so this is not UTF-8 text (UTF-16, or not text at all); save it as UTF-8"
UTF16 = "the file is UTF-16 text; save it as UTF-8"
TAG = "not valid YAML: could not determine a constructor for the tag"
COPIES = f"{MAX_YAML_ALIAS_COPIES:,} values and characters"
RESULT = None
"""In place of a field: the entry is a result (its urgency in place of a message)."""

# fixture -> its entries in order: (source, field or RESULT, what the message says or the urgency)
CASES: dict[str, list[tuple[str, str | None, str]]] = {
    "random-bytes.json": [
        ("random-bytes.json", "(file)", f"random-bytes.json:1: column 1: byte 0xff {NOT_UTF8}")
    ],
    "random-bytes.yaml": [
        ("random-bytes.yaml", "(file)", f"random-bytes.yaml:1: column 1: byte 0xff {NOT_UTF8}")
    ],
    "random-bytes.csv": [
        ("random-bytes.csv", "(file)", f"random-bytes.csv:1: column 1: byte 0xff {NOT_UTF8}")
    ],
    "random-bytes.jsonl": [
        ("random-bytes.jsonl:1", "(record)", f"random-bytes.jsonl:1: column 1: byte 0xff {NOT_UTF8}"),
        ("random-bytes.jsonl:2", "(record)", f"random-bytes.jsonl:2: column 1: byte 0xf6 {NOT_UTF8}"),
        ("random-bytes.jsonl:3", "(record)", f"random-bytes.jsonl:3: column 1: byte 0xc5 {NOT_UTF8}"),
        ("random-bytes.jsonl:4", "(record)", f"random-bytes.jsonl:4: column 1: byte 0xe7 {NOT_UTF8}"),
        ("random-bytes.jsonl:5", "(record)", f"random-bytes.jsonl:5: column 5: byte 0xa1 {NOT_UTF8}"),
        ("random-bytes.jsonl:6", "(record)", f"random-bytes.jsonl:6: column 2: byte 0xa3 {NOT_UTF8}"),
    ],
    "truncated.json": [
        (
            "truncated.json",
            "(file)",
            "truncated.json: line 1, column 102: not valid JSON: unexpected end of data.",
        )
    ],
    "truncated.jsonl": [
        ("truncated.jsonl:1", RESULT, "routine"),
        (
            "truncated.jsonl:2",
            "(record)",
            "truncated.jsonl:2: column 30: not valid JSON: Unterminated string",
        ),
    ],
    "truncated.yaml": [
        (
            "truncated.yaml",
            "(file)",
            "truncated.yaml: line 7, column 1: not valid YAML: did not find expected",
        ),
    ],
    "truncated.csv": [
        ("truncated.csv:2", RESULT, "routine"),
        (
            "truncated.csv:3",
            "(record)",
            'truncated.csv:3: column 8: this quoted cell (opened with ") is never closed.',
        ),
    ],
    "deep-nesting.json": [
        (
            "deep-nesting.json",
            "(file)",
            "deep-nesting.json: line 1, column 1026: not valid JSON: depth limit exceeded.",
        )
    ],
    "deep-nesting.jsonl": [
        ("deep-nesting.jsonl:1", RESULT, "routine"),
        (
            "deep-nesting.jsonl:2",
            "(record)",
            "deep-nesting.jsonl:2: nested too deeply to be an answer record.",
        ),
    ],
    "deep-nesting.yaml": [
        (
            "deep-nesting.yaml",
            "(file)",
            "deep-nesting.yaml: line 1, column 1011: not valid YAML: exceeded maximum nesting depth.",
        )
    ],
    # Aliases may copy in MAX_YAML_ALIAS_COPIES in all: the fourth *e (9**4 lols each) is past it.
    "alias-bomb.yaml": [
        ("alias-bomb.yaml", "f[3]", f"would take what this file's aliases copy in past {COPIES}")
    ],
    # Text that a terminal, a Markdown renderer or a spreadsheet would obey (tests/test_hostile_output.py
    # checks every output format): read like any other text.
    "terminal-escapes.jsonl": [
        ("terminal-escapes.jsonl:1", RESULT, "emergency"),
        ("terminal-escapes.jsonl:2", RESULT, "routine"),
        ("terminal-escapes.jsonl:3", RESULT, "routine"),
        ("terminal-escapes.jsonl:4", RESULT, "routine"),
        ("terminal-escapes.jsonl:5", "<img src=x onerror=alert(1)>", "unknown question id."),
        ("terminal-escapes.jsonl:6", "\x9b2J\x1b[8m\u2028\x85", "unknown question id."),
        ("terminal-escapes.jsonl:7", "=cmd|' /C calc'!A0", "unknown question id."),
    ],
    "fhir-linkid-controls.json": [
        (
            "fhir-linkid-controls.json",
            "\x1b[2J\u202e<img src=x onerror=alert(1)>\n# EMERGENCY",
            "unknown linkId",
        )
    ],
    "formula-cells.jsonl": [(f"formula-cells.jsonl:{n}", RESULT, "routine") for n in range(1, 12)],
    "python-tag.yaml": [("python-tag.yaml", "(file)", f"python-tag.yaml: line 1, column 12: {TAG}")],
    "python-name-tag.yaml": [
        ("python-name-tag.yaml", "(file)", f"python-name-tag.yaml: line 1, column 14: {TAG}")
    ],
    "ragged-rows.csv": [
        ("ragged-rows.csv:2", "(record)", "ragged-rows.csv:2: this row has 3 cells but the header row has 4"),
        ("ragged-rows.csv:3", "(record)", "ragged-rows.csv:3: this row has 5 cells but the header row has 4"),
        ("ragged-rows.csv:4", RESULT, "routine"),
    ],
    "nul-in-cell.csv": [
        ("nul-in-cell.csv:2", "(record)", f"nul-in-cell.csv:2: column 10: {NUL}"),
        ("nul-in-cell.csv:3", RESULT, "routine"),
    ],
    "unclosed-quote-header.csv": [
        (
            "unclosed-quote-header.csv",
            "(file)",
            'unclosed-quote-header.csv:1: column 4: this quoted cell (opened with ") is never closed.',
        )
    ],
    "nul-in-header.csv": [("nul-in-header.csv", "(file)", f"nul-in-header.csv:1: column 13: {NUL}")],
    "utf16-bom.json": [("utf16-bom.json", "(file)", f"utf16-bom.json: {UTF16}")],
    "utf16-bom.yaml": [("utf16-bom.yaml", "(file)", f"utf16-bom.yaml: {UTF16}")],
    "utf16-bom.csv": [("utf16-bom.csv", "(file)", f"utf16-bom.csv: {UTF16}")],
    "utf16-no-bom.json": [("utf16-no-bom.json", "(file)", f"utf16-no-bom.json:1: column 2: {NUL}")],
    "utf16-no-bom.csv": [("utf16-no-bom.csv", "(file)", f"utf16-no-bom.csv:1: column 1: {NUL}")],
    "utf16-no-bom.jsonl": [
        ("utf16-no-bom.jsonl:1", "(record)", f"utf16-no-bom.jsonl:1: column 2: {NUL}"),
        ("utf16-no-bom.jsonl:2", "(record)", f"utf16-no-bom.jsonl:2: column 1: {NUL}"),
    ],
    "latin1.json": [("latin1.json", "(file)", f"latin1.json:1: column 12: byte 0xe9 {NOT_UTF8}")],
    "latin1.yaml": [("latin1.yaml", "(file)", f"latin1.yaml:1: column 8: byte 0xe9 {NOT_UTF8}")],
    "latin1.jsonl": [
        ("latin1.jsonl:1", RESULT, "routine"),
        ("latin1.jsonl:2", "(record)", f"latin1.jsonl:2: column 12: byte 0xe9 {NOT_UTF8}"),
    ],
    "latin1.csv": [
        ("latin1.csv:2", "(record)", f"latin1.csv:2: column 4: byte 0xe9 {NOT_UTF8}"),
        ("latin1.csv:3", RESULT, "routine"),
    ],
    # Keys that are unclear as written (a merge key, a repeat too deep to check, a repeat inside FHIR).
    "merge-key.yaml": [
        ("merge-key.yaml#0", RESULT, "emergency"),
        ("merge-key.yaml#1", "<<", "a YAML merge key (<<) copies answers in from elsewhere in the file"),
    ],
    "repeated-key-too-deep.jsonl": [
        ("repeated-key-too-deep.jsonl:1", RESULT, "routine"),
        ("repeated-key-too-deep.jsonl:2", "(record)", "nested too deeply to be checked for keys given twice"),
    ],
    "repeated-key-in-fhir.json": [
        ("repeated-key-in-fhir.json#entry[0]", RESULT, "routine"),
        (
            "repeated-key-in-fhir.json#entry[1]",
            "resource.item[0].answer[0].valueCoding.code",
            "this key is given more than once in the same place",
        ),
    ],
    # A red flag stated beside what is wrong with a record (its note: ALARMED below).
    "near-miss-red-flags.jsonl": [
        ("near-miss-red-flags.jsonl:1", "Red_Flags", "unknown question id. Did you mean 'red_flags'?"),
        ("near-miss-red-flags.jsonl:2", "red_flags", "'strok_sign' is not among the choices."),
        ("near-miss-red-flags.jsonl:3", "red_flags", '"none" cannot be combined with other choices'),
        ("near-miss-red-flags.jsonl:4", RESULT, "routine"),
    ],
    # Numbers read as written.
    "not-whole-month.json": [
        ("not-whole-month.json#0", RESULT, "urgent"),
        ("not-whole-month.json#1", "months_since_paralysis", "0.99999999999999999 is not a whole number"),
    ],
    "not-whole-month.yaml": [
        ("not-whole-month.yaml", "months_since_paralysis", "0.99999999999999999 is not a whole number"),
    ],
    "huge-value-integer.json": [
        (
            "huge-value-integer.json",
            "months_since_paralysis",
            "1000000000000000000000000000000 is out of range",
        ),
    ],
    # A line nested deeper than orjson writes, between two plain ones.
    "deep-line.jsonl": [
        ("deep-line.jsonl:1", RESULT, "routine"),
        ("deep-line.jsonl:2", "x", "unknown question id."),
        ("deep-line.jsonl:3", RESULT, "routine"),
    ],
    # Messages in plain words.
    "cr-only.csv": [
        ("cr-only.csv", "(file)", "cr-only.csv:1: column 28: a line ends with a carriage return alone"),
    ],
    "bom-later-line.jsonl": [
        ("bom-later-line.jsonl:1", RESULT, "routine"),
        (
            "bom-later-line.jsonl:2",
            "(record)",
            "bom-later-line.jsonl:2: column 1: the line starts with a byte order mark",
        ),
    ],
    "bom-later-line.csv": [
        ("bom-later-line.csv:2", RESULT, "routine"),
        (
            "bom-later-line.csv:3",
            "(record)",
            "bom-later-line.csv:3: column 1: the line starts with a byte order mark",
        ),
    ],
    "date-id.yaml": [
        ("date-id.yaml#0", "id", "the date 2024-01-01 cannot name a respondent"),
        ("date-id.yaml#1", RESULT, "routine"),
    ],
    "nan.jsonl": [
        (
            "nan.jsonl:1",
            "(record)",
            "nan.jsonl:1: column 53: not valid JSON: NaN is not a number JSON allows",
        ),
        (
            "nan.jsonl:2",
            "(record)",
            "nan.jsonl:2: column 63: not valid JSON: Infinity is not a number JSON allows",
        ),
        ("nan.jsonl:3", "(record)", "nan.jsonl:3: column 63: not valid JSON: a number too large to read"),
    ],
    "control-in-text.jsonl": [
        ("control-in-text.jsonl:1", "(record)", "column 9: not valid JSON: a control character"),
        ("control-in-text.jsonl:2", RESULT, "routine"),
    ],
    "control-in-text.json": [
        ("control-in-text.json", "(file)", "line 1, column 10: not valid JSON: a control character"),
    ],
    "long-values.json": [("long-values.json", "questionnaire", "this response answers 'qqqq")],
    # A record that states stroke signs where it cannot be read: its entry (or its file's) names them.
    "stroke-trailing-comma.jsonl": [
        ("stroke-trailing-comma.jsonl:1", RESULT, "routine"),
        ("stroke-trailing-comma.jsonl:2", "(record)", "column 80: not valid JSON: Expecting property name"),
    ],
    "stroke-latin1.csv": [
        ("stroke-latin1.csv:2", "(record)", f"stroke-latin1.csv:2: column 4: byte 0xe9 {NOT_UTF8}"),
        ("stroke-latin1.csv:3", RESULT, "routine"),
    ],
    "stroke-utf16.csv": [("stroke-utf16.csv", "(file)", f"stroke-utf16.csv: {UTF16}")],
    "stroke-documents.yaml": [
        ("stroke-documents.yaml", "(file)", "line 6, column 1: not valid YAML: a second document (after ---)")
    ],
    "stroke-truncated.yaml": [
        ("stroke-truncated.yaml", "(file)", "stroke-truncated.yaml: line 3, column 1: not valid YAML")
    ],
    "stroke-cr-only.jsonl": [
        (
            "stroke-cr-only.jsonl:1",
            "(record)",
            "more than one record on this line, whose records end with a carriage return alone",
        )
    ],
    "stroke-header-twice.csv": [
        (
            "stroke-header-twice.csv",
            "(file)",
            "stroke-header-twice.csv:1: the header row names red_flags more",
        )
    ],
    "stroke-observation.json": [
        ("stroke-observation.json#entry[0]", RESULT, "routine"),
        ("stroke-observation.json#entry[1]", "resourceType", "a Observation resource holds no answers"),
    ],
    # FHIR: a red flag beside the answers read (nested in an answer, a second value, a contained
    # response, an extension), and a linkId given twice with one unanswered.
    "stroke-outside-answers.json": [
        ("stroke-outside-answers.json#entry[0]", RESULT, "routine"),
        ("stroke-outside-answers.json#entry[1]", "red_flags", "an answer to this question has no nested items"),
        ("stroke-outside-answers.json#entry[2]", "red_flags", "an answer holds one value; got valueCoding"),
        ("stroke-outside-answers.json#entry[3]", "(record)", "this response states stroke_signs outside"),
        ("stroke-outside-answers.json#entry[4]", "(record)", "this response states stroke_signs outside"),
        ("stroke-outside-answers.json#entry[5]", "red_flags", "this linkId is answered more than once"),
    ],
    # A red flag written as a person reads it: full-width, a zero-width space inside, a hyphen, after
    # a pipe, between bidi overrides.
    "stroke-disguised.jsonl": [
        ("stroke-disguised.jsonl:1", RESULT, "routine"),
        ("stroke-disguised.jsonl:2", "red_flags", "is not among the choices"),
        ("stroke-disguised.jsonl:3", "red_flags", "is not among the choices"),
        ("stroke-disguised.jsonl:4", "red_flags", "'stroke-signs' is not among the choices"),
        ("stroke-disguised.jsonl:5", "red_flags", "'none|sudden_face_droop' is not among the choices"),
        ("stroke-disguised.jsonl:6", "Red_Flags", "unknown question id"),
    ],
    # A red flag in the cell of a question not asked (a row shifted by a cell), and red_flags: yes.
    "stroke-shifted-row.csv": [
        ("stroke-shifted-row.csv:2", RESULT, "routine"),
        ("stroke-shifted-row.csv:3", "eye_problems", "its answer names stroke_signs (a choice of red_flags)"),
    ],
    "stroke-yes.yaml": [
        ("stroke-yes.yaml#0", "red_flags", "true is not a list of choices"),
        ("stroke-yes.yaml#1", "red_flags", "false is not a list of choices"),
    ],
    "stroke-not-a-record.jsonl": [
        ("stroke-not-a-record.jsonl:1", "(record)", "a record must be a mapping of question ids to answers"),
        ("stroke-not-a-record.jsonl:2", "(record)", "a record must be a mapping of question ids to answers"),
    ],
}
ALARMED = {
    "cr-only.csv",
    "stroke-trailing-comma.jsonl:2",
    "stroke-latin1.csv:2",
    "stroke-utf16.csv",
    "stroke-truncated.yaml",
    "stroke-documents.yaml",
    "stroke-cr-only.jsonl:1",
    "stroke-header-twice.csv",
    "stroke-observation.json#entry[1]",
    "stroke-not-a-record.jsonl:1",
    "stroke-not-a-record.jsonl:2",
    "merge-key.yaml#1",
    "repeated-key-in-fhir.json#entry[1]",
    "near-miss-red-flags.jsonl:1",
    "near-miss-red-flags.jsonl:2",
    "near-miss-red-flags.jsonl:3",
    "nan.jsonl:1",
    "stroke-disguised.jsonl:2",
    "stroke-disguised.jsonl:3",
    "stroke-disguised.jsonl:4",
    "stroke-disguised.jsonl:5",
    "stroke-disguised.jsonl:6",
    "stroke-shifted-row.csv:3",
    "stroke-yes.yaml#0",
    "stroke-outside-answers.json#entry[1]",
    "stroke-outside-answers.json#entry[2]",
    "stroke-outside-answers.json#entry[3]",
    "stroke-outside-answers.json#entry[4]",
}
"""The error entries of the corpus that state a red flag: each says what it calls for (field `(urgency)`)."""
LEAKS = ["character at", "but found another", "datetime.", "universal-newline", "utf-8-sig", "a number too large?", "got valueInteger", "Decimal("]
"""Words of the parsers and of Python that no message may show."""
LONGEST_ECHO = 120
"""The most characters of a value any message or field shows (a value may be 100 KB long)."""


def evaluate_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "triage", "evaluate", *args],
        cwd=cwd,
        capture_output=True,
        timeout=120,
        check=False,
    )


def peak_of_run(*args: str, cwd: Path) -> tuple[int, float, float, bytes, bytes]:
    """Run `triage evaluate` from a fresh process; its exit code, seconds, peak RSS in MB, stdout, stderr.

    The peak is `getrusage(RUSAGE_CHILDREN)` of that fresh process, whose only
    child is the run, so the other tests' subprocesses do not count.
    """
    probe = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.monotonic()\n"
        "p = subprocess.run([sys.executable, '-m', 'triage', 'evaluate', *sys.argv[1:]], capture_output=True)\n"
        "took = time.monotonic() - t\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "sys.stdout.buffer.write(json.dumps([p.returncode, took, rss]).encode() + b'\\n' + p.stdout)\n"
        "sys.stderr.buffer.write(p.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *args], cwd=cwd, capture_output=True, timeout=300, check=False
    )
    head, _, out = done.stdout.partition(b"\n")
    code, took, rss = json.loads(head)
    return code, took, rss, out, done.stderr


def entries_by_file(out: bytes) -> dict[str, list[dict[str, Any]]]:
    by_file: dict[str, list[dict[str, Any]]] = {}
    for line in out.splitlines():
        entry = json.loads(line)
        by_file.setdefault(entry["source"].split(":")[0].split("#")[0], []).append(entry)
    return by_file


def check_entries(name: str, entries: list[dict[str, Any]]) -> None:
    expected = CASES[name]
    assert [e["source"] for e in entries] == [source for source, _, _ in expected], name
    for entry, (source, field, said) in zip(entries, expected, strict=True):
        if field is RESULT:
            assert entry["urgency"] == said, source
            assert "see a doctor" in entry["disclaimer"].lower()
            continue
        assert "urgency" not in entry, source
        first = entry["errors"][0]
        assert first["field"] == field, source
        assert said in first["message"], (source, first["message"])


def test_every_fixture_has_a_case() -> None:
    """Every file in the corpus has its expected entries here, and every case has its file."""
    assert sorted(p.name for p in HOSTILE.iterdir()) == sorted(CASES)


def test_the_cli_gives_each_hostile_file_its_error_entries() -> None:
    """`triage evaluate` over the whole corpus: every file's entries in order, exit 1, no traceback, bounded."""
    code, took, rss, out, err = peak_of_run(*sorted(CASES), "--format", "jsonl", cwd=HOSTILE)
    assert code == 1, err
    assert b"Traceback" not in err
    by_file = entries_by_file(out)
    assert sorted(by_file) == sorted(CASES)
    for name, entries in by_file.items():
        check_entries(name, entries)
    assert took < TIME_LIMIT_S
    assert rss < MEMORY_LIMIT_MB
    # The summary counts the files that could not be read at all.
    whole = sum(1 for cases in CASES.values() if cases[0][1] == "(file)")
    assert f"{len(CASES)} files ({whole} could not be read)" in err.decode()


def test_corpus_messages_say_what_red_flags_call_for_and_leak_nothing() -> None:
    """An error entry that states a red flag carries its (urgency) note, and no other does; no message
    shows a parser's or Python's words, and none echoes a long value at length."""
    done = evaluate_cli(*sorted(CASES), "--format", "jsonl", cwd=HOSTILE)
    entries = [json.loads(line) for line in done.stdout.splitlines()]
    noted = {e["source"] for e in entries if any(p["field"] == "(urgency)" for p in e.get("errors", []))}
    assert noted == ALARMED
    for entry in entries:
        for problem in entry.get("errors", []):
            for leak in LEAKS:
                assert leak not in problem["message"], (entry["source"], problem)
            assert len(problem["field"]) <= LONGEST_ECHO, entry["source"]
            assert not any(c * LONGEST_ECHO in problem["message"] for c in "lqsxy"), entry["source"]


@pytest.mark.parametrize("fmt", ["text", "csv", "markdown", "json"])
def test_every_output_format_survives_the_corpus(fmt: str) -> None:
    """Every output format writes the corpus's entries without a traceback, each file named."""
    done = evaluate_cli(*sorted(CASES), "--format", fmt, cwd=HOSTILE)
    assert done.returncode == 1
    assert b"Traceback" not in done.stderr
    out = done.stdout.decode()
    for name in CASES:
        assert name in out


def read_items(path: Path, pack: triage.RulePack | None = None) -> list[Item]:
    """What the library readers make of a file: its records, `Unreadable`s and `Rejected`s, in order."""
    fmt = EXTENSIONS[path.suffix]
    name = path.name
    pack = pack or triage.load_rulepack()
    items: list[Item] = []
    with path.open("rb") as stream:
        if fmt in ("json", "yaml"):
            data = read_all(stream)
            if fmt == "yaml":
                items.extend(read_yaml(data, name, pack))
            else:
                items.extend(read_json(data, name, pack))
        elif fmt == "csv":
            lines = bounded_lines(stream)
            header = read_csv_header(lines, name)
            if isinstance(header, Unreadable):
                return [(name, header)]
            items.extend(read_csv_rows(lines, header, name, header.lines + 1))
        else:
            for number, line in enumerate(bounded_lines(stream), 1):
                source = f"{name}:{number}"
                try:
                    items.append((source, exact_record(line, orjson.loads(line), source, pack)))
                except orjson.JSONDecodeError:
                    problem = jsonl_problem(line, f"{name}:{number}", pack)
                    if problem is not None:
                        items.append((f"{name}:{number}", problem))
    return items


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_library_readers_give_each_hostile_file_its_entries(name: str, pack: triage.RulePack) -> None:
    """The readers turn each fixture into the same sources and problems as the command, quickly."""
    started = time.monotonic()
    items = read_items(HOSTILE / name, pack)
    entries: list[dict[str, Any]] = []
    for source, item in items:
        if isinstance(item, Unreadable):
            first = {"field": item.field, "message": item.message}
            entries.append({"source": source, "errors": [first, *(p.model_dump() for p in item.notes)]})
        elif isinstance(item, Rejected):
            entries.append({"source": source, "errors": [p.model_dump() for p in item.problems]})
        else:
            (outcome,) = triage.evaluate_many([item], rulepack=pack)
            entries.append({**json.loads(outcome.model_dump_json()), "source": source})
    check_entries(name, entries)
    assert time.monotonic() - started < TIME_LIMIT_S


def test_a_python_tag_never_runs(tmp_path: Path) -> None:
    """A YAML tag that would run a command is refused by the command and the library, and nothing runs."""
    marker = tmp_path / "ran"
    for number, tag in enumerate(
        [
            f'!!python/object/apply:os.system ["touch {marker}"]',
            f'!!python/object/apply:subprocess.call [["touch", "{marker}"]]',
            f"!!python/object/new:pathlib.Path.touch [{marker}]",
        ]
    ):
        path = tmp_path / f"tag{number}.yaml"
        path.write_text(f"red_flags: {tag}\ncause: fshd\nseverity: mild\n")
        done = evaluate_cli(path.name, "--format", "jsonl", cwd=tmp_path)
        assert done.returncode == 1
        assert b"Traceback" not in done.stderr
        (entry,) = [json.loads(line) for line in done.stdout.splitlines()]
        assert TAG in entry["errors"][0]["message"]
        (item,) = read_items(path)
        assert isinstance(item[1], Unreadable)
        assert TAG in item[1].message
    assert not marker.exists()


def test_an_alias_bomb_stays_small_in_every_output_format(tmp_path: Path) -> None:
    """A billion-laughs YAML file gives its error entry in bounded memory and time, whatever the format."""
    worst = 0.0
    for fmt in ("jsonl", "text", "csv", "markdown"):
        code, took, rss, out, err = peak_of_run(
            str(HOSTILE / "alias-bomb.yaml"), "--format", fmt, cwd=tmp_path
        )
        assert code == 1, err
        assert b"Traceback" not in err
        assert COPIES.encode() in out
        assert took < TIME_LIMIT_S
        worst = max(worst, rss)
    assert worst < MEMORY_LIMIT_MB


def test_a_100_mb_line_is_skipped_unread(tmp_path: Path) -> None:
    """A 100 MB line is an error entry with its size, the next record still evaluated, memory far below 100 MB.

    The same file named .json and .yaml is over the size limit of a file read whole: refused after
    reading no more than the limit.
    """
    big = tmp_path / "big.jsonl"
    with big.open("wb") as out:
        out.write(b'{"id": "')
        block = b"a" * (1 << 20)
        for _ in range(100):
            out.write(block)
        out.write(b'"}\n{"id": "next", "red_flags": [], "cause": "fshd", "severity": "mild"}\n')
    for suffix in (".csv", ".json", ".yaml"):
        (tmp_path / f"big{suffix}").symlink_to(big)
    code, took, rss, out, err = peak_of_run(
        "big.jsonl", "big.csv", "big.json", "big.yaml", "--format", "jsonl", cwd=tmp_path
    )
    assert code == 1, err
    assert b"Traceback" not in err
    entries = [json.loads(line) for line in out.splitlines()]
    line = len(b'{"id": "') + 100 * len(block) + len(b'"}')
    too_long = f"this line is {line:,} bytes long, longer than the longest record allowed (1 MiB)"
    assert [e["source"] for e in entries] == ["big.jsonl:1", "big.jsonl:2", "big.csv", "big.json", "big.yaml"]
    assert too_long in entries[0]["errors"][0]["message"]
    assert entries[1]["id"] == "next"
    assert entries[1]["urgency"] == "routine"
    assert entries[2]["errors"][0]["message"] == f"big.csv:1: {too_long}; it was skipped unread."
    assert entries[3]["errors"][0]["message"].startswith(
        f"big.json: more than {MAX_JSON_FILE_BYTES:,} bytes, larger than the largest JSON file read whole"
    )
    assert entries[4]["errors"][0]["message"].startswith(
        f"big.yaml: more than {MAX_YAML_FILE_BYTES:,} bytes, larger than the largest YAML file read whole"
    )
    assert took < TIME_LIMIT_S
    assert rss < MEMORY_LIMIT_MB


def test_a_csv_row_line_over_the_limit_in_the_middle(tmp_path: Path) -> None:
    """A CSV data line over the limit is one error entry naming its line; the rows around it are evaluated."""
    path = tmp_path / "rows.csv"
    path.write_bytes(
        b"id,red_flags,cause,severity\n"
        b"a,none,fshd,mild\n" + b"b,none,fshd," + b"x" * (MAX_RECORD_BYTES + 10) + b"\nc,none,opmd,mild\n"
    )
    done = evaluate_cli(path.name, "--format", "jsonl", cwd=tmp_path)
    assert done.returncode == 1
    entries = [json.loads(line) for line in done.stdout.splitlines()]
    assert [e["source"] for e in entries] == ["rows.csv:2", "rows.csv:3", "rows.csv:4"]
    assert [e.get("id") for e in entries] == ["a", None, "c"]
    assert "rows.csv:3: this line is 1,048,598 bytes long" in entries[1]["errors"][0]["message"]


@pytest.mark.parametrize(
    ("data", "lines"),
    [
        (b"", []),
        (b"0123456789\n", [b"0123456789\n"]),
        (b"0123456789", [b"0123456789"]),
        (b"0123456789a\n", [b"0123456789a\n"]),
        (b"0123456789ab\nok\n", [b"\n\x00too long:12\n", b"ok\n"]),
        (b"0123456789ab", [b"\n\x00too long:12\n"]),
        (b"0123456789ab\r\n", [b"\n\x00too long:13\n"]),
        (b"a\n\nb", [b"a\n", b"\n", b"b"]),
        (b"\x00too long:5\n", [b"\x00too long:5\n"]),
    ],
)
def test_bounded_lines_keeps_lines_up_to_the_limit(data: bytes, lines: list[bytes]) -> None:
    """Lines up to the limit (the newline not counted) come as iterating the file gives them; longer ones are replaced."""
    assert list(bounded_lines(io.BytesIO(data), limit=11)) == lines


def test_stdin_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    """YAML on standard input over the limit is refused after reading no more than the limit."""
    data = b"- {red_flags: none, cause: fshd, severity: mild}\n" * (MAX_YAML_FILE_BYTES // 40)
    done = subprocess.run(
        [sys.executable, "-m", "triage", "evaluate", "-", "--input-format", "yaml", "--format", "jsonl"],
        input=data,
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    (entry,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert entry["errors"][0]["message"].startswith(
        f"<stdin>: more than {MAX_YAML_FILE_BYTES:,} bytes, larger than the largest YAML file read whole"
    )


def test_a_file_at_its_size_limit_is_read_one_byte_more_is_refused(tmp_path: Path) -> None:
    """A JSON or YAML file of exactly its largest size is read; one byte more is refused as the file."""
    record = b'{"red_flags": [], "cause": "fshd", "severity": "mild"}'
    for name, limit in (("at-limit.json", MAX_JSON_FILE_BYTES), ("at-limit.yaml", MAX_YAML_FILE_BYTES)):
        path = tmp_path / name
        path.write_bytes(record + b" " * (limit - len(record)))
        (item,) = read_items(path)
        assert item == (name, {"red_flags": [], "cause": "fshd", "severity": "mild"})
        path.write_bytes(record + b" " * (limit - len(record) + 1))
        (item,) = read_items(path)
        assert isinstance(item[1], Unreadable)
        assert item[1].whole_file


@pytest.mark.parametrize(("suffix", "limit"), [(".json", MAX_JSON_DEPTH), (".yaml", MAX_YAML_DEPTH)])
def test_nesting_up_to_the_parser_limit_is_an_answer_error_beyond_it_a_file_error(
    tmp_path: Path, suffix: str, limit: int
) -> None:
    """A value nested to the limit is read and refused as an answer; one level more is refused as the file."""
    path = tmp_path / f"deep{suffix}"
    inside = limit - 1  # the record itself is the first level
    path.write_bytes(
        b'{"red_flags": ' + b"[" * inside + b"]" * inside + b', "cause": "fshd", "severity": "mild"}'
    )
    (item,) = read_items(path)
    assert isinstance(item[1], dict)
    (outcome,) = triage.evaluate_many([item[1]])
    assert isinstance(outcome, triage.RecordError)
    assert outcome.errors[0].field == "red_flags"
    path.write_bytes(
        b'{"red_flags": '
        + b"[" * (inside + 1)
        + b"]" * (inside + 1)
        + b', "cause": "fshd", "severity": "mild"}'
    )
    (item,) = read_items(path)
    assert isinstance(item[1], Unreadable)
    assert "deep" in item[1].message or "depth" in item[1].message


# -- one record's entry is bounded, and YAML aliases cannot amplify a file -----------------------------

ENTRY_LIMIT = 8 << 10
"""The longest entry a bounded record gives here (20 problems of a kind, each message about 200 bytes)."""
YAML_MEMORY_LIMIT_MB = 160
"""Peak RSS of a run over a YAML file at its size limit (about 120 MB for 19,000 plain records)."""


def _stroke_note(entry: dict[str, Any]) -> bool:
    return any(p["field"] == "(urgency)" and "stroke_signs" in p["message"] for p in entry.get("errors", []))


def _filled(head: str, line: str) -> str:
    """`head`, then `line` as many times as a YAML file at its size limit holds."""
    return head + line * ((MAX_YAML_FILE_BYTES - len(head)) // len(line))


def alias_shapes() -> dict[str, tuple[str, int]]:
    """YAML files whose aliases would copy a large value into many records: (text, records)."""
    choices = "- &L [" + ",".join(["a"] * 60_000) + "]\n"
    keys = "- &M {" + ",".join(f"k{i}: 1" for i in range(40_000)) + "}\n"
    text = "- &S " + "stroke_signs;" + "x" * 400_000 + "\n"
    stroke = "- &R {id: r, red_flags: [stroke_signs], cause: fshd, severity: mild}\n"
    shapes = {
        # the review's example: 2,000 aliases of one record of 5,000 unknown keys
        "many-keys": ("- &r\n" + "".join(f"  k{i}: v\n" for i in range(5000)) + "- *r\n" * 2000, 2001),
        "shared-list": (_filled(choices, "- {red_flags: *L, cause: fshd, severity: mild}\n"), 0),
        "shared-mapping": (_filled(keys, "- {red_flags: *M}\n"), 0),
        "shared-text": (_filled(text, "- {x: *S, red_flags: [], y: 1}\n"), 0),
        "stroke-records": (_filled(stroke, "- *R\n"), 0),
    }
    return {name: (text, count or text.count("\n- ") + 1) for name, (text, count) in shapes.items()}


@pytest.mark.parametrize("shape", sorted(alias_shapes()))
def test_yaml_aliases_cannot_amplify_a_file(tmp_path: Path, shape: str) -> None:
    """Aliases that would copy a large value into every record of a file: one entry per record, each
    small, in bounded time and memory; a record that states stroke signs through an alias says so."""
    text, records = alias_shapes()[shape]
    (tmp_path / f"{shape}.yaml").write_text(text, encoding="utf-8")
    assert len(text) <= MAX_YAML_FILE_BYTES
    code, took, rss, out, err = peak_of_run(f"{shape}.yaml", "--format", "jsonl", cwd=tmp_path)
    assert code == 1, err
    assert b"Traceback" not in err
    lines = out.splitlines()
    assert len(lines) == records
    assert max(map(len, lines)) < ENTRY_LIMIT
    entries = [json.loads(line) for line in lines]
    if shape in ("shared-text", "stroke-records"):
        assert all(e.get("urgency") == "emergency" or _stroke_note(e) for e in entries)
    if shape == "stroke-records":
        assert any(COPIES in e["errors"][0]["message"] for e in entries if "errors" in e)
    assert took < TIME_LIMIT_S
    assert rss < YAML_MEMORY_LIMIT_MB


def _fhir_items(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "QuestionnaireResponse", "status": "completed", "item": items}


STROKE_ITEM = {"linkId": "red_flags", "answer": [{"valueCoding": {"code": "stroke_signs"}}]}
BOUNDED = {
    "unknown keys (JSON)": (
        "many.json",
        json.dumps({**{f"k{i}": "v" for i in range(5000)}, "Red_Flags": ["stroke_signs"]}),
        "keys that are not question ids",
        5001,
    ),
    "keys that are not text (YAML)": (
        "many.yaml",
        "".join(f"{i}: v\n" for i in range(5000)) + "Red_Flags: [stroke_signs]\n",
        "keys that are not question ids",
        5001,
    ),
    "keys given twice (JSON)": (
        "twice.json",
        "{" + ", ".join(f'"k{i}": 1, "k{i}": 2' for i in range(5000)) + ', "Red_Flags": ["stroke_signs"]}',
        "unclear keys",
        5000,
    ),
    "nested keys given twice (YAML)": (
        "twice.yaml",
        "".join(f"k{i}: {{a: 1, a: 2}}\n" for i in range(5000)) + "Red_Flags: [stroke_signs]\n",
        "unclear keys",
        5000,
    ),
    "unknown linkIds (FHIR)": (
        "links.json",
        json.dumps(_fhir_items([*({"linkId": f"q{i}"} for i in range(5000)), STROKE_ITEM])),
        "unknown linkIds",
        5000,
    ),
    "items without a linkId (FHIR)": (
        "unlinked.json",
        json.dumps(_fhir_items([*({"text": "?"} for _ in range(5000)), STROKE_ITEM])),
        "items without a linkId",
        5000,
    ),
    "linkIds answered again (FHIR)": (
        "again.json",
        json.dumps(_fhir_items([STROKE_ITEM] * 5001)),
        "items answering a linkId answered before",
        5000,
    ),
}


@pytest.mark.parametrize("case", sorted(BOUNDED))
def test_an_error_entry_names_at_most_so_many_problems_of_a_kind(tmp_path: Path, case: str) -> None:
    """5,000 problems of one kind or more: the first MAX_PROBLEMS_OF_A_KIND are named, one more says how many
    more there were, and the (urgency) note of the red flag stated after them all is never cut."""
    name, text, kind, count = BOUNDED[case]
    (tmp_path / name).write_text(text, encoding="utf-8")
    done = evaluate_cli(name, "--format", "jsonl", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    (line,) = done.stdout.splitlines()
    assert len(line) < ENTRY_LIMIT
    problems = json.loads(line)["errors"]
    (more,) = [p for p in problems if p["message"].startswith("and ")]
    assert kind in more["message"]
    assert f"and {count - MAX_PROBLEMS_OF_A_KIND:,} more" in more["message"]
    assert len(problems) <= MAX_PROBLEMS_OF_A_KIND + 4
    assert problems[-1]["field"] == "(urgency)"
    assert "EMERGENCY" in problems[-1]["message"]
