"""A number is read exactly as written: one that is not a whole number is never rounded into one.

JSON parsers read numbers as binary floats, and `0.99999999999999999` becomes
1.0: a paralysis that began less than a month ago would read as a month old,
and its urgency drop from urgent to soon. Every format reads the number as
written (SPEC §5: `6`, `"6"` and `6.0` are whole numbers; `6.5` is not).
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import triage
from triage.fhir import response_from_record

PACK = triage.load_rulepack()
MONTHS = "months_since_paralysis"
RECENT = {
    "red_flags": "none",
    "cause": "peripheral_facial_paralysis",
    "severity": "mild",
    "treated_early": "no",
    "eye_problems": "none",
}
"""An untreated paralysis: under a month is urgent, a month or more is soon (the pack's rules U4, U5)."""
ALMOST_ONE = "0.99999999999999999"


def record_text(months: str) -> str:
    """A JSON record with the months written exactly as given."""
    return json.dumps(RECENT)[:-1] + f', "{MONTHS}": {months}}}'


def evaluate(folder: Path, *names: str) -> tuple[int, list[dict[str, Any]]]:
    done = subprocess.run(
        [sys.executable, "-m", "triage", "evaluate", *names, "--format", "jsonl"],
        cwd=folder,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert b"Traceback" not in done.stderr
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines()]


def test_a_month_short_of_one_is_never_read_as_one_in_any_format(tmp_path: Path) -> None:
    """0.99999999999999999 months is refused as not a whole number in JSON, JSON Lines, YAML and FHIR;
    CSV reads it as text and refuses it too; never "soon"."""
    fhir = response_from_record({**RECENT, MONTHS: 1}, PACK)
    fhir_text = json.dumps(fhir).replace('"valueInteger": 1}', f'"valueInteger": {ALMOST_ONE}}}')
    files = {
        "one.json": record_text(ALMOST_ONE),
        "list.json": f"[{record_text('0')}, {record_text(ALMOST_ONE)}]",
        "lines.jsonl": f'{{"id": "a", {record_text(ALMOST_ONE)[1:]}\n{{"id": "b", {record_text(ALMOST_ONE)[1:]}\n',
        "one.yaml": "".join(f"{k}: {v}\n" for k, v in RECENT.items()) + f"{MONTHS}: {ALMOST_ONE}\n",
        "rows.csv": f"{','.join(RECENT)},{MONTHS}\n{','.join(RECENT.values())},{ALMOST_ONE}\n",
        "response.json": fhir_text,
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    code, entries = evaluate(tmp_path, *sorted(files))
    assert code == 1
    assert [e.get("urgency") for e in entries] == [None, None, "urgent", None, None, None, None, None]
    for entry in entries:
        if "errors" in entry:
            assert entry["errors"][0]["field"] == MONTHS, entry
            message = entry["errors"][0]["message"]
            assert ALMOST_ONE in message or "valueInteger" in message, entry


@pytest.mark.parametrize(
    ("written", "urgency"),
    [
        ("0", "urgent"),
        ("1", "soon"),
        ("1.0", "soon"),
        ("1.000", "soon"),
        ('"1"', "soon"),
        ("1e0", "soon"),
        ("0e999999999", "urgent"),  # zero, however large its exponent
    ],
)
def test_whole_numbers_as_written_are_still_accepted(tmp_path: Path, written: str, urgency: str) -> None:
    """`1`, `1.0`, `"1"` and `1e0` (exactly one, as written) are a whole month, in JSON Lines and JSON."""
    (tmp_path / "a.jsonl").write_text(record_text(written) + "\n")
    (tmp_path / "a.json").write_text(record_text(written))
    code, entries = evaluate(tmp_path, "a.json", "a.jsonl")
    assert code == 0
    assert [e["urgency"] for e in entries] == [urgency, urgency]


@pytest.mark.parametrize(
    ("written", "problem"),
    [
        (ALMOST_ONE, "not a whole number"),
        ("1.0000000000000001", "not a whole number"),
        ("0.5e1", None),  # exactly 5: whole as written
        ("99999999999999999999.5", "not a whole number"),
        ("1e-400", "not a whole number"),
        ("1e400", "too large to read"),
        ("100000000000000000000001", "out of range"),
    ],
)
def test_json_numbers_are_read_as_written(tmp_path: Path, written: str, problem: str | None) -> None:
    """Numbers that a float would round, shorten or overflow are read as their text says."""
    (tmp_path / "a.jsonl").write_text(record_text(written) + "\n")
    code, (entry,) = evaluate(tmp_path, "a.jsonl")
    if problem is None:
        assert code == 0
        return
    assert code == 1
    assert problem in entry["errors"][0]["message"], entry


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("1", 1),
        ("010", 10),  # YAML 1.1 would read 8: the number is read in decimal, as written
        ("1.0", 1),
        ("0x10", "not a whole number"),
        ("0o17", "not a whole number"),
        ("1_000", "not a whole number"),
        ("1:30", "not a whole number"),  # YAML 1.1 reads 90 (base 60)
        (ALMOST_ONE, "not a whole number"),
        ("1.0e+0", 1),
        (".inf", "not a whole number"),
        ("1" * 5000, "out of range"),
    ],
)
def test_yaml_numbers_are_read_as_written_in_decimal(tmp_path: Path, written: str, read: int | str) -> None:
    """YAML numbers are read in decimal as written; other YAML 1.1 number forms stay text, which is no whole number."""
    (tmp_path / "a.yaml").write_text(
        "".join(f"{k}: {v}\n" for k, v in RECENT.items()) + f"{MONTHS}: {written}\n"
    )
    code, (entry,) = evaluate(tmp_path, "a.yaml")
    if isinstance(read, int):
        assert code == 0, entry
        assert entry["urgency"] == ("urgent" if read < 1 else "soon")
    else:
        assert code == 1
        assert read in entry["errors"][0]["message"], entry


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ({"valueInteger": 1.0}, "valueInteger must be a whole number written with digits only"),
        ({"valueInteger": "1"}, "valueInteger must be a whole number written with digits only"),
        ({"valueDecimal": 1}, "a whole number is written as valueInteger; got valueDecimal"),
        ({"valueInteger": 10**30}, "is out of range"),
    ],
)
def test_a_fhir_whole_number_is_a_value_integer_as_written(
    tmp_path: Path, answer: dict[str, Any], said: str
) -> None:
    """A FHIR integer answer must be valueInteger written as an integer; anything else is refused in plain words."""
    response = response_from_record({**RECENT, MONTHS: 1}, PACK)
    next(i for i in response["item"] if i["linkId"] == MONTHS)["answer"] = [answer]
    (tmp_path / "r.json").write_text(json.dumps(response))
    code, (entry,) = evaluate(tmp_path, "r.json")
    assert code == 1
    assert entry["errors"][0]["field"] == MONTHS
    assert said in entry["errors"][0]["message"]
    assert "got valueInteger" not in entry["errors"][0]["message"]


