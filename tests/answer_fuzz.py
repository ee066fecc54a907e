"""The fuzzing oracle for answer files, shared by the hypothesis test and the atheris script.

`check_answer_file` writes bytes as an answer file, evaluates it as
`triage evaluate` does (the same readers and batch, JSON Lines out) and checks
what must hold for any input: nothing raises, every entry is a result with its
disclaimer or an error entry with messages, the entries are the records and
unreadable files counted, each names the file, and a JSON Lines file gives one
entry per line that is not blank, in line order (or one file error when every
line is blank).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from triage.batch.run import evaluate_files
from triage.core.pack import RulePack
from triage.io.inputs import InputFile
from triage.io.writers import make_writer

FORMATS = {"json": ".json", "jsonl": ".jsonl", "yaml": ".yaml", "csv": ".csv"}


def check_answer_file(data: bytes, fmt: str, folder: Path, pack: RulePack) -> list[dict[str, object]]:
    """Evaluate `data` as an answer file of format `fmt`; assert the invariants; return the entries."""
    name = "fuzz" + FORMATS[fmt]
    path = folder / name
    path.write_bytes(data)
    out = io.BytesIO()
    summary = evaluate_files(
        [InputFile(str(path), name, fmt, len(data))], pack, make_writer("jsonl", pack), out
    )
    entries = [json.loads(line) for line in out.getvalue().splitlines()]
    assert entries, "no entry at all"
    assert len(entries) == summary.records + summary.unreadable_files
    assert summary.records == summary.valid + summary.invalid
    for entry in entries:
        source = entry["source"]
        assert isinstance(source, str)
        assert source == name or source.startswith((name + ":", name + "#"))
        if "errors" in entry:
            assert "urgency" not in entry
            assert entry["errors"], "an error entry without errors"
            for error in entry["errors"]:
                assert isinstance(error["field"], str)  # the key as written: may be empty
                assert isinstance(error["message"], str)
                assert error["message"].strip()
        else:
            assert entry["urgency"] in pack.levels
            assert "doctor" in entry["disclaimer"]
            assert entry["suggestions"]
    if fmt == "jsonl":
        lines = data.split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        lines[:1] = [line.removeprefix(b"\xef\xbb\xbf") for line in lines[:1]]
        numbers = [n for n, line in enumerate(lines, 1) if line.rstrip(b"\r\n").strip()]
        if numbers:
            assert [e["source"] for e in entries] == [f"{name}:{n}" for n in numbers]
        else:
            assert [e["source"] for e in entries] == [name]
            assert entries[0]["errors"][0]["field"] == "(file)"
    return entries
