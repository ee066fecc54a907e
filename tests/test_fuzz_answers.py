"""Fuzzing the answer-file readers with a fixed budget: any bytes, in any input format, give entries.

Arbitrary bytes, and valid answer files cut, spliced and sprinkled with hostile
bytes, are written as .json, .jsonl, .yaml and .csv files and evaluated through
the real readers and batch (`answer_fuzz.check_answer_file` states what must
hold). The same oracle runs without a budget under atheris: tests/fuzz/fuzz_readers.py.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from answer_fuzz import FORMATS, check_answer_file
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import triage

VALID = {
    "json": b'[{"id": "a", "red_flags": [], "cause": "fshd", "severity": "mild"},\n'
    b' {"id": "b", "red_flags": ["stroke_signs"]}]\n',
    "jsonl": b'{"id": "a", "red_flags": [], "cause": "fshd", "severity": "mild"}\n'
    b'{"id": "b", "red_flags": "none", "cause": "opmd", "severity": "severe"}\n'
    b'{"id": "c", "red_flags": ["sudden_onset"]}\n',
    "yaml": b"- id: a\n  red_flags: []\n  cause: fshd\n  severity: mild\n"
    b"- id: b\n  red_flags: [stroke_signs]\n",
    "csv": b'id,red_flags,cause,severity,related_findings\na,none,fshd,mild,\nb,"stroke_signs",,,\n'
    b"c,none,other,moderate,family_history;shoulder_arm_weakness\n",
}
HOSTILE_BYTES = [
    b"\x00",
    b"\xff",
    b"\xef\xbb\xbf",
    b"\xfe\xff",
    b'"',
    b"\n",
    b"\r",
    b",",
    b";",
    b"[",
    b"{",
    b"&a",
    b"*a",
    b"!!python/name:os.system",
    b"\t",
    b"\\u0000",
    b"1e999",
    b"-",
    b"#",
]


@st.composite
def mangled(draw: st.DrawFn, fmt: str) -> bytes:
    """A valid answer file of `fmt`, cut, with pieces deleted, and with bytes put in."""
    data = VALID[fmt]
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        how = draw(st.sampled_from(["cut", "delete", "insert", "hostile"]))
        if how == "cut":
            data = data[:at]
        elif how == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 8)) :]
        elif how == "insert":
            data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
        else:
            data = data[:at] + draw(st.sampled_from(HOSTILE_BYTES)) + data[at:]
    return data


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@settings(
    derandomize=True,
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_bytes_give_one_entry_per_record_or_a_file_error(
    pack: triage.RulePack, fmt: str, data: st.DataObject
) -> None:
    """Any bytes as an answer file never raise and give well-formed entries, one per record or a file error."""
    raw = data.draw(st.one_of(st.binary(max_size=400), mangled(fmt)), label="file")
    with tempfile.TemporaryDirectory() as folder:
        check_answer_file(raw, fmt, Path(folder), pack)
