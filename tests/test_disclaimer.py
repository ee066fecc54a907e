"""The disclaimer is never dropped: every result, in every output format of `evaluate` and `ask`, carries it.

Hazard H5 of docs/SAFETY.md: a result without "see a doctor" reads as a
diagnosis. These tests run the real command as a person does.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from terminal import Terminal

import triage
from triage.io.formats import OUTPUT_FORMATS

RECORDS: list[object] = [
    {"id": "stroke", "red_flags": ["stroke_signs"]},
    {"id": "sudden", "red_flags": "sudden_onset"},
    {"id": "bad", "red_flags": [], "cause": "fshd", "severity": "sever"},
    {"id": "fshd", "red_flags": [], "cause": "fshd", "severity": "mild"},
    {
        "id": "palsy",
        "red_flags": "none",
        "cause": "peripheral_facial_paralysis",
        "severity": "moderate",
        "months_since_paralysis": 2,
        "treated_early": "not_sure",
        "eye_problems": "cannot_close",
    },
    ["not", "a", "record"],
]
RESULT_IDS = ["stroke", "sudden", "fshd", "palsy"]


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("disclaimer") / "answers.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in RECORDS))
    return path


def sections(out: str, mark: str) -> list[str]:
    """The output cut into entries at the lines that name a source."""
    parts: list[str] = []
    for line in out.splitlines():
        if line.startswith(mark):
            parts.append("")
        if parts:
            parts[-1] += line + "\n"
    return parts


@pytest.mark.parametrize(
    ("fmt", "compact"), [(fmt, False) for fmt in OUTPUT_FORMATS] + [("json", True), ("jsonl", True)]
)
def test_every_evaluate_format_gives_every_result_its_disclaimer(
    answers: Path, pack: triage.RulePack, fmt: str, compact: bool
) -> None:
    """Each result of `triage evaluate`, in every --format (and --compact), carries the disclaimer in full."""
    disclaimer = pack.document.disclaimer
    done = subprocess.run(
        [sys.executable, "-m", "triage", "evaluate", answers.name, "--format", fmt]
        + (["--compact"] if compact else []),
        cwd=answers.parent,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    out = done.stdout.decode()
    if fmt in ("json", "jsonl"):
        entries = json.loads(out) if fmt == "json" else [json.loads(line) for line in out.splitlines()]
        results = [e for e in entries if "urgency" in e]
        assert all(e["disclaimer"] == disclaimer for e in results)
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        results = [r for r in rows if r["urgency"]]
        assert all(r["disclaimer"] == disclaimer for r in results)
    else:
        mark, last = ("answers.jsonl:", f"IMPORTANT: {disclaimer}")
        if fmt == "markdown":
            mark, last = ("# answers.jsonl:", f"> **Important:** {disclaimer}")
        parts = sections(out, mark)
        assert len(parts) == len(RECORDS)
        results = [p for p in parts if "Not evaluated" not in p]
        # In full and last, however the text was wrapped.
        assert all(flat(p).endswith(flat(last)) for p in results)
    assert len(results) == len(RESULT_IDS)


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_every_ask_format_ends_with_the_disclaimer(pack: triage.RulePack, tmp_path: Path, fmt: str) -> None:
    """`triage ask --format F` shows the result with the disclaimer in full, last on the screen."""
    question = pack.questions["red_flags"]
    stroke = next(o.label for o in question.options if o.id == "stroke_signs")
    term = Terminal("ask", "--format", fmt, cwd=tmp_path)
    term.tick(question.prompt, [stroke])
    assert term.finish() == 0
    out = term.output().rstrip()
    disclaimer = pack.document.disclaimer
    if fmt == "json":
        result = json.loads(out[out.rindex("\n{") :])
        assert result["disclaimer"] == disclaimer
        assert out.endswith("}")
    elif fmt == "markdown":
        assert out.endswith(f"> **Important:** {disclaimer}")
    else:
        assert flat(out).endswith(flat(f"IMPORTANT: {disclaimer}"))
    assert "Traceback" not in out


@pytest.mark.parametrize("target", ["results.parquet", "results.arrow"])
def test_every_result_row_of_a_parquet_or_arrow_file_has_the_disclaimer(
    answers: Path, pack: triage.RulePack, target: str
) -> None:
    """Parquet and Arrow output too: each result row carries the disclaimer in full."""
    pa = pytest.importorskip("pyarrow")
    done = subprocess.run(
        [sys.executable, "-m", "triage", "evaluate", answers.name, "-o", target],
        cwd=answers.parent,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    path = answers.parent / target
    if target.endswith(".parquet"):
        import pyarrow.parquet as pq

        rows = pq.read_table(path).to_pylist()
    else:
        rows = pa.ipc.open_file(str(path)).read_all().to_pylist()
    results = [r for r in rows if r["urgency"] is not None]
    assert [r["id"] for r in results] == RESULT_IDS
    assert all(r["disclaimer"] == pack.document.disclaimer for r in results)
