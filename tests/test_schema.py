"""JSON Schema of answer records and results: a standard validator agrees with the product."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from itertools import product
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter
from samples import OTHER, PARALYSIS

import triage
from triage import evaluate
from triage.core.answerspace import answer_space, domain
from triage.core.models import RecordError
from triage.core.pack import RulePack
from triage.core.vocabulary import AnswerValue, Condition
from triage.interop.schema import answers_schema, condition_schema, result_schema


@pytest.fixture(scope="module")
def validator(pack: RulePack) -> jsonschema.Draft202012Validator:
    schema = answers_schema(pack)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=None)


def product_accepts(record: object, pack: RulePack) -> bool:
    try:
        triage.read_answers(record, pack)
    except triage.InvalidAnswers:
        return False
    return True


def assert_agree(record: object, pack: RulePack, validator: jsonschema.Draft202012Validator) -> bool:
    product = product_accepts(record, pack)
    schema = validator.is_valid(record)
    assert schema == product, f"schema says {schema}, product says {product} for {record!r}"
    return product


def test_schemas_are_valid_draft_2020_12(pack: RulePack) -> None:
    """Both generated schemas are themselves valid JSON Schema 2020-12 documents."""
    for schema in (answers_schema(pack), result_schema(pack)):
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        jsonschema.Draft202012Validator.check_schema(schema)


def test_option_ids_are_enums(pack: RulePack) -> None:
    """Each choice question's answer definition lists its option ids as an enum."""
    defs = answers_schema(pack)["$defs"]
    assert defs["answer.cause"]["anyOf"][0]["enum"] == list(pack.questions["cause"].option_ids())
    assert {"type": "integer", "minimum": 0, "maximum": 1200}.items() <= defs[
        "answer.months_since_paralysis"
    ]["anyOf"][0].items()


@pytest.mark.parametrize("example", triage.load_rulepack().document.examples, ids=lambda e: e.name)
def test_every_pack_example_is_valid(
    example: Any, pack: RulePack, validator: jsonschema.Draft202012Validator
) -> None:
    """Every example answer record of the pack is valid for both the schema and the product."""
    assert assert_agree(example.answers, pack, validator)


def renderings(pack: RulePack, values: dict[str, AnswerValue]) -> Iterator[dict[str, object]]:
    """The same answers written in each alternative form SPEC §5 allows."""
    yield {q: sorted(v) if isinstance(v, frozenset) else v for q, v in values.items()}
    alt: dict[str, object] = {"id": "r-1"}
    loose: dict[str, object] = {"id": 7}
    for q, v in values.items():
        if isinstance(v, frozenset):
            alt[q] = "; ".join(sorted(v)) if v else "none"
            loose[q] = [f" {o} " for o in sorted(v)] if v else ["None"]
        elif isinstance(v, int):
            alt[q] = str(v)
            loose[q] = float(v)
        else:
            alt[q] = {"yes": True, "no": False}.get(v, v)
            loose[q] = f"  {v}\t"
    yield alt
    yield loose


def test_whole_answer_space_in_every_form_is_valid(
    pack: RulePack, validator: jsonschema.Draft202012Validator
) -> None:
    """Every complete answer set, in every accepted form, is valid for both schema and product."""
    count = 0
    for values in answer_space(pack):
        for record in renderings(pack, values):
            assert assert_agree(record, pack, validator)
            count += 1
    assert count > 300


def without(record: dict[str, object], key: str) -> dict[str, object]:
    return {k: v for k, v in record.items() if k != key}


