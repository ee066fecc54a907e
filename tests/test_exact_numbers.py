"""A number is read exactly as written: one that is not a whole number is never rounded into one.

JSON parsers read numbers as binary floats, and `0.99999999999999999` becomes
1.0: a paralysis that began less than a month ago would read as a month old,
and its urgency drop from urgent to soon. Every format reads the number as
written (SPEC §5: `6`, `"6"` and `6.0` are whole numbers; `6.5` is not).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import triage

PACK = triage.load_rulepack()
MONTHS = "months_since_paralysis"
RECENT = {
    "red_flags": "none",
    "cause": "peripheral_facial_paralysis",
    "severity": "mild",
    "treated_early": "no",
}
"""An untreated paralysis: under a month is urgent, a month or more is soon (the pack's rules U3, U4)."""
ALMOST_ONE = "0.99999999999999999"


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
    value = triage.answers.read_value(PACK.questions[MONTHS], written)
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
