"""Reading answer records: one test per rule of SPEC §5."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from samples import FSHD, OTHER, PARALYSIS

import triage


def problems(record: object) -> dict[str, str]:
    with pytest.raises(triage.InvalidAnswers) as caught:
        triage.read_answers(record, triage.load_rulepack())
    return {p.field: p.message for p in caught.value.problems}


def values(record: dict[str, Any]) -> dict[str, object]:
    return dict(triage.read_answers(record, triage.load_rulepack()).values)


def test_missing_red_flags_is_an_error_never_none() -> None:
    """A record without red_flags is invalid: a missing screen is never read as 'no red flags'."""
    record = {k: v for k, v in FSHD.items() if k != "red_flags"}
    message = problems(record)["red_flags"]
    assert "never read as none" in message
    assert 'write "none" or []' in message


@pytest.mark.parametrize("none", [[], "none", ["none"], "None", " none "])
def test_forms_of_none(none: object) -> None:
    """[], "none" and ["none"] all mean no red flags."""
    assert values(FSHD | {"red_flags": none})["red_flags"] == frozenset()


@pytest.mark.parametrize("flags", [["none", "stroke_signs"], "none;sudden_onset"])
def test_none_next_to_a_flag_is_a_contradiction(flags: object) -> None:
    """'none' together with a flag is an error, not a guess either way."""
    assert "cannot be combined" in problems({"red_flags": flags})["red_flags"]


@pytest.mark.parametrize("field", ["cause", "severity"])
def test_cause_and_severity_required_without_red_flags(field: str) -> None:
    """Without red flags, cause and severity must be answered; the message lists the choices."""
    record = {k: v for k, v in FSHD.items() if k != field}
    message = problems(record)[field]
    assert "needs an answer" in message
    assert "Allowed:" in message


@pytest.mark.parametrize("field", ["months_since_paralysis", "treated_early", "eye_problems"])
def test_questions_enabled_by_a_paralysis_are_required(field: str) -> None:
    """A paralysis cause makes months_since_paralysis, treated_early and eye_problems required."""
    record = {k: v for k, v in PARALYSIS.items() if k != field}
    assert field in problems(record)


@pytest.mark.parametrize("cause", ["peripheral_facial_paralysis", "central_facial_paralysis"])
def test_a_paralysis_record_of_pack_1_without_eye_problems_is_refused(cause: str) -> None:
    """A record written for pack 1.x (no eye_problems after a paralysis) is refused, naming the question;
    the missing answer is never read as "none", whatever the eye."""
    record = {k: v for k, v in PARALYSIS.items() if k != "eye_problems"} | {"cause": cause}
    found = problems(record)
    assert set(found) == {"eye_problems"}
    assert "a missing answer is never read as none" in found["eye_problems"]
    assert 'write "none" or []' in found["eye_problems"]
    assert triage.evaluate(record | {"eye_problems": "none"}).urgency == "routine"


@pytest.mark.parametrize("field", ["worsening", "related_findings"])
def test_questions_enabled_by_other_cause_are_required(field: str) -> None:
    """An other or unknown cause makes worsening and related_findings required."""
    record = {k: v for k, v in OTHER.items() if k != field}
    assert field in problems(record)


def test_every_problem_is_reported_at_once() -> None:
    """All problems of a record come together, so a person can fix them in one go."""
    found = problems({"red_flags": [], "cuase": "fshd", "severity": "worst", "id": 1.5})
    assert set(found) == {"cuase", "cause", "severity", "id"}


def test_unasked_answers_are_ignored_with_a_warning() -> None:
    """Answers to questions that were not asked are dropped and reported as warnings."""
    read = triage.read_answers(
        FSHD | {"months_since_paralysis": 4, "worsening": "yes"}, triage.load_rulepack()
    )
    assert "months_since_paralysis" not in read.values
    assert {w.field for w in read.warnings} == {"months_since_paralysis", "worsening"}
    assert all("ignored" in w.message for w in read.warnings)


def test_unknown_key_names_the_closest_id() -> None:
    """An unknown key is an error naming the key's closest known id."""
    assert "Did you mean 'severity'?" in problems(FSHD | {"severty": "mild"})["severty"]


@pytest.mark.parametrize(
    ("field", "value", "hint"), [("cause", "FSHD", "'fshd'"), ("severity", "milde", "'mild'")]
)
def test_option_values_are_exact_ids(field: str, value: str, hint: str) -> None:
    """Option values must be the ids exactly; a near miss is named."""
    message = problems(FSHD | {field: value})[field]
    assert f"Did you mean {hint}?" in message
    assert "Allowed:" in message


def test_multi_select_as_one_string() -> None:
    """A multi-select may be one string of ids separated by ';' (the CSV form)."""
    read = values(OTHER | {"related_findings": "family_history; shoulder_arm_weakness"})
    assert read["related_findings"] == frozenset({"family_history", "shoulder_arm_weakness"})


def test_unknown_multi_select_option() -> None:
    """An unknown id inside a multi-select is named with the allowed ids."""
    message = problems(OTHER | {"related_findings": ["family_histroy"]})["related_findings"]
    assert "'family_histroy'" in message
    assert "Did you mean 'family_history'?" in message