INVALID = {
    "separators only are not none": OTHER | {"related_findings": " ; ;"},
    "not a mapping": ["red_flags"],
    "no red flags answer": {"cause": "fshd", "severity": "mild"},
    "red flags null": {"red_flags": None, "cause": "fshd", "severity": "mild"},
    "none next to a flag": {"red_flags": ["none", "stroke_signs"]},
    "none next to a flag as text": {"red_flags": "none;sudden_onset"},
    "none twice": {"red_flags": "none;none"},
    "blank red flags": {"red_flags": "  "},
    "empty id in a list": {"red_flags": [""]},
    "flag misspelt": {"red_flags": ["stroke"]},
    "flag not text": {"red_flags": [1]},
    "no cause": {"red_flags": [], "severity": "mild"},
    "no severity": {"red_flags": "none", "cause": "fshd"},
    "cause null": {"red_flags": [], "cause": None, "severity": "mild"},
    "cause upper case": {"red_flags": [], "cause": "FSHD", "severity": "mild"},
    "cause true": {"red_flags": [], "cause": True, "severity": "mild"},
    "empty severity": {"red_flags": [], "cause": "fshd", "severity": ""},
    "no months for a paralysis": without(PARALYSIS, "months_since_paralysis"),
    "no treated_early for a paralysis": without(PARALYSIS, "treated_early"),
    "no eye_problems for a paralysis (a pack 1.x record)": without(PARALYSIS, "eye_problems"),
    "no eye_problems for a central paralysis": without(PARALYSIS, "eye_problems")
    | {"cause": "central_facial_paralysis"},
    "eye_problems null": PARALYSIS | {"eye_problems": None},
    "eye_problems blank": PARALYSIS | {"eye_problems": " ; "},
    "eye problem misspelt": PARALYSIS | {"eye_problems": ["cant_close"]},
    "eye problems none next to a choice": PARALYSIS | {"eye_problems": "none;cannot_close"},
    "no worsening for another cause": without(OTHER, "worsening"),
    "no related findings for another cause": without(OTHER, "related_findings"),
    "related findings null": OTHER | {"related_findings": None},
    "months 6.5": PARALYSIS | {"months_since_paralysis": 6.5},
    "months -1": PARALYSIS | {"months_since_paralysis": -1},
    "months 1201": PARALYSIS | {"months_since_paralysis": 1201},
    "months '1201'": PARALYSIS | {"months_since_paralysis": "1201"},
    "months '6.5'": PARALYSIS | {"months_since_paralysis": "6.5"},
    "months true": PARALYSIS | {"months_since_paralysis": True},
    "months empty": PARALYSIS | {"months_since_paralysis": ""},
    "months a list": PARALYSIS | {"months_since_paralysis": [3]},
    "treated_early false is no, but maybe is nothing": PARALYSIS | {"treated_early": "maybe"},
    "severity true (no yes option)": {"red_flags": [], "cause": "fshd", "severity": True},
    "unknown key": PARALYSIS | {"severty": "mild"},
    "id a boolean": PARALYSIS | {"id": True},
    "id a list": PARALYSIS | {"id": ["a"]},
    "finding misspelt": OTHER | {"related_findings": "family_history;shoulder"},
}


@pytest.mark.parametrize("record", INVALID.values(), ids=INVALID.keys())
def test_invalid_records_are_refused_by_both(
    record: object, pack: RulePack, validator: jsonschema.Draft202012Validator
) -> None:
    """Records that break a rule of SPEC §5 are refused by the schema as by the product."""
    assert not assert_agree(record, pack, validator)


VALID_ODDITIES = {
    "unasked answer is ignored even if wrong": {"red_flags": ["stroke_signs"], "cause": "nonsense"},
    "unasked number out of range": {
        "red_flags": [],
        "cause": "fshd",
        "severity": "mild",
        "months_since_paralysis": -5,
    },
    "null for an unasked question": {"red_flags": [], "cause": "fshd", "severity": "mild", "worsening": None},
    "eye problems not asked without a paralysis": OTHER | {"eye_problems": "cannot_close"},
    "both eye problems as text": PARALYSIS | {"eye_problems": "painful_or_red; cannot_close"},
    "face droop alone": {"red_flags": "sudden_face_droop"},
    "none in capitals": OTHER | {"related_findings": ["NONE"]},
    "duplicate choice": OTHER | {"related_findings": ["family_history", "family_history"]},
    "empty parts in the text form": OTHER | {"related_findings": ";family_history;;"},
    "number with sign and zeros": PARALYSIS | {"months_since_paralysis": "+0012.00"},
    "minus zero": PARALYSIS | {"months_since_paralysis": "-0"},
    "false for no": PARALYSIS | {"treated_early": False},
    "integer id": PARALYSIS | {"id": 17},
    "null id": PARALYSIS | {"id": None},
}


@pytest.mark.parametrize("record", VALID_ODDITIES.values(), ids=VALID_ODDITIES.keys())
def test_accepted_alternative_forms_are_valid_for_both(
    record: object, pack: RulePack, validator: jsonschema.Draft202012Validator
) -> None:
    """The less obvious forms the product accepts are accepted by the schema too."""
    assert assert_agree(record, pack, validator)