@settings(derandomize=True, max_examples=200, deadline=None)
@given(
    whole=st.integers(0, 1200),
    fraction=st.text(alphabet="0123456789", min_size=1, max_size=30),
    exponent=st.integers(-3, 3),
)
def test_a_decimal_is_whole_exactly_when_its_value_is(whole: int, fraction: str, exponent: int) -> None:
    """For any number written with digits after its point and an exponent, the reader says whole exactly
    when the written value is a whole number, and then reads that number."""
    written = Decimal(f"{whole}.{fraction}e{exponent}")
    value = triage.core.answers.read_value(PACK.questions[MONTHS], written)
    if written == written.to_integral_value() and 0 <= written <= 1200:
        assert value == int(written)
    else:
        assert isinstance(value, triage.Problem)


def test_a_python_float_keeps_its_reading() -> None:
    """The library given a Python float reads it as today: 1.0 is 1, and 0.99999999999999999 is already 1.0."""
    assert triage.evaluate({**RECENT, MONTHS: 1.0}).urgency == "soon"
    assert triage.evaluate({**RECENT, MONTHS: float(ALMOST_ONE)}).urgency == "soon"
    with pytest.raises(triage.InvalidAnswers):
        triage.evaluate({**RECENT, MONTHS: Decimal(ALMOST_ONE)})


@pytest.mark.parametrize(
    ("kind", "written"),
    [
        ("decimal128", "0.99999999999999999999"),
        ("decimal128", "1.00000000000000000001"),
        ("decimal256", "0.99999999999999999999"),
    ],
)
def test_a_parquet_decimal_short_of_a_whole_month_is_never_rounded(tmp_path: Path, kind: str, written: str) -> None:
    """A Parquet decimal column holds its numbers exactly: one that is not whole is refused, in the CLI and in
    `triage.evaluate_table`, never rounded into a float that is (urgent would become soon)."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    column = pa.array([Decimal(written), Decimal("0.00")], getattr(pa, kind)(38, 20))
    table = pa.table({**{k: [v, v] for k, v in RECENT.items()}, MONTHS: column})
    pq.write_table(table, tmp_path / "months.parquet")
    code, entries = evaluate(tmp_path, "months.parquet")
    assert code == 1
    assert entries[0]["errors"][0]["field"] == MONTHS
    assert "is not a whole number" in entries[0]["errors"][0]["message"]
    assert entries[1]["urgency"] == "urgent"
    rows = triage.evaluate_table(table, rulepack=PACK).to_pylist()
    assert rows[0]["urgency"] is None
    assert rows[1]["urgency"] == "urgent"