@pytest.mark.parametrize(("raw", "read"), [(True, "yes"), (False, "no")])
def test_booleans_read_as_yes_and_no(raw: bool, read: str) -> None:
    """YAML's unquoted yes/no arrive as booleans and are read as yes and no."""
    assert values(PARALYSIS | {"treated_early": raw})["treated_early"] == read


def test_booleans_are_not_accepted_elsewhere() -> None:
    """A boolean is no answer to a question without yes and no options."""
    assert "severity" in problems(FSHD | {"severity": True})


@pytest.mark.parametrize("months", [6, "6", 6.0, " 6 ", "6.0"])
def test_whole_numbers_accepted(months: object) -> None:
    """6, "6" and 6.0 are all the whole number 6."""
    assert values(PARALYSIS | {"months_since_paralysis": months})["months_since_paralysis"] == 6


@pytest.mark.parametrize("months", [6.5, -1, 1201, True, "", "six", "1_0", float("nan"), None, [6]])
def test_whole_numbers_rejected(months: object) -> None:
    """6.5, -1, 1201, true and "" are errors that state the allowed range."""
    message = problems(PARALYSIS | {"months_since_paralysis": months})["months_since_paralysis"]
    assert "0 to 1200" in message


@pytest.mark.parametrize("record", [None, 3, "answers", ["red_flags"]])
def test_a_record_must_be_a_mapping(record: object) -> None:
    """Anything but a mapping is one clear error about the record."""
    assert "must be a mapping" in problems(record)["(record)"]


def test_record_id_is_kept() -> None:
    """The optional id names the respondent in the result; a number id is read as text."""
    assert triage.evaluate(FSHD | {"id": "resp-17"}).id == "resp-17"
    assert triage.evaluate(FSHD | {"id": 17}).id == "17"
    assert "id" in problems(FSHD | {"id": ["x"]})


def test_undetermined_questions_are_not_reported_twice() -> None:
    """When the cause is invalid, the questions that depend on it are not also called missing."""
    assert set(problems({"red_flags": [], "cause": "bells", "severity": "mild"})) == {"cause"}


def test_answers_built_by_hand_are_checked_again() -> None:
    """An Answers object is read like any record: a missing answer is an error, never a default."""
    incomplete = triage.Answers(
        values={"red_flags": frozenset(), "cause": "peripheral_facial_paralysis", "severity": "mild"}
    )
    found = problems(incomplete)
    assert set(found) == {"months_since_paralysis", "treated_early", "eye_problems"}
    complete = triage.read_answers(PARALYSIS, triage.load_rulepack())
    assert triage.read_answers(complete, triage.load_rulepack()) == complete


def test_an_invalid_record_with_an_alarm_says_so() -> None:
    """A record refused only for an extra key, whose answers show signs of a stroke, says it calls for an emergency."""
    found = problems({"red_flags": ["stroke_signs"], "notes": "seen at desk"})
    assert set(found) == {"notes", "(urgency)"}
    assert "EMERGENCY" in found["(urgency)"]
    assert "(urgency)" not in problems(FSHD | {"notes": "x"})  # routine answers add nothing
    assert "(urgency)" not in problems({"red_flags": "stroke"})  # answers not complete: nothing to say


@pytest.mark.parametrize(
    ("months", "read"),
    [
        (Decimal("6"), 6),
        (Decimal("6.0"), 6),
        (Decimal("6.000"), 6),
        (Decimal("0.6E+1"), 6),
        (Decimal("0.99999999999999999"), None),
        (Decimal("6.0000000000000001"), None),
        (Decimal("1E-400"), None),
        (Decimal("1E+400000"), None),
        (Decimal("NaN"), None),
        (Decimal("-Infinity"), None),
    ],
)
def test_a_number_read_as_written_is_whole_only_when_exactly_whole(months: Decimal, read: int | None) -> None:
    """A number kept as written (JSON, YAML) is a whole number only when its written value is exactly one."""
    if read is None:
        assert (
            "0 to 1200" in problems(PARALYSIS | {"months_since_paralysis": months})["months_since_paralysis"]
        )
    else:
        assert values(PARALYSIS | {"months_since_paralysis": months})["months_since_paralysis"] == read


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (datetime.date(2024, 1, 1), "the date 2024-01-01"),
        (datetime.datetime(2024, 1, 1, 9, 30), "the date and time 2024-01-01 09:30:00"),
        (b"\x00\x01", "binary data"),
        ({"a"}, "a set"),
        ((1, 2), "a list"),
        (Decimal("0.99999999999999999"), "0.99999999999999999"),
        (Decimal("6.5"), "6.5"),
        (Decimal("1" * 60), "a number too long to show"),
        (2**300, "a number too long to show"),
        (object(), "a value of another kind (object)"),
    ],
)
def test_values_of_other_kinds_are_named_in_words(value: object, shown: str) -> None:
    """A date, binary data, a set or an exact number is named in words in a message, never as Python writes it."""
    message = problems({**FSHD, "id": value})["id"]
    assert message.startswith(f"{shown} cannot name a respondent")