def test_whole_numbers_as_text_agree(pack: RulePack, validator: jsonschema.Draft202012Validator) -> None:
    """Every whole number around the range, as text and as a number, gets the same verdict from both."""
    answer = jsonschema.Draft202012Validator(answers_schema(pack)["$defs"]["answer.months_since_paralysis"])
    accepted = set()
    for number in range(-15, 1215):
        for form in (number, float(number), str(number), f"0{number}", f" {number}.0 ", f"+{number}"):
            product = product_accepts(PARALYSIS | {"months_since_paralysis": form}, pack)
            assert answer.is_valid(form) == product, form
            if product:
                accepted.add(number)
    assert accepted == set(range(1201))
    for number in (-1, 0, 5, 6, 1200, 1201):  # and the same through the whole record schema
        assert_agree(PARALYSIS | {"months_since_paralysis": str(number)}, pack, validator)


def test_documented_differences(pack: RulePack, validator: jsonschema.Draft202012Validator) -> None:
    """The schema differs from the product only where its docstring says: an id of 1.0, non-ASCII digits,
    and a number that a float would round into a whole one."""
    record = PARALYSIS | {"id": 1.0}
    assert validator.is_valid(record)
    assert not product_accepts(record, pack)
    record = PARALYSIS | {"months_since_paralysis": "\u0666"}  # ARABIC-INDIC DIGIT SIX
    assert product_accepts(record, pack)
    assert not validator.is_valid(record)
    # A validator given JSON parsed into floats sees 0.99999999999999999 as 1.0; the product reads it as written.
    text = json.dumps(PARALYSIS | {"months_since_paralysis": 0})
    text = text.replace('"months_since_paralysis": 0', '"months_since_paralysis": 0.99999999999999999')
    assert "0.99999999999999999" in text
    assert validator.is_valid(json.loads(text))
    assert not product_accepts(json.loads(text, parse_float=Decimal), pack)


def _answers(pack: RulePack) -> st.SearchStrategy[dict[str, object]]:
    """Records mixing valid, alternative and wrong answers, missing keys and unknown keys."""
    junk = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-3, 1300),
        st.floats(allow_nan=False, allow_infinity=False, min_value=-2, max_value=8),
        st.sampled_from(["", " ", ";", "none", "None; none", "x", "yes", "no", "7", "6.5", "-1"]),
        st.lists(st.sampled_from(["none", "", "x"]), max_size=2),
    )
    per_question = {}
    for question in pack.document.questions:
        ids = list(question.option_ids())
        if question.type == "single":
            good: st.SearchStrategy[object] = st.sampled_from([*ids, f" {ids[0]} ", ids[-1].upper()])
        elif question.type == "multi":
            part = st.sampled_from([*ids, "none", f" {ids[0]}", "NONE"])
            good = st.one_of(st.lists(part, max_size=3), st.lists(part, max_size=3).map(";".join))
        else:
            good = st.one_of(st.integers(-2, 1202), st.integers(0, 8).map(str), st.integers(0, 8).map(float))
        per_question[question.id] = st.one_of(good, good, junk)
    keys = st.fixed_dictionaries(
        {}, optional={**per_question, "id": st.one_of(st.text(max_size=3), st.integers(0, 9), st.none())}
    )
    extra = st.dictionaries(st.sampled_from(["severty", "Cause", "notes"]), st.just("x"), max_size=1)
    return st.builds(lambda a, b: {**a, **b}, keys, st.one_of(st.just({}), st.just({}), extra))


@settings(max_examples=400, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record=_answers(triage.load_rulepack()))
def test_schema_agrees_with_the_product_on_random_records(record: dict[str, object]) -> None:
    """On arbitrary mixes of right, odd and wrong answers, the schema's verdict is the product's."""
    pack = triage.load_rulepack()
    validator = jsonschema.Draft202012Validator(answers_schema(pack))
    assert_agree(record, pack, validator)


def test_every_result_of_the_answer_space_matches_the_result_schema(pack: RulePack) -> None:
    """Every result the engine can give, as JSON, is valid for the result schema."""
    validator = jsonschema.Draft202012Validator(result_schema(pack))
    seen = set()
    for values in answer_space(pack):
        record = {q: sorted(v) if isinstance(v, frozenset) else v for q, v in values.items()}
        result = json.loads(evaluate(record, rulepack=pack).model_dump_json())
        validator.validate(result)
        seen.add(result["prognosis"]["category"])
    assert seen == {c.id for c in pack.document.prognosis.categories}


def test_result_schema_refuses_broken_results(pack: RulePack) -> None:
    """A result without its disclaimer, or with an urgency the pack does not define, is refused."""
    validator = jsonschema.Draft202012Validator(result_schema(pack))
    good = json.loads(evaluate({"red_flags": [], "cause": "fshd", "severity": "mild"}).model_dump_json())
    assert validator.is_valid(good)
    assert validator.is_valid(good | {"new_field": 1})  # SPEC §6: fields may be added
    assert not validator.is_valid(without(good, "disclaimer"))
    assert not validator.is_valid(good | {"disclaimer": ""})
    assert not validator.is_valid(good | {"urgency": "whenever"})
    assert not validator.is_valid(good | {"suggestions": []})
    bad_category = good | {"prognosis": good["prognosis"] | {"category": "cured"}}
    assert not validator.is_valid(bad_category)


