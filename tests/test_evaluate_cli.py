"""`triage evaluate` as a person runs it: the real command in a subprocess."""

from __future__ import annotations

import csv
import io
import json
import os
import resource
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from streams import assert_failing_output_is_reported

DATA = Path(__file__).parent / "data"
FSHD = {"red_flags": [], "cause": "fshd", "severity": "mild"}
PARALYSIS = {
    "red_flags": "none",
    "cause": "peripheral_facial_paralysis",
    "severity": "moderate",
    "months_since_paralysis": 2,
    "treated_early": "not_sure",
    "eye_problems": "none",
}
BAD = {"red_flags": [], "cause": "fshd", "severity": "sever"}


def triage(*args: str, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "triage", "evaluate", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
    )


def jsonl(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.splitlines()]


def write_jsonl(path: Path, records: list[object]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


# -- formats in ----------------------------------------------------------------------------------------


def test_every_input_format_with_its_sources(tmp_path: Path) -> None:
    """JSON object, JSON list, JSON Lines, YAML mapping, YAML list and CSV are read, each record named by its source."""
    (tmp_path / "one.json").write_text(json.dumps({"id": "a", **FSHD}))
    (tmp_path / "many.json").write_text(json.dumps([FSHD, PARALYSIS]))
    write_jsonl(tmp_path / "day1.jsonl", [FSHD, PARALYSIS])
    (tmp_path / "one.yaml").write_text("red_flags: none\ncause: fshd\nseverity: mild\n")
    (tmp_path / "list.yml").write_text(
        "- {red_flags: [], cause: other, severity: mild, worsening: no, related_findings: none}\n"
        "- {red_flags: [stroke_signs]}\n"
    )
    (tmp_path / "answers.csv").write_text("id,red_flags,cause,severity\nr1,none,opmd,severe\n")
    files = ["one.json", "many.json", "day1.jsonl", "one.yaml", "list.yml", "answers.csv"]
    done = triage(*files, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    entries = jsonl(done.stdout)
    assert [e["source"] for e in entries] == [
        "one.json",
        "many.json#0",
        "many.json#1",
        "day1.jsonl:1",
        "day1.jsonl:2",
        "one.yaml",
        "list.yml#0",
        "list.yml#1",
        "answers.csv:2",
    ]
    assert [e["urgency"] for e in entries] == [
        "routine",
        "routine",
        "soon",
        "routine",
        "soon",
        "routine",
        "routine",
        "emergency",
        "routine",
    ]
    assert entries[0]["id"] == "a"
    assert entries[-1]["id"] == "r1"
    assert entries[6]["prognosis"]["category"] == "recoverable"  # YAML's unquoted no read as "no"


def test_spreadsheet_csv_evaluates_without_editing(tmp_path: Path) -> None:
    """A spreadsheet export (BOM, CRLF, none cells, empty cells, a blank row) evaluates as it is."""
    done = triage(str(DATA / "spreadsheet.csv"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    entries = jsonl(done.stdout)
    assert [e["id"] for e in entries] == [f"resp-{n}" for n in range(1, 7)]
    assert [e["source"].rsplit(":", 1)[1] for e in entries] == ["2", "3", "4", "5", "6", "7"]
    assert [(e["urgency"], e["prognosis"]["category"]) for e in entries] == [
        ("soon", "uncertain"),
        ("routine", "progressive"),
        ("emergency", "not_assessed"),
        ("routine", "may_not_fully_recover"),
        ("soon", "uncertain"),
        ("routine", "difficult"),
    ]
    assert all(e["warnings"] == [] for e in entries)


def test_semicolon_separated_csv(tmp_path: Path) -> None:
    """A CSV whose header uses ; (as spreadsheets do in some locales) is read with that separator."""
    (tmp_path / "eu.csv").write_text('id;red_flags;cause;severity\nx;"stroke_signs;sudden_onset";;\n')
    done = triage("eu.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert jsonl(done.stdout)[0]["urgency"] == "emergency"


def test_directories_are_searched_recursively_in_order(tmp_path: Path) -> None:
    """A folder gives every answer file under it, sorted, and skips other files."""
    (tmp_path / "in" / "sub").mkdir(parents=True)
    write_jsonl(tmp_path / "in" / "b.jsonl", [FSHD])
    (tmp_path / "in" / "sub" / "c.json").write_text(json.dumps(FSHD))
    (tmp_path / "in" / "a.yaml").write_text("red_flags: none\ncause: fshd\nseverity: mild\n")
    (tmp_path / "in" / "notes.txt").write_text("not answers")
    done = triage("in", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [e["source"] for e in jsonl(done.stdout)] == [
        os.path.join("in", "a.yaml"),
        os.path.join("in", "b.jsonl") + ":1",
        os.path.join("in", "sub", "c.json"),
    ]


def test_stdin_needs_and_uses_input_format(tmp_path: Path) -> None:
    """`-` reads standard input in the --input-format given, named <stdin>; without one, a usage error."""
    data = orjson.dumps(FSHD) + b"\n" + orjson.dumps(BAD) + b"\n"
    done = triage("-", "--input-format", "jsonl", cwd=tmp_path, stdin=data)
    assert done.returncode == 1
    assert [e["source"] for e in jsonl(done.stdout)] == ["<stdin>:1", "<stdin>:2"]
    refused = triage("-", cwd=tmp_path, stdin=data)
    assert refused.returncode == 2
    assert b"--input-format" in refused.stderr


# -- formats out ---------------------------------------------------------------------------------------


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "mixed.jsonl", [{"id": "ok", **FSHD}, {"id": "bad", **BAD}, PARALYSIS])


def test_json_output_is_one_list(mixed: Path) -> None:
    """--format json gives one JSON list with an entry per record, in order."""
    done = triage(mixed.name, "--format", "json", cwd=mixed.parent)
    entries = json.loads(done.stdout)
    assert [e["source"] for e in entries] == ["mixed.jsonl:1", "mixed.jsonl:2", "mixed.jsonl:3"]
    assert entries[1]["errors"][0]["field"] == "severity"
    assert "disclaimer" in entries[0]


def test_compact_leaves_texts_out_but_keeps_the_disclaimer(mixed: Path) -> None:
    """--compact keeps ids (as lists), categories and the disclaimer, not the texts."""
    entry = jsonl(triage(mixed.name, "--compact", cwd=mixed.parent).stdout)[2]
    assert entry["prognosis"] == {"category": "uncertain"}
    assert entry["suggestions"][:2] == ["prompt_treatment", "rehabilitation"]
    full = jsonl(triage(mixed.name, cwd=mixed.parent).stdout)[2]
    assert entry["explanation"] == [step["rule"] for step in full["explanation"]]
    assert "urgency_advice" not in entry
    assert "see a doctor" in entry["disclaimer"]


def test_csv_output_has_one_row_per_record(mixed: Path) -> None:
    """-o FILE.csv writes CSV: id, source, urgency, prognosis, suggestion ids, warnings, errors."""
    done = triage(mixed.name, "-o", "out.csv", cwd=mixed.parent)
    assert done.returncode == 1
    rows = list(csv.DictReader(io.StringIO((mixed.parent / "out.csv").read_text())))
    assert [r["id"] for r in rows] == ["ok", "bad", ""]
    assert rows[0]["prognosis"] == "progressive"
    assert rows[0]["suggestions"] == "hereditary_management;daily_face_care"
    assert rows[1]["urgency"] == ""
    assert rows[1]["errors"].startswith("severity: ")
    assert rows[2]["source"] == "mixed.jsonl:3"


@pytest.mark.parametrize(
    ("fmt", "marks"),
    [("text", ["mixed.jsonl:1", "IMPORTANT:"]), ("markdown", ["# mixed.jsonl:1", "### Why"])],
)
def test_text_and_markdown_name_each_record(mixed: Path, fmt: str, marks: list[str]) -> None:
    """Text and Markdown output show every record under its source, errors in words."""
    out = triage(mixed.name, "--format", fmt, cwd=mixed.parent).stdout.decode()
    for mark in marks:
        assert mark in out
    assert "mixed.jsonl:2" in out
    assert "Not evaluated" in out
    assert out.index("mixed.jsonl:1") < out.index("mixed.jsonl:2") < out.index("mixed.jsonl:3")


def test_summary_goes_to_stderr(mixed: Path) -> None:
    """The summary (files, records, valid, invalid, per urgency and prognosis) is on stderr, not in the output."""
    done = triage(mixed.name, cwd=mixed.parent)
    summary = done.stderr.decode()
    assert "1 file, 3 records: 2 valid, 1 invalid." in summary
    assert "routine 1" in summary
    assert "soon 1" in summary
    assert "progressive 1" in summary
    assert "\r" not in summary  # no progress bar when stderr is not a terminal
    assert b"records" not in done.stdout


# -- bad input -----------------------------------------------------------------------------------------


BAD_FILES: list[tuple[str, bytes, str]] = [
    (
        "bytes.jsonl",
        orjson.dumps(FSHD) + b'\n{"id": "caf\xe9"}\n',
        "bytes.jsonl:2: column 12: byte 0xe9 is not UTF-8",
    ),
    ("bytes.json", b'{"id": "caf\xe9"}', "bytes.json:1: column 12: byte 0xe9 is not UTF-8"),
    ("malformed.json", b'{\n  "red_flags": [],\n  "cause": fshd\n}', "malformed.json: line 3, column"),
    (
        "malformed.jsonl",
        orjson.dumps(FSHD) + b'\n{"red_flags": [}\n',
        "malformed.jsonl:2: column 16: not valid JSON",
    ),
    ("malformed.yaml", b"red_flags: []\ncause: [fshd\n", "malformed.yaml: line 3, column 1: not valid YAML"),
    (
        "open.csv",
        b'id,red_flags\n"x,none\n',
        'open.csv:2: column 1: this quoted cell (opened with ") is never closed',
    ),
    (
        "quote.csv",
        b'id,red_flags\nx,"none"x\n',
        'quote.csv:2: column 9: a " inside a quoted cell must be written twice',
    ),
    (
        "ragged.csv",
        b"id,red_flags,cause,severity\nx,none,fshd,mild,extra\n",
        "ragged.csv:2: this row has 5 cells but the header row has 4",
    ),
    ("empty.json", b"", "empty.json: the file is empty"),
    ("empty.jsonl", b"\n\n", "empty.jsonl: the file is empty"),
    ("empty.csv", b"", "empty.csv: the file is empty"),
    ("header.csv", b"id,red_flags\n", "header.csv: a header row but no records"),
    ("list.jsonl", b'["red_flags"]\n', "a record must be a mapping of question ids to answers, not a list"),
    ("scalar.yaml", b"just text\n", "a record must be a mapping"),
    ("lines.json", orjson.dumps(FSHD) + b"\n" + orjson.dumps(FSHD) + b"\n", "name the file .jsonl"),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_file_gives_an_error_entry_and_others_go_on(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    """Each kind of bad file gives an error entry naming where, and the next file is still evaluated."""
    (tmp_path / name).write_bytes(content)
    write_jsonl(tmp_path / "good.jsonl", [FSHD])
    done = triage(name, "good.jsonl", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    entries = jsonl(done.stdout)
    errors = [p["message"] for e in entries for p in e.get("errors", [])]
    assert any(message in m for m in errors), errors
    assert entries[-1]["source"] == "good.jsonl:1"
    assert entries[-1]["urgency"] == "routine"


@pytest.mark.parametrize("name", ["bom.json", "bom.jsonl", "bom.yaml", "bom.csv"])
def test_utf8_bom_is_accepted(tmp_path: Path, name: str) -> None:
    """A UTF-8 byte order mark at the start of any answer file is accepted."""
    body = {
        "bom.json": json.dumps(FSHD),
        "bom.jsonl": json.dumps(FSHD) + "\n",
        "bom.yaml": "red_flags: none\ncause: fshd\nseverity: mild\n",
        "bom.csv": "red_flags,cause,severity\nnone,fshd,mild\n",
    }[name]
    (tmp_path / name).write_bytes(b"\xef\xbb\xbf" + body.encode())
    done = triage(name, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert jsonl(done.stdout)[0]["prognosis"]["category"] == "progressive"


def test_missing_file_is_a_usage_error_but_others_are_evaluated(tmp_path: Path) -> None:
    """A path that does not exist is named on stderr, exit 2, and the other files are still written."""
    write_jsonl(tmp_path / "good.jsonl", [FSHD])
    done = triage("nope.jsonl", "good.jsonl", cwd=tmp_path)
    assert done.returncode == 2
    assert b"nope.jsonl: no such file or folder" in done.stderr
    assert len(jsonl(done.stdout)) == 1


def test_folder_without_answer_files_is_a_usage_error(tmp_path: Path) -> None:
    """A folder with no answer files in it is reported, exit 2."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    done = triage("empty", cwd=tmp_path)
    assert done.returncode == 2
    assert b"empty: a folder with no answer files" in done.stderr


def test_unknown_extension_needs_input_format(tmp_path: Path) -> None:
    """A file whose format cannot be told from its name is a usage error; --input-format reads it."""
    (tmp_path / "answers.txt").write_text(json.dumps(FSHD))
    assert triage("answers.txt", cwd=tmp_path).returncode == 2
    done = triage("answers.txt", "--input-format", "json", cwd=tmp_path)
    assert done.returncode == 0
    assert jsonl(done.stdout)[0]["source"] == "answers.txt"


@pytest.mark.parametrize(
    ("records", "code"),
    [([FSHD, PARALYSIS], 0), ([FSHD, BAD], 1), ([{"id": 1.5, **FSHD}], 1)],
    ids=["all-valid", "some-invalid", "bad-id"],
)
def test_exit_codes(tmp_path: Path, records: list[object], code: int) -> None:
    """Exit 0 when every record is valid, 1 when some are not (all still written)."""
    write_jsonl(tmp_path / "a.jsonl", records)
    done = triage("a.jsonl", cwd=tmp_path)
    assert done.returncode == code
    assert len(jsonl(done.stdout)) == len(records)


# -- output file ---------------------------------------------------------------------------------------


def test_output_file_replaces_target_only_when_complete(tmp_path: Path) -> None:
    """-o writes the whole output under the target name, replacing an older file, with no temporary left."""
    write_jsonl(tmp_path / "a.jsonl", [FSHD, PARALYSIS])
    (tmp_path / "out.jsonl").write_text("old\n")
    done = triage("a.jsonl", "-o", "out.jsonl", cwd=tmp_path)
    assert done.returncode == 0
    assert len(jsonl((tmp_path / "out.jsonl").read_bytes())) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "out.jsonl"]


def test_output_inside_an_input_folder_is_not_read(tmp_path: Path) -> None:
    """The output file is never read as input, even in a folder being evaluated; once it exists, it is
    an answer file of that folder like any other, and a run that would replace it is refused."""
    write_jsonl(tmp_path / "a.jsonl", [FSHD])
    assert triage(".", "-o", "out.jsonl", cwd=tmp_path).returncode == 0
    results = (tmp_path / "out.jsonl").read_bytes()
    assert len(jsonl(results)) == 1
    again = triage(".", "-o", "out.jsonl", cwd=tmp_path)
    assert again.returncode == 2
    assert b"that is the answer file ./out.jsonl, which this run reads" in again.stderr
    assert (tmp_path / "out.jsonl").read_bytes() == results


def _running(marker: str) -> list[str]:
    """The processes whose command line names `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in command:
            found.append(entry.name)
    return found


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_killed_run_leaves_no_file_under_the_target_name(tmp_path: Path, how: int, jobs: str) -> None:
    """A run killed mid-way leaves the target as it was (no partial output under its name), and
    no worker process behind it."""
    line = orjson.dumps(PARALYSIS)
    (tmp_path / "big.jsonl").write_bytes((line + b"\n") * 400_000)
    (tmp_path / "kept.jsonl").write_text("old\n")
    for target in ("new.jsonl", "kept.jsonl"):
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "triage",
                "evaluate",
                str(tmp_path / "big.jsonl"),
                "-o",
                target,
                "--jobs",
                jobs,
            ],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while not any(p.name.startswith(f".{target}.") and p.stat().st_size for p in tmp_path.iterdir()):
            assert process.poll() is None, "finished before it could be interrupted"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        process.send_signal(how)
        process.wait(timeout=60)
        assert process.returncode != 0
    assert not (tmp_path / "new.jsonl").exists()
    assert (tmp_path / "kept.jsonl").read_text() == "old\n"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")]
    assert len(leftovers) == (2 if how == signal.SIGKILL else 0)
    deadline = time.monotonic() + 30
    while _running(str(tmp_path / "big.jsonl")):  # a worker whose parent was killed stops by itself
        assert time.monotonic() < deadline, "a worker process was left running"
        time.sleep(0.05)


def test_a_reader_that_goes_away_is_no_error_with_jobs(tmp_path: Path) -> None:
    """`triage evaluate big.jsonl --jobs 2 | head -1`: one line out, and no error from any process."""
    (tmp_path / "big.jsonl").write_bytes((orjson.dumps(PARALYSIS) + b"\n") * 200_000)
    done = subprocess.run(
        f"{shlex.quote(sys.executable)} -m triage evaluate big.jsonl --jobs 2 2>errors | head -1",
        shell=True,
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert len(jsonl(done.stdout)) == 1
    assert (tmp_path / "errors").read_bytes() == b""
    assert not _running(str(tmp_path))


def test_default_format_follows_the_output_name(tmp_path: Path) -> None:
    """Without --format, -o x.json writes a JSON list and a pipe gets JSON Lines."""
    write_jsonl(tmp_path / "a.jsonl", [FSHD, FSHD])
    triage("a.jsonl", "-o", "x.json", cwd=tmp_path)
    assert len(json.loads((tmp_path / "x.json").read_bytes())) == 2
    assert len(jsonl(triage("a.jsonl", cwd=tmp_path).stdout)) == 2


# -- several processes ---------------------------------------------------------------------------------


def _many(count: int) -> list[dict[str, object]]:
    variants: list[dict[str, object]] = [
        FSHD,
        PARALYSIS,
        BAD,
        {"red_flags": ["sudden_onset"]},
        {"cause": "x"},
    ]
    return [
        {"id": f"r{n}\u00e9", **variants[n % len(variants)], "months_since_paralysis": n % 50}
        for n in range(count)
    ]


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_jobs_output_is_identical_to_one_process(tmp_path: Path, fmt: str) -> None:
    """--jobs 2 writes byte for byte what one process writes, from JSON Lines and from CSV."""
    records = _many(12_000)
    write_jsonl(tmp_path / "a.jsonl", records)
    with (tmp_path / "b.csv").open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "red_flags", "cause", "severity", "months_since_paralysis"])
        for n, r in enumerate(records):
            # quoted cells with line breaks in them must not be cut apart
            writer.writerow([f"line\nbreak {n}" if n % 7 == 0 else r["id"], "none", "fshd", "mild", ""])
    for inputs in (["a.jsonl", "b.csv"], ["b.csv"]):
        one = triage(*inputs, "--format", fmt, cwd=tmp_path)
        for jobs in ("2", "3"):
            more = triage(*inputs, "--format", fmt, "--jobs", jobs, cwd=tmp_path)
            assert one.returncode == more.returncode
            assert one.stdout == more.stdout
            assert one.stderr == more.stderr
    if fmt == "jsonl":
        assert len(jsonl(triage("a.jsonl", "b.csv", "--jobs", "2", cwd=tmp_path).stdout)) == 2 * len(records)


def test_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    """A long run into a pipe or file shows a progress bar on stderr when stderr is a terminal."""
    pexpect = pytest.importorskip("pexpect")
    (tmp_path / "big.jsonl").write_bytes((orjson.dumps(PARALYSIS) + b"\n") * 600_000)
    command = f"{sys.executable} -m triage evaluate big.jsonl --compact > /dev/null"
    child = pexpect.spawn("/bin/sh", ["-c", command], cwd=str(tmp_path), timeout=120)
    child.expect(r"\d+%\s+[\d,]+ records")
    child.expect("600000 records: 600000 valid, 0 invalid")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


@pytest.mark.parametrize("target", ["missing/out.jsonl", "folder"])
def test_output_that_cannot_be_written_is_a_usage_error(tmp_path: Path, target: str) -> None:
    """An output path in a missing folder, or naming a folder, is reported plainly with exit 2."""
    write_jsonl(tmp_path / "a.jsonl", [FSHD])
    (tmp_path / "folder").mkdir()
    done = triage("a.jsonl", "-o", target, cwd=tmp_path)
    assert done.returncode == 2
    assert f"cannot write {target}".encode() in done.stderr
    assert b"Traceback" not in done.stderr
    assert not [p for p in tmp_path.rglob("*.part")]


def test_jobs_on_a_csv_with_quotes_gives_the_same_records(tmp_path: Path) -> None:
    """A stray quote in an unquoted cell and a quoted cell over two lines change nothing under --jobs."""
    rows = ["id,red_flags,cause,severity"]
    for n in range(3000):
        name = f'r{n}a"b' if n == 100 else f'"r{n}\nline"' if n == 2000 else f"r{n}"
        rows.append(f"{name},none,fshd,mild")
    (tmp_path / "q.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    one = triage("q.csv", "--format", "jsonl", cwd=tmp_path)
    assert len(jsonl(one.stdout)) == 3000
    for jobs in ("2", "4"):
        many = triage("q.csv", "--format", "jsonl", "--jobs", jobs, cwd=tmp_path)
        assert many.stdout == one.stdout


@pytest.mark.parametrize("jobs", ["1", "2", "3"])
def test_large_files_without_records_are_reported_with_jobs(tmp_path: Path, jobs: str) -> None:
    """A large file of blank lines, or a CSV of empty rows, cut apart by --jobs, is still one error."""
    (tmp_path / "blank.jsonl").write_bytes(b"\n" * (3 << 20))
    (tmp_path / "blank.csv").write_bytes(b"red_flags,cause\n" + b",\n" * (2 << 20))
    done = triage("blank.jsonl", "blank.csv", "--jobs", jobs, cwd=tmp_path)
    assert done.returncode == 1
    errors = [e["errors"][0]["message"] for e in jsonl(done.stdout)]
    assert errors == [
        "blank.jsonl: the file is empty; there are no records.",
        "blank.csv: a header row but no records.",
    ]
    assert b"2 files (2 could not be read), 0 records" in done.stderr


def _small_files() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_an_output_that_cannot_be_written_stops_the_run_plainly(tmp_path: Path, jobs: str) -> None:
    """When the output cannot take more (here: a file size limit), every process count says so, exit 2."""
    (tmp_path / "big.jsonl").write_bytes((orjson.dumps(PARALYSIS) + b"\n") * 200_000)
    for target in (["-o", "out.jsonl"], []):
        with (tmp_path / "stdout").open("wb") as stdout:
            done = subprocess.run(
                [sys.executable, "-m", "triage", "evaluate", "big.jsonl", "--jobs", jobs, *target],
                cwd=tmp_path,
                stdout=stdout,
                stderr=subprocess.PIPE,
                preexec_fn=_small_files,
                timeout=120,
            )
        assert done.returncode == 2
        assert b"cannot write" in done.stderr
        assert b"File too large" in done.stderr
        assert b"Traceback" not in done.stderr
    assert not (tmp_path / "out.jsonl").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_non_blocking_output_loses_nothing(tmp_path: Path, jobs: str) -> None:
    """An output pipe left non-blocking (as some programs leave a shared terminal or pipe) that fills up
    makes the run wait, not drop entries."""
    (tmp_path / "big.jsonl").write_bytes((orjson.dumps(PARALYSIS) + b"\n") * 20_000)
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    process = subprocess.Popen(
        [sys.executable, "-m", "triage", "evaluate", "big.jsonl", "--compact", "--jobs", jobs],
        cwd=tmp_path,
        stdout=write_end,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    time.sleep(1)  # the pipe fills while nobody reads
    with os.fdopen(read_end, "rb") as output:
        data = output.read()
    assert process.wait(timeout=120) == 0
    assert len(jsonl(data)) == 20_000


# -- standard streams that fail, or are closed ----------------------------------------------------------

EVERY_COMMAND = [
    ["--version"],
    ["--help"],
    ["evaluate", "--help"],
    ["questions"],
    ["rules", "check"],
    ["rules", "check", "--format", "json"],
    ["rules", "show", "--format", "markdown"],
    ["rules", "graph"],
    ["rules", "test"],
    ["schema", "result"],
    ["export", "fhir"],
    ["evaluate", "a.jsonl", "--format", "text"],
    ["evaluate", "a.jsonl", "--format", "jsonl"],
]


@pytest.mark.parametrize("command", EVERY_COMMAND, ids=" ".join)
def test_standard_output_that_fails_or_is_closed_is_reported_exit_2(
    tmp_path: Path, command: list[str]
) -> None:
    """Every command whose standard output is full (/dev/full) or was closed (`>&-`) says so on standard
    error and exits 2, never with a traceback, nor 0 as if all were written."""
    write_jsonl(tmp_path / "a.jsonl", [FSHD])
    assert_failing_output_is_reported(command, tmp_path)


def test_a_closed_standard_error_or_input_is_no_failure(tmp_path: Path) -> None:
    """With standard error closed (`2>&-`) the run writes its entries and exits as usual; with standard
    input closed, `evaluate -` gives an error entry for it and the other inputs are evaluated."""
    write_jsonl(tmp_path / "a.jsonl", [FSHD])
    done = subprocess.run(
        [sys.executable, "-m", "triage", "evaluate", "a.jsonl", "--format", "jsonl"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        preexec_fn=lambda: os.close(2),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0
    assert jsonl(done.stdout)[0]["urgency"] == "routine"
    done = subprocess.run(
        [sys.executable, "-m", "triage", "evaluate", "-", "a.jsonl", "--input-format", "jsonl"],
        cwd=tmp_path,
        capture_output=True,
        preexec_fn=lambda: os.close(0),
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert b"Traceback" not in done.stderr
    entries = jsonl(done.stdout)
    assert [e["source"] for e in entries] == ["<stdin>", "a.jsonl:1"]
    assert "it was closed" in entries[0]["errors"][0]["message"]
