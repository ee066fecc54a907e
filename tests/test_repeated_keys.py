"""A record that gives a key twice is refused, in every file format: parsers would keep one silently."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

STROKE_THEN_NONE = '"red_flags":"stroke_signs","red_flags":"none","cause":"fshd","severity":"mild"'
FILES = {
    "one.json": "{" + STROKE_THEN_NONE + "}",
    "list.json": '[{"id":"ok","red_flags":"none","cause":"fshd","severity":"mild"},{"id":"r",'
    + STROKE_THEN_NONE
    + "}]",
    "tight.jsonl": '{"id":"ok","red_flags":"none","cause":"fshd","severity":"mild"}\n{"id":"r",'
    + STROKE_THEN_NONE
    + "}\n",
    "no-id.jsonl": '{"red_flags":"none","cause":"fshd","severity":"mild"}\n{' + STROKE_THEN_NONE + "}\n",
    "spaced.jsonl": '{"id": "ok", "red_flags": "none", "cause": "fshd", "severity": "mild"}\n'
    '{"id": "r", "red_flags" : "stroke_signs", "red_flags":\t"none", "cause": "fshd", "severity": "mild"}\n',
    "one.yaml": "red_flags: stroke_signs\nred_flags: none\ncause: fshd\nseverity: mild\n",
    "list.yaml": "- {id: ok, red_flags: none, cause: fshd, severity: mild}\n"
    "- {id: r, red_flags: stroke_signs, red_flags: none, cause: fshd, severity: mild}\n",
}


def evaluate(path: Path, *extra: str) -> tuple[int, list[dict[str, Any]]]:
    out = subprocess.run(
        [sys.executable, "-m", "triage", "evaluate", str(path), "--format", "jsonl", *extra],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert b"Traceback" not in out.stderr
    return out.returncode, [json.loads(line) for line in out.stdout.splitlines()]


@pytest.mark.parametrize("name", sorted(FILES))
def test_a_repeated_red_flag_key_is_never_read_as_either_answer(tmp_path: Path, name: str) -> None:
    """`red_flags` given as stroke signs and then as none is an error entry naming red_flags, not a result."""
    path = tmp_path / name
    path.write_text(FILES[name], encoding="utf-8")
    code, entries = evaluate(path)
    assert code == 1
    repeated = entries[-1]
    assert "urgency" not in repeated
    assert [e["field"] for e in repeated["errors"]] == ["red_flags"]
    assert "more than once" in repeated["errors"][0]["message"]
    if len(entries) == 2:
        assert entries[0]["urgency"] == "routine"
    if '"id":"r"' in FILES[name].replace(" ", "") or "id: r," in FILES[name]:
        assert repeated["id"] == "r"


def test_a_repeated_key_in_many_jsonl_lines_is_caught_on_every_path(tmp_path: Path) -> None:
    """Among many ordinary lines (the fast paths), each line repeating a key is refused, and only those."""
    good = '{"id":"g%d","red_flags":"none","cause":"fshd","severity":"mild"}'
    bad = '{"id":"b%d",' + STROKE_THEN_NONE + "}"
    bare = "{" + STROKE_THEN_NONE + "}"
    lines = [good % n if n % 7 else (bad % n if n % 2 else bare) for n in range(5000)]
    path = tmp_path / "many.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for jobs in ("1", "2"):
        code, entries = evaluate(path, "--compact", "--jobs", jobs)
        assert code == 1
        assert len(entries) == 5000
        refused = [n for n, e in enumerate(entries) if "errors" in e]
        assert refused == [n for n in range(5000) if n % 7 == 0]