def test_result_schema_accepts_record_errors(pack: RulePack) -> None:
    """The errors given in place of a result for an invalid record are valid entries too."""
    validator = jsonschema.Draft202012Validator(result_schema(pack))
    error = RecordError(id="r", source="a.csv:2", errors=(triage.Problem(field="cause", message="m"),))
    assert validator.is_valid(json.loads(error.model_dump_json()))
    assert not validator.is_valid({"id": "r", "errors": []})


@pytest.mark.parametrize("kind", ["answers", "result"])
def test_schema_command(kind: str, tmp_path: Any, pack: RulePack) -> None:
    """`triage schema KIND` prints the schema, and `-o FILE` writes the same schema to a file."""
    command = [sys.executable, "-m", "triage", "schema", kind]
    printed = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    expected = answers_schema(pack) if kind == "answers" else result_schema(pack)
    assert json.loads(printed) == expected
    target = tmp_path / f"{kind}.schema.json"
    done = subprocess.run([*command, "-o", str(target)], capture_output=True, text=True, check=True)
    assert done.stdout == ""
    assert json.loads(target.read_text()) == expected


def test_schema_command_refuses_an_unknown_kind() -> None:
    """`triage schema` with an unknown kind is a usage error naming the allowed kinds."""
    done = subprocess.run(
        [sys.executable, "-m", "triage", "schema", "answer"], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "'answers', 'result'" in done.stderr


CONDITIONS = {
    "includes": {"question": "red_flags", "includes": "sudden_onset"},
    "not empty": {"question": "related_findings", "empty": False},
    "at least a parameter": {
        "question": "months_since_paralysis",
        "at_least": {"param": "long_standing_months"},
    },
    "below": {"question": "months_since_paralysis", "below": 1},
    "not below": {"not": {"question": "months_since_paralysis", "below": 1}},
    "a term of all and any": {"term": "flagged"},
    "any with a negation": {
        "any": [
            {"term": "hereditary"},
            {"not": {"question": "related_findings", "includes": "family_history"}},
        ]
    },
    "always": {"always": True},
}


def records_over(
    pack: RulePack, question_ids: set[str]
) -> Iterator[tuple[dict[str, object], dict[str, AnswerValue]]]:
    """Raw records answering (or not) the given questions, each with the values the engine reads from it."""
    questions = [q for q in pack.document.questions if q.id in question_ids]
    choices = [(*domain(pack, q), None) for q in questions]
    for index, combination in enumerate(product(*choices)):
        raw: dict[str, object] = {}
        values: dict[str, AnswerValue] = {}
        for question, value in zip(questions, combination, strict=True):
            if value is None:
                continue
            raw[question.id] = list(renderings(pack, {question.id: value}))[index % 3][question.id]
            if question.asked_when is None or question.asked_when.holds(values, pack):
                values[question.id] = value
        yield raw, values


@pytest.mark.parametrize("raw", CONDITIONS.values(), ids=CONDITIONS.keys())
def test_compiled_conditions_hold_exactly_when_the_engine_s_do(raw: dict[str, Any], pack: RulePack) -> None:
    """A condition compiled to JSON Schema holds on a raw record exactly when the engine's condition holds."""
    condition = TypeAdapter(Condition).validate_python(raw)
    read = set(pack.questions_read(condition))
    while (wider := read.union(*(pack.asked_depends_on[q] for q in read))) != read:
        read = wider  # and the questions that decide whether those were asked
    schema = answers_schema(pack)
    checker = jsonschema.Draft202012Validator(
        {"$defs": schema["$defs"], "allOf": [condition_schema(pack, condition)]}
    )
    count = 0
    for record, values in records_over(pack, read):
        assert checker.is_valid(record) == condition.holds(values, pack), (record, values)
        count += 1
    assert count >= 1


def test_schema_command_reports_an_unwritable_file(tmp_path: Any) -> None:
    """`-o` into a missing folder is a usage error naming the file, without a traceback."""
    target = tmp_path / "missing" / "answers.schema.json"
    command = [sys.executable, "-m", "triage", "schema", "answers", "-o", str(target)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 2
    assert f"cannot write {target}" in done.stderr
    assert "Traceback" not in done.stderr
