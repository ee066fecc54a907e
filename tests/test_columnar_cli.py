"""`triage evaluate` with Parquet and Arrow files, in and out: the real command in a subprocess.

The reference for every columnar output is the JSON Lines output of the same
run: each row of results.parquet holds what the entry of the same record holds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from streams import assert_failing_output_is_reported, run_into

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
feather = pytest.importorskip("pyarrow.feather")

import triage  # noqa: E402
from triage.apps import cli  # noqa: E402
from triage.batch.arrowfiles import output_schema  # noqa: E402

FSHD = {"id": "f", "red_flags": "none", "cause": "fshd", "severity": "mild"}
STROKE = {"id": "s", "red_flags": "stroke_signs"}
BAD = {"id": "b", "red_flags": "none", "cause": "fshd", "severity": "sever"}
PALSY = {
    "id": "p",
    "red_flags": "none",
    "cause": "peripheral_facial_paralysis",
    "severity": "moderate",
    "months_since_paralysis": 2,
    "treated_early": "not_sure",
    "eye_problems": "cannot_close",
    "worsening": "no",
}
RECORDS = [FSHD, STROKE, BAD, PALSY, {"red_flags": None, "cause": "opmd"}]


def evaluate(*args: str, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "triage", "evaluate", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
    )


def table(records: list[dict[str, Any]] = RECORDS) -> Any:
    names = list(dict.fromkeys(k for r in records for k in r))
    return pa.table({name: [r.get(name) for r in records] for name in names})


def read_results(path: Path) -> Any:
    if path.suffix == ".parquet":
        return pq.read_table(path)
    return feather.read_table(path)


def as_entries(results: Any) -> list[dict[str, Any]]:
    """Rows of a results file, in the shape of compact JSON Lines entries (without the texts)."""
    entries = []
    for row in results.to_pylist():
        entry: dict[str, Any] = {"id": row["id"], "source": row["source"]}
        if row["errors"] is not None:
            entry["errors"] = row["errors"]
        else:
            entry |= {
                "urgency": row["urgency"],
                "prognosis": row["prognosis"],
                "suggestions": row["suggestions"],
                "warnings": row["warnings"],
                "disclaimer": row["disclaimer"],
            }
        entries.append(entry)
    return entries


def jsonl_entries(out: bytes) -> list[dict[str, Any]]:
    """Compact JSON Lines entries, cut to what a results file holds."""
    entries = []
    for line in out.splitlines():
        entry = json.loads(line)
        if "errors" not in entry:
            entry = {
                "id": entry["id"],
                "source": entry["source"],
                "urgency": entry["urgency"],
                "prognosis": entry["prognosis"]["category"],
                "suggestions": entry["suggestions"],
                "warnings": entry["warnings"],
                "disclaimer": entry["disclaimer"],
            }
        entries.append(entry)
    return entries


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    data = table()
    pq.write_table(data, tmp_path / "a.parquet", row_group_size=2)
    feather.write_feather(data, tmp_path / "b.feather")
    with pa.OSFile(str(tmp_path / "c.arrows"), "wb") as sink, pa.ipc.new_stream(sink, data.schema) as stream:
        stream.write_table(data)
    (tmp_path / "d.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in RECORDS) + b"not json\n")
    (tmp_path / "e.csv").write_text("id,red_flags,cause,severity\nx,none,opmd,severe\ny,,fshd,mild\n")
    return tmp_path


NAMES = ["a.parquet", "b.feather", "c.arrows", "d.jsonl", "e.csv"]


@pytest.mark.parametrize("target", ["results.parquet", "results.arrow", "results.feather"])
def test_any_input_to_a_results_file_holds_what_json_lines_holds(inputs: Path, target: str) -> None:
    """Every input format into Parquet or Arrow: one row per record, in order, as the JSON Lines entries."""
    done = evaluate(*NAMES, "-o", target, cwd=inputs)
    assert done.returncode == 1, done.stderr
    reference = evaluate(*NAMES, "--format", "jsonl", "--compact", cwd=inputs)
    assert reference.returncode == 1
    results = read_results(inputs / target)
    assert results.schema == output_schema()
    assert as_entries(results) == jsonl_entries(reference.stdout)
    assert [s for s in results.column("source").to_pylist()][:3] == [
        "a.parquet#0",
        "a.parquet#1",
        "a.parquet#2",
    ]
    # The same summary: files, records, valid and invalid, per urgency and prognosis.
    assert done.stderr.splitlines()[:3] == reference.stderr.splitlines()[:3]
    assert done.stderr.startswith(b"5 files, 23 records: 13 valid, 10 invalid.")


def test_results_file_rows_equal_evaluate_table(inputs: Path) -> None:
    done = evaluate("a.parquet", "-o", "out.parquet", cwd=inputs)
    assert done.returncode == 1
    results = pq.read_table(inputs / "out.parquet")
    expected = triage.evaluate_table(pq.read_table(inputs / "a.parquet"))
    assert results.drop_columns(["source"]).to_pylist() == expected.to_pylist()


def test_texts_in_a_results_file_are_those_of_the_json_output(inputs: Path) -> None:
    done = evaluate("a.parquet", "-o", "out.parquet", "--texts", cwd=inputs)
    assert done.returncode == 1
    rows = pq.read_table(inputs / "out.parquet").to_pylist()
    full = [
        json.loads(line)
        for line in evaluate("a.parquet", "--format", "jsonl", cwd=inputs).stdout.splitlines()
    ]
    for row, entry in zip(rows, full, strict=True):
        if "errors" in entry:
            assert row["urgency_text"] is None
            continue
        assert row["urgency_text"] == entry["urgency_advice"]["text"]
        assert row["prognosis_text"] == entry["prognosis"]["text"]
        assert row["suggestion_texts"] == [s["text"] for s in entry["suggestions"]]
        assert row["explanation"] == entry["explanation"]
        assert row["disclaimer"] == entry["disclaimer"]


def test_parquet_into_a_pipe(inputs: Path) -> None:
    done = evaluate("a.parquet", "--format", "parquet", cwd=inputs)
    assert done.returncode == 1
    results = pq.read_table(pa.BufferReader(done.stdout))
    assert results.num_rows == len(RECORDS)


def test_arrow_into_a_pipe_and_from_stdin(inputs: Path) -> None:
    done = evaluate(
        "-",
        "--input-format",
        "parquet",
        "--format",
        "arrow",
        cwd=inputs,
        stdin=(inputs / "a.parquet").read_bytes(),
    )
    assert done.returncode == 1, done.stderr
    results = pa.ipc.open_file(pa.BufferReader(done.stdout)).read_all()
    assert results.column("source").to_pylist()[0] == "<stdin>#0"
    assert results.column("urgency").to_pylist() == ["routine", "emergency", None, "soon", None]


def test_unreadable_files_are_error_entries_and_the_others_go_on(tmp_path: Path) -> None:
    pq.write_table(table(), tmp_path / "good.parquet")
    (tmp_path / "junk.parquet").write_bytes(b"PAR1 not really")
    pq.write_table(table().slice(0, 0), tmp_path / "empty.parquet")
    invalid = pa.array([b"\xff"], pa.binary()).view(pa.string())  # a string column that is not UTF-8
    pq.write_table(pa.table({"cause": invalid, "red_flags": ["none"]}), tmp_path / "latin1.parquet")
    (tmp_path / "junk.arrow").write_bytes(b"ARROW1 no")
    names = ["junk.parquet", "empty.parquet", "latin1.parquet", "junk.arrow", "good.parquet"]
    for target in ("out.parquet", "out.jsonl"):
        done = evaluate(*names, "-o", target, cwd=tmp_path)
        assert done.returncode == 1
        assert b"Traceback" not in done.stderr
        if target == "out.parquet":
            entries = as_entries(pq.read_table(tmp_path / target))
        else:
            entries = [json.loads(line) for line in (tmp_path / target).read_bytes().splitlines()]
        errors = {e["source"]: e["errors"][0] for e in entries[:4]}
        assert errors["junk.parquet"]["field"] == "(file)"
        assert errors["junk.parquet"]["message"].startswith("junk.parquet: cannot be read as Parquet:")
        assert (
            errors["empty.parquet"]["message"] == "empty.parquet: the file has no rows; there are no records."
        )
        assert "column 'cause' does not hold valid data" in errors["latin1.parquet"]["message"]
        assert errors["junk.arrow"]["message"].startswith("junk.arrow: cannot be read as Arrow IPC:")
        assert [e["source"] for e in entries[4:]] == [f"good.parquet#{i}" for i in range(len(RECORDS))]
        assert "5 files (4 could not be read), 5 records" in done.stderr.decode()


def test_a_folder_holds_parquet_files_too(inputs: Path) -> None:
    done = evaluate(str(inputs), "--format", "jsonl", cwd=inputs)
    sources = [e["source"] for e in jsonl_entries(done.stdout)]
    assert sources[0].endswith("a.parquet#0")
    assert any(s.endswith("c.arrows#4") for s in sources)


def test_texts_is_for_columnar_output_only(inputs: Path) -> None:
    done = evaluate("a.parquet", "--texts", "--format", "jsonl", cwd=inputs)
    assert done.returncode == 2
    assert b"--texts is for Parquet and Arrow output" in done.stderr
    done = evaluate("a.parquet", "--texts", "--compact", "-o", "x.parquet", cwd=inputs)
    assert done.returncode == 2


def test_without_pyarrow_the_message_says_what_to_install(
    inputs: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a)
    )
    monkeypatch.chdir(inputs)
    assert cli.main(["evaluate", "d.jsonl", "-o", "out.parquet"]) == 2
    assert "pip install 'triage[arrow]'" in capsys.readouterr().err
    assert cli.main(["evaluate", "a.parquet", "--format", "jsonl"]) == 2
    assert not (inputs / "out.parquet").exists()


def test_text_formats_never_load_pyarrow(inputs: Path) -> None:
    code = (
        "import sys; from triage.apps.cli import main; code = main(['evaluate', 'd.jsonl', 'e.csv', '-o', 'o.jsonl']); "
        "assert 'pyarrow' not in sys.modules, 'pyarrow was loaded'; print(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=inputs, capture_output=True, text=True, check=False
    )
    assert done.stdout.strip() == "1", done.stderr


def test_evaluate_sets_its_own_malloc_thresholds(inputs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever MALLOC_* settings it inherits (distributed sets MALLOC_TRIM_THRESHOLD_=65536), a batch
    run sets glibc's thresholds for itself (triage.batch.allocator; bench/README.md has the figures)."""
    import platform

    from triage.batch import allocator

    called: list[bool] = []
    monkeypatch.setattr(cli, "tune_for_batch", lambda: called.append(True) or True)
    monkeypatch.chdir(inputs)
    assert cli.main(["evaluate", "d.jsonl", "-o", "out.jsonl"]) == 1
    assert called == [True]
    on_glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert allocator.tune_for_batch() is on_glibc


# -- what the row formats' runs hold to, in Parquet and Arrow too -------------------------------------------


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_standard_output_that_fails_or_is_closed_is_reported_exit_2(inputs: Path, fmt: str) -> None:
    """A Parquet or Arrow file written to standard output that is full (/dev/full) or was closed (`>&-`):
    said on standard error, exit 2, never a traceback, nor 0 as if all were written."""
    assert_failing_output_is_reported(["evaluate", "a.parquet", "d.jsonl", "--format", fmt], inputs)


def test_standard_output_over_a_parquet_input_is_refused(inputs: Path) -> None:
    """`--format parquet 1<> a.parquet` would write results over the answers being read: refused, exit 2."""
    before = (inputs / "a.parquet").read_bytes()
    done = run_into(inputs / "a.parquet", ["evaluate", "a.parquet", "--format", "parquet"], inputs)
    assert done.returncode == 2, done.stderr
    assert b"cannot write standard output: it is the answer file a.parquet" in done.stderr
    assert (inputs / "a.parquet").read_bytes() == before


@pytest.mark.parametrize("target", ["out.parquet", "out.arrow", "out.jsonl"])
def test_file_names_that_are_not_utf8_in_and_out_of_parquet_and_arrow(inputs: Path, target: str) -> None:
    """Parquet, Arrow and JSON Lines files whose names are not UTF-8 are read, and their sources (and the
    messages naming them) are written as text and JSON show them (`\\udcff` for 0xff): Arrow text is
    UTF-8 too. No traceback; the stroke record still comes out an emergency."""
    renamed = []
    for name in ("a.parquet", "b.feather", "d.jsonl"):
        stem, suffix = name.split(".")
        new = os.fsdecode(stem.encode() + b"\xff." + suffix.encode())
        (inputs / name).rename(inputs / new)
        renamed.append(new)
    (inputs / os.fsdecode(b"empty\xff.csv")).write_bytes(b"")
    done = evaluate(*renamed, os.fsdecode(b"empty\xff.csv"), "-o", target, cwd=inputs)
    assert done.returncode == 1, done.stderr
    assert b"Traceback" not in done.stderr
    if target == "out.jsonl":
        entries = [json.loads(line) for line in (inputs / target).read_bytes().splitlines()]
    else:
        entries = read_results(inputs / target).to_pylist()
    sources = [entry["source"] for entry in entries]
    assert sources[0] == "a\\udcff.parquet#0"
    assert f"b\\udcff.feather#{len(RECORDS) - 1}" in sources
    assert "d\\udcff.jsonl:1" in sources
    assert sources[-1] == "empty\\udcff.csv"
    assert entries[-1]["errors"][0]["message"].startswith("empty\\udcff.csv: the file is empty")
    assert [e["urgency"] for e in entries if e["id"] == "s"] == ["emergency"] * 3
