"""FHIR: the exported Questionnaire, its enableWhen logic, and QuestionnaireResponse in and out."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from itertools import product
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from pydantic import TypeAdapter

import triage
from triage.core.answerspace import answer_space, domain
from triage.core.pack import NONE, RulePack
from triage.core.vocabulary import AnswerValue, Condition
from triage.fhir import (
    FhirExportError,
    enable_when,
    is_fhir_resource,
    option_system,
    questionnaire,
    questionnaire_url,
    records_from_fhir,
    response_from_record,
)

# Codes of the R4 value sets the exported Questionnaire uses (fhir.resources checks structure only).
R4_ITEM_TYPES = {"group", "display", "boolean", "decimal", "integer", "date", "dateTime", "time"} | {
    "string",
    "text",
    "url",
    "choice",
    "open-choice",
    "attachment",
    "reference",
    "quantity",
}
R4_OPERATORS = {"exists", "=", "!=", ">", "<", ">=", "<="}


@pytest.fixture(scope="module")
def exported(pack: RulePack) -> dict[str, Any]:
    return questionnaire(pack)


def record_of(values: Mapping[str, AnswerValue]) -> dict[str, object]:
    return {q: sorted(v) if isinstance(v, frozenset) else v for q, v in values.items()}


# The Questionnaire --------------------------------------------------------------------------------


def test_questionnaire_validates_with_r4b(exported: dict[str, Any], pack: RulePack) -> None:
    """The export parses as an R4B Questionnaire and names the pack, its version and its URL."""
    model = Questionnaire.model_validate(exported)
    assert model.get_resource_type() == "Questionnaire"
    assert type(model).__module__.startswith("fhir.resources.R4B.")
    assert model.url == questionnaire_url(pack)
    assert model.version == pack.info.version
    assert model.title == pack.document.title
    assert model.name is not None
    assert model.name[0].isupper()
    assert model.name.replace("_", "").isalnum()


def test_questionnaire_follows_r4_codes_and_invariants(exported: dict[str, Any]) -> None:
    """Codes come from the R4 value sets, and enableBehavior is there exactly when enableWhen has several tests (que-12)."""
    assert exported["status"] in {"draft", "active", "retired", "unknown"}
    link_ids = [item["linkId"] for item in exported["item"]]
    assert len(link_ids) == len(set(link_ids))
    for item in exported["item"]:
        assert item["type"] in R4_ITEM_TYPES
        conditions = item.get("enableWhen", [])
        assert ("enableBehavior" in item) == (len(conditions) > 1)
        assert item.get("enableBehavior", "all") in {"all", "any"}
        for condition in conditions:
            assert condition["operator"] in R4_OPERATORS
            answer_keys = [k for k in condition if k.startswith("answer")]
            assert len(answer_keys) == 1
            if condition["operator"] == "exists":  # que-7
                assert answer_keys == ["answerBoolean"]
            assert link_ids.index(condition["question"]) < link_ids.index(item["linkId"])
        if "answerOption" in item:  # que-4, que-5: options only on choice items
            assert item["type"] in {"choice", "open-choice"}


def test_items_mirror_the_questions(exported: dict[str, Any], pack: RulePack) -> None:
    """One item per question, in order: choices with the option ids as codes, repeats for multi-selects, integer ranges, required."""
    items = {item["linkId"]: item for item in exported["item"]}
    assert list(items) == list(pack.questions)
    for question in pack.document.questions:
        item = items[question.id]
        assert item["text"] == question.prompt
        assert item["required"] is True
        assert item.get("repeats", False) == (question.type == "multi")
        if question.type == "number":
            assert item["type"] == "integer"
            bounds = {e["url"].rsplit("/", 1)[1]: e["valueInteger"] for e in item["extension"]}
            assert bounds == {"minValue": question.min, "maxValue": question.max}
            continue
        assert item["type"] == "choice"
        codings = [option["valueCoding"] for option in item["answerOption"]]
        assert {c["system"] for c in codings} == {option_system(pack, question.id)}
        expected = list(question.option_ids()) + ([NONE] if question.type == "multi" else [])
        assert [c["code"] for c in codings] == expected
        labels = {o.id: o.label for o in question.options} | {NONE: question.none_label}
        assert all(c["display"] == labels[c["code"]] for c in codings)
        if question.type == "multi":
            assert item["answerOption"][-1]["extension"][0]["valueBoolean"] is True  # "none" is exclusive


# A small evaluator of R4 enableWhen, as a FHIR form filler applies it.


def fhir_values(answers: list[dict[str, Any]]) -> list[object]:
    out: list[object] = []
    for answer in answers:
        if "valueCoding" in answer:
            out.append((answer["valueCoding"]["system"], answer["valueCoding"]["code"]))
        else:
            out.append(answer["valueInteger"])
    return out


def condition_holds(test: dict[str, Any], answers: list[dict[str, Any]]) -> bool:
    """One enableWhen on the answers of an enabled item ([] for an unanswered or disabled one)."""
    values = fhir_values(answers)
    if "answerCoding" in test:
        target: object = (test["answerCoding"]["system"], test["answerCoding"]["code"])
    else:
        target = test.get("answerInteger", test.get("answerBoolean"))
    operator = test["operator"]
    if operator == "exists":
        return bool(values) == target
    if operator == "=":
        return any(v == target for v in values)
    if operator == "!=":  # R4: true if no answer has a value equal to the enableWhen answer
        return not any(v == target for v in values)
    assert isinstance(target, int)
    compare = {">": int.__gt__, "<": int.__lt__, ">=": int.__ge__, "<=": int.__le__}[operator]
    return any(isinstance(v, int) and compare(v, target) for v in values)


def item_enabled(
    tests: list[dict[str, Any]], behavior: str | None, answers: Mapping[str, list[dict[str, Any]]]
) -> bool:
    if not tests:
        return True
    results = [condition_holds(t, list(answers.get(t["question"], []))) for t in tests]
    assert behavior in ({"all", "any"} if len(tests) > 1 else {None})
    return any(results) if behavior == "any" else all(results)


def fhir_answer(pack: RulePack, question_id: str, value: AnswerValue) -> list[dict[str, Any]]:
    system = option_system(pack, question_id)
    if isinstance(value, frozenset):
        return [{"valueCoding": {"system": system, "code": c}} for c in sorted(value) or [NONE]]
    if isinstance(value, int):
        return [{"valueInteger": value}]
    return [{"valueCoding": {"system": system, "code": value}}]


def test_enable_when_asks_exactly_what_the_engine_asks_over_the_answer_space(
    exported: dict[str, Any], pack: RulePack
) -> None:
    """For every complete answer set, the enabled items are exactly the questions the engine asked."""
    count = 0
    for values in answer_space(pack):
        enabled: dict[str, list[dict[str, Any]]] = {}
        for item in exported["item"]:
            if item_enabled(item.get("enableWhen", []), item.get("enableBehavior"), enabled):
                enabled[item["linkId"]] = fhir_answer(pack, item["linkId"], values[item["linkId"]])
        assert set(enabled) == set(values), values
        count += 1
    assert count > 100


def test_enable_when_matches_the_engine_for_every_combination_of_answers(
    exported: dict[str, Any], pack: RulePack
) -> None:
    """With any answer or none given to every question, even those not asked, FHIR enables exactly what the engine asks."""
    items = exported["item"]
    questions = pack.document.questions
    checked = 0

    def walk(index: int, engine: dict[str, AnswerValue], enabled: dict[str, list[dict[str, Any]]]) -> None:
        nonlocal checked
        if index == len(questions):
            return
        question, item = questions[index], items[index]
        asked = question.asked_when is None or question.asked_when.holds(engine, pack)
        on = item_enabled(item.get("enableWhen", []), item.get("enableBehavior"), enabled)
        assert asked == on, (question.id, engine, enabled)
        checked += 1
        for value in (*domain(pack, question), None):
            if not asked or value is None:  # disabled, or left unanswered: no answer to read
                walk(index + 1, engine, enabled)
                continue
            walk(
                index + 1,
                {**engine, question.id: value},
                {**enabled, question.id: fhir_answer(pack, question.id, value)},
            )

    walk(0, {}, {})
    assert checked > 5000


CONDITION = TypeAdapter(Condition)
EXPRESSIBLE = {
    "single option": {"question": "cause", "in": ["fshd"]},
    "several options": {"question": "cause", "in": ["fshd", "opmd", "other"]},
    "not several options": {"not": {"question": "cause", "in": ["fshd", "opmd"]}},
    "includes": {"question": "red_flags", "includes": "sudden_onset"},
    "not includes": {"not": {"question": "red_flags", "includes": "sudden_onset"}},
    "empty": {"question": "related_findings", "empty": True},
    "not empty": {"question": "related_findings", "empty": False},
    "not (empty)": {"not": {"question": "related_findings", "empty": True}},
    "not (not empty)": {"not": {"question": "related_findings", "empty": False}},
    "at least": {"question": "months_since_paralysis", "at_least": {"param": "long_standing_months"}},
    "below": {"question": "months_since_paralysis", "below": 1},
    "not at least": {"not": {"question": "months_since_paralysis", "at_least": 6}},
    "not below": {"not": {"question": "months_since_paralysis", "below": 1}},
    "all of tests": {
        "all": [
            {"question": "red_flags", "empty": True},
            {"question": "cause", "in": ["other"]},
            {"question": "months_since_paralysis", "below": 6},
            {"not": {"question": "related_findings", "includes": "family_history"}},
        ]
    },
    "any of tests": {
        "any": [
            {"question": "cause", "in": ["fshd", "opmd"]},
            {"question": "related_findings", "empty": False},
            {"not": {"question": "months_since_paralysis", "at_least": 6}},
        ]
    },
    "not any (de Morgan)": {
        "not": {
            "any": [{"question": "cause", "in": ["fshd", "opmd"]}, {"question": "red_flags", "empty": False}]
        }
    },
    "not all (de Morgan)": {
        "not": {"all": [{"question": "cause", "in": ["fshd"]}, {"question": "severity", "in": ["mild"]}]}
    },
    "nested single-test groups": {
        "all": [{"any": [{"not": {"not": {"question": "cause", "in": ["fshd"]}}}]}, {"term": "no_red_flag"}]
    },
    "a term": {"term": "paralysis"},
    "always": {"always": True},
}
INEXPRESSIBLE = {
    "all of anys": {"all": [{"term": "paralysis"}, {"question": "severity", "in": ["mild", "moderate"]}]},
    "any inside all": {"all": [{"term": "paralysis"}, {"term": "no_red_flag"}]},
    "any of alls": {"term": "flagged"},
    "never": {"not": {"always": True}},
}


def combinations(pack: RulePack, question_ids: list[str]) -> Iterator[dict[str, AnswerValue]]:
    domains = [(*domain(pack, pack.questions[q]), None) for q in question_ids]
    for values in product(*domains):
        yield {q: v for q, v in zip(question_ids, values, strict=True) if v is not None}


@pytest.mark.parametrize("raw", EXPRESSIBLE.values(), ids=EXPRESSIBLE.keys())
def test_condition_translation_is_exact(raw: dict[str, Any], pack: RulePack) -> None:
    """Each translatable condition gives enableWhen tests that hold on exactly the answers the condition holds on."""
    condition = CONDITION.validate_python(raw)
    tests, behavior = enable_when(pack, "q", condition)
    read = sorted(pack.questions_read(condition), key=list(pack.questions).index)
    for values in combinations(pack, read):
        answers = {q: fhir_answer(pack, q, v) for q, v in values.items()}
        assert item_enabled(tests, behavior, answers) == condition.holds(values, pack), values


@pytest.mark.parametrize("raw", INEXPRESSIBLE.values(), ids=INEXPRESSIBLE.keys())
def test_untranslatable_conditions_fail_loudly(raw: dict[str, Any], pack: RulePack) -> None:
    """A condition that enableWhen cannot express is refused with a message naming the question."""
    with pytest.raises(FhirExportError, match=r"questions\[q\]\.asked_when cannot be written"):
        enable_when(pack, "q", CONDITION.validate_python(raw))


# QuestionnaireResponse out and in -----------------------------------------------------------------


def test_round_trip_is_identity_over_the_answer_space(pack: RulePack) -> None:
    """record -> QuestionnaireResponse -> record reads as the same answers, for every answer set."""
    count = 0
    for index, values in enumerate(answer_space(pack)):
        record = record_of(values) | {"id": f"r{index}"}
        response = response_from_record(record, pack)
        if index % 25 == 0:  # fhir.resources is slow: validate a spread of them
            QuestionnaireResponse.model_validate(response)
        [(where, back)] = records_from_fhir(json.loads(json.dumps(response)), pack)
        assert where == ""
        assert isinstance(back, dict), back
        again = triage.read_answers(back, pack)
        assert again.values == values
        assert again.id == f"r{index}"
        count += 1
    assert count > 100


def test_response_shape(pack: RulePack) -> None:
    """A response names the questionnaire and version, is completed, and writes "none" as a coding."""
    record = {"id": "resp-17", "red_flags": "none", "cause": "other", "severity": "mild"} | {
        "worsening": True,
        "related_findings": [],
    }
    response = response_from_record(record, pack)
    QuestionnaireResponse.model_validate(response)
    assert response["questionnaire"] == f"{questionnaire_url(pack)}|{pack.info.version}"
    assert response["status"] == "completed"
    assert response["identifier"] == {"value": "resp-17"}
    answers = {item["linkId"]: item["answer"] for item in response["item"]}
    assert [a["valueCoding"]["code"] for a in answers["red_flags"]] == [NONE]
    assert answers["worsening"][0]["valueCoding"]["code"] == "yes"
    assert [a["valueCoding"]["code"] for a in answers["related_findings"]] == [NONE]


def test_response_from_an_invalid_record_raises(pack: RulePack) -> None:
    """An invalid record cannot be written as a response: the product's own errors are raised."""
    with pytest.raises(triage.InvalidAnswers, match="severity"):
        response_from_record({"red_flags": [], "cause": "fshd"}, pack)


@pytest.mark.parametrize("example", triage.load_rulepack().document.examples, ids=lambda e: e.name)
def test_response_evaluates_like_the_json_record(example: Any, pack: RulePack) -> None:
    """A pack example written as a QuestionnaireResponse gives the same result as the JSON record."""
    response = response_from_record(example.answers, pack)
    [(_, record)] = records_from_fhir(response, pack)
    assert isinstance(record, dict)
    assert triage.evaluate(record, rulepack=pack) == triage.evaluate(example.answers, rulepack=pack)


def test_bundle_of_responses_evaluates_entry_by_entry(pack: RulePack) -> None:
    """Each QuestionnaireResponse of a Bundle maps to its record, named by its entry index."""
    examples = pack.document.examples
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": response_from_record(e.answers, pack)} for e in examples],
    }
    Bundle.model_validate(bundle)
    mapped = records_from_fhir(bundle, pack)
    assert [where for where, _ in mapped] == [f"#entry[{i}]" for i in range(len(examples))]
    for (_, record), example in zip(mapped, examples, strict=True):
        assert isinstance(record, dict)
        assert triage.evaluate(record, rulepack=pack) == triage.evaluate(example.answers, rulepack=pack)


def test_is_fhir_resource() -> None:
    """A JSON object with a text resourceType is FHIR; answer records and other values are not."""
    assert is_fhir_resource({"resourceType": "QuestionnaireResponse"})
    assert is_fhir_resource({"resourceType": "Bundle", "entry": []})
    assert not is_fhir_resource({"red_flags": "none"})
    assert not is_fhir_resource([{"resourceType": "Bundle"}])
    assert not is_fhir_resource({"resourceType": 3})


PARALYSIS = {
    "id": "p-1",
    "red_flags": [],
    "cause": "peripheral_facial_paralysis",
    "severity": "mild",
    "months_since_paralysis": 3,
    "treated_early": "yes",
    "eye_problems": ["cannot_close"],
}


def broken(pack: RulePack, change: Any) -> dict[str, str]:
    """The problems of the PARALYSIS response after `change(response)`, by field."""
    response = copy.deepcopy(response_from_record(PARALYSIS, pack))
    change(response)
    [(_, mapped)] = records_from_fhir(response, pack)
    if isinstance(mapped, dict):  # mapped: the product's own reading finds what is wrong
        with pytest.raises(triage.InvalidAnswers) as caught:
            triage.read_answers(mapped, pack)
        mapped = caught.value
    assert mapped.record_id == "p-1"
    return {p.field: p.message for p in mapped.problems}


def items(response: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["linkId"]: item for item in response["item"]}


def test_unknown_link_id_is_named_with_the_closest_question(pack: RulePack) -> None:
    """An item whose linkId is no question is an error naming the closest question id."""

    def change(r: dict[str, Any]) -> None:
        items(r)["severity"]["linkId"] = "sevrity"

    found = broken(pack, change)
    assert "unknown linkId" in found["sevrity"]
    assert "Did you mean 'severity'?" in found["sevrity"]
    assert "needs an answer" in found["severity"]  # and the product's own check of what is left


def test_unknown_code_is_named_with_the_allowed_codes(pack: RulePack) -> None:
    """A coding whose code is no option of its question is an error listing the allowed codes."""

    def change(r: dict[str, Any]) -> None:
        items(r)["treated_early"]["answer"][0]["valueCoding"]["code"] = "yess"

    message = broken(pack, change)["treated_early"]
    assert "unknown code 'yess'" in message
    assert "Did you mean 'yes'?" in message
    assert "Codes: yes, no, not_sure." in message


def test_code_of_another_system_is_refused(pack: RulePack) -> None:
    """A coding from another code system is refused even when its code looks right."""

    def change(r: dict[str, Any]) -> None:
        items(r)["cause"]["answer"][0]["valueCoding"]["system"] = "http://snomed.info/sct"

    message = broken(pack, change)["cause"]
    assert "'http://snomed.info/sct'" in message
    assert option_system(pack, "cause") in message


@pytest.mark.parametrize(
    ("field", "answer", "expected"),
    [
        ("cause", [{"valueString": "fshd"}], "valueCoding with a code; got valueString"),
        ("months_since_paralysis", [{"valueDecimal": 3.0}], "valueInteger; got valueDecimal"),
        (
            "months_since_paralysis",
            [{"valueInteger": 3}, {"valueInteger": 4}],
            "one answer expected, 2 given",
        ),
        ("months_since_paralysis", [{"valueInteger": 1201}], "out of range"),
        (
            "red_flags",
            [{"valueCoding": {"code": "none"}}, {"valueCoding": {"code": "stroke_signs"}}],
            "cannot be combined",
        ),
    ],
)
def test_wrong_answer_values_are_explained(pack: RulePack, field: str, answer: object, expected: str) -> None:
    """Answers of the wrong FHIR type, too many answers and out-of-range values are explained per question."""

    def change(r: dict[str, Any]) -> None:
        items(r)[field]["answer"] = answer

    assert expected in broken(pack, change)[field]


@pytest.mark.parametrize("question", ["red_flags", "eye_problems"])
def test_missing_answer_is_never_read_as_none(pack: RulePack, question: str) -> None:
    """A response without a red_flags item, or without eye_problems after a paralysis (a response to the
    pack 1.x questionnaire), is invalid, as the JSON record would be."""

    def change(r: dict[str, Any]) -> None:
        r["item"] = [i for i in r["item"] if i["linkId"] != question]

    assert "never read as none" in broken(pack, change)[question]


@pytest.mark.parametrize(
    ("change", "field", "expected"),
    [
        (lambda r: r.update(status="entered-in-error"), "status", "entered in error"),
        (
            lambda r: r.update(questionnaire="http://example.org/Questionnaire/phq9"),
            "questionnaire",
            "not 'urn:",
        ),
        (lambda r: r["item"].append(r["item"][0]), "red_flags", "more than once"),
        (lambda r: r["item"][0].update(item=[{"linkId": "x"}]), "red_flags", "no nested items"),
        (lambda r: r["item"].append({"text": "?"}), "item[6]", "needs a linkId"),
        (lambda r: r.update(item=r["item"][0]), "item", "must be a list"),
        (lambda r: r["item"][1].update(answer={"valueCoding": {"code": "fshd"}}), "cause", "must be a list"),
    ],
    ids=[
        "entered-in-error",
        "other-questionnaire",
        "duplicate-linkId",
        "nested-items",
        "no-linkId",
        "item-not-a-list",
        "answer-not-a-list",
    ],
)
def test_response_level_problems(pack: RulePack, change: Any, field: str, expected: str) -> None:
    """Responses withdrawn, answering another questionnaire, or malformed are refused with a reason."""
    assert expected in broken(pack, change)[field]


def test_other_resources_and_empty_bundles_are_errors(pack: RulePack) -> None:
    """A resource that holds no answers, an empty Bundle and an entry without a resource are errors, not silence."""
    [(where, patient)] = records_from_fhir({"resourceType": "Patient"}, pack)
    assert where == ""
    assert isinstance(patient, triage.InvalidAnswers)
    assert "a Patient resource holds no answers" in str(patient)
    [(_, empty)] = records_from_fhir({"resourceType": "Bundle", "type": "collection"}, pack)
    assert isinstance(empty, triage.InvalidAnswers)
    assert "no entries" in str(empty)
    mixed = {
        "resourceType": "Bundle",
        "entry": [
            {"resource": {"resourceType": "Patient"}},
            {"fullUrl": "x"},
            {"resource": response_from_record(PARALYSIS, pack)},
        ],
    }
    out = records_from_fhir(mixed, pack)
    assert [where for where, _ in out] == ["#entry[0]", "#entry[1]", "#entry[2]"]
    assert isinstance(out[0][1], triage.InvalidAnswers)
    assert isinstance(out[1][1], triage.InvalidAnswers)
    assert "holds no resource" in str(out[1][1])
    assert isinstance(out[2][1], dict)
    assert triage.read_answers(out[2][1], pack) == triage.read_answers(PARALYSIS, pack)


def test_resource_id_names_the_record_when_there_is_no_identifier(pack: RulePack) -> None:
    """Without an identifier, the response's own id becomes the record's id."""
    response = response_from_record(PARALYSIS, pack)
    del response["identifier"]
    response["id"] = "qr-9"
    [(_, record)] = records_from_fhir(response, pack)
    assert isinstance(record, dict)
    assert record["id"] == "qr-9"


# The command ----------------------------------------------------------------------------------------


def test_export_fhir_command_writes_the_questionnaire(tmp_path: Any, exported: dict[str, Any]) -> None:
    """`triage export fhir -o FILE` writes the R4 Questionnaire; without -o it prints the same JSON."""
    target = tmp_path / "questionnaire.json"
    done = subprocess.run(
        [sys.executable, "-m", "triage", "export", "fhir", "-o", str(target)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    written = json.loads(target.read_text(encoding="utf-8"))
    assert written == exported
    Questionnaire.model_validate(written)
    printed = subprocess.run(
        [sys.executable, "-m", "triage", "export", "fhir"], capture_output=True, text=True, check=True
    )
    assert json.loads(printed.stdout) == exported


BLOCK_FHIR = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "fhir" or name.startswith("fhir."):
            raise ModuleNotFoundError(f"No module named {name!r}")
sys.meta_path.insert(0, Block())
from triage.apps.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_export_without_fhir_resources_says_how_to_install_it() -> None:
    """Without the fhir extra, `triage export fhir` exits 2 and names the pip command that installs it."""
    done = subprocess.run(
        [sys.executable, "-c", BLOCK_FHIR, "export", "fhir"], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "pip install 'triage[fhir]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_other_commands_do_not_load_fhir_resources() -> None:
    """Importing triage, and running another command, never imports fhir.resources (start-up stays fast)."""
    code = (
        "import sys, io, contextlib\nimport triage\nfrom triage.apps.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n    main(['questions'])\n    main(['schema', 'answers'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('fhir')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_export_refuses_a_pack_whose_branching_fhir_cannot_express(tmp_path: Any) -> None:
    """A pack whose asked_when mixes all and any is refused with the question named, not exported wrongly."""
    source = triage.load_rulepack().path.parent
    shutil.copytree(source, tmp_path / "pack")
    pack_file = tmp_path / "pack" / "pack.yaml"
    text = pack_file.read_text(encoding="utf-8")
    before = "    asked_when: {term: paralysis}\n    prompt: How many months"
    assert before in text
    pack_file.write_text(
        text.replace(
            before,
            "    asked_when: {all: [{term: paralysis}, {term: no_red_flag}]}\n    prompt: How many months",
        ),
        encoding="utf-8",
    )
    command = [sys.executable, "-m", "triage", "--rules", str(tmp_path / "pack"), "export", "fhir"]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 1
    assert "questions[months_since_paralysis].asked_when cannot be written as FHIR enableWhen" in done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda r: r.update(status="entered-in-error"), id="entered-in-error"),
        pytest.param(lambda r: r.update(questionnaire="urn:other"), id="another-questionnaire"),
        pytest.param(
            lambda r: items(r)["red_flags"]["answer"].append({"valueCoding": {"code": "strok_sign"}}),
            id="beside-an-unknown-code",
        ),
        pytest.param(
            lambda r: items(r)["red_flags"]["answer"].append({"valueCoding": {"code": NONE}}),
            id="beside-none",
        ),
        pytest.param(
            lambda r: items(r)["red_flags"].update(linkId="Red_Flags"), id="under-a-misspelt-link-id"
        ),
        pytest.param(
            lambda r: items(r)["red_flags"].update(answer={"code": "stroke_signs"}), id="not-a-list"
        ),
    ],
)
def test_a_refused_response_that_states_a_red_flag_says_what_it_calls_for(
    pack: RulePack, change: Any
) -> None:
    """A response refused for anything, whose items state stroke signs, says that they call for an emergency."""
    response = copy.deepcopy(response_from_record({"id": "s-1", "red_flags": ["stroke_signs"]}, pack))
    change(response)
    [(_, mapped)] = records_from_fhir(response, pack)
    if isinstance(mapped, dict):  # mapped: the product's own reading finds what is wrong
        with pytest.raises(triage.InvalidAnswers) as caught:
            triage.read_answers(mapped, pack)
        mapped = caught.value
    notes = [p.message for p in mapped.problems if p.field == "(urgency)"]
    assert len(notes) == 1
    assert pack.levels["emergency"].label in notes[0]
    assert mapped.problems[-1].field == "(urgency)"


def test_a_refused_response_without_a_red_flag_has_no_note(pack: RulePack) -> None:
    """A response refused without stating a red flag carries no (urgency) note."""
    response = response_from_record(PARALYSIS | {"treated_early": "yes"}, pack)
    response["status"] = "entered-in-error"
    [(_, mapped)] = records_from_fhir(response, pack)
    assert isinstance(mapped, triage.InvalidAnswers)
    assert [p.field for p in mapped.problems] == ["status"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda r: items(r)["cause"]["answer"][0]["valueCoding"].update(code="x" * 100_000), "cause"),
        (lambda r: items(r)["cause"]["answer"][0]["valueCoding"].update(system="s" * 100_000), "cause"),
        (lambda r: r.update(questionnaire="q" * 100_000), "questionnaire"),
        (lambda r: items(r)["cause"].update(answer=[{"value" + "v" * 100_000: 1}]), "cause"),
        (lambda r: items(r)["months_since_paralysis"].update(answer=[{"valueInteger": "9" * 100_000}]), None),
        (lambda r: items(r)["cause"].update(linkId="l" * 100_000), None),
        (lambda r: r.update(resourceType="R" * 100_000), "resourceType"),
    ],
)
def test_fhir_messages_never_echo_a_long_value(pack: RulePack, change: Any, field: str | None) -> None:
    """A 100 KB code, system, questionnaire, value key, linkId or resource type is shortened in every problem."""
    response = copy.deepcopy(response_from_record(PARALYSIS, pack))
    change(response)
    [(_, mapped)] = records_from_fhir(response, pack)
    assert isinstance(mapped, triage.InvalidAnswers)
    assert field is None or field in {p.field for p in mapped.problems}
    for problem in mapped.problems:
        assert len(problem.field) <= 120
        assert len(problem.message) <= 400, problem


NO_FLAG = {"id": "n-1", "red_flags": [], "cause": "fshd", "severity": "mild"}
STROKE_CODING = {"code": "stroke_signs"}
STROKE_ANSWER = {"valueCoding": STROKE_CODING}


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            lambda r: items(r)["red_flags"]["answer"][0].update(
                item=[{"linkId": "red_flags", "answer": [STROKE_ANSWER]}]
            ),
            id="an-item-nested-in-an-answer",
        ),
        pytest.param(
            lambda r: items(r)["red_flags"]["answer"][0].update(valueString="stroke_signs"),
            id="a-second-value-beside-the-coding",
        ),
        pytest.param(
            lambda r: r.update(
                contained=[{"resourceType": "QuestionnaireResponse", "item": [{"linkId": "red_flags", "answer": [STROKE_ANSWER]}]}]
            ),
            id="a-contained-response",
        ),
        pytest.param(
            lambda r: r.update(extension=[{"url": "urn:x", "valueCoding": STROKE_CODING}]), id="an-extension"
        ),
        pytest.param(
            lambda r: items(r)["cause"].update(modifierExtension=[{"url": "urn:x", "valueString": "stroke_signs"}]),
            id="a-modifier-extension-on-another-item",
        ),
        pytest.param(
            lambda r: items(r)["red_flags"]["answer"][0]["valueCoding"].update(display="stroke_signs"),
            id="the-display-of-none",
        ),
    ],
)
def test_a_red_flag_stated_outside_the_answers_read_is_never_a_result(pack: RulePack, change: Any) -> None:
    """A response whose answers say no red flag but which states stroke_signs elsewhere (a nested item, a
    second value, a contained response, an extension, a display) is refused with the emergency note,
    never read as routine."""
    response = copy.deepcopy(response_from_record(NO_FLAG, pack))
    change(response)
    [(_, mapped)] = records_from_fhir(response, pack)
    assert isinstance(mapped, triage.InvalidAnswers), mapped
    notes = [p.message for p in mapped.problems if p.field == "(urgency)"]
    assert len(notes) == 1
    assert "stroke_signs" in notes[0]
    assert pack.levels["emergency"].label in notes[0]


def test_a_contained_questionnaire_is_no_red_flag(pack: RulePack) -> None:
    """A response that carries its Questionnaire (which lists every option) is read as its answers say."""
    response = copy.deepcopy(response_from_record(NO_FLAG, pack))
    response["contained"] = [questionnaire(pack)]
    [(_, mapped)] = records_from_fhir(response, pack)
    assert triage.evaluate(mapped, rulepack=pack).urgency == "routine"


@pytest.mark.parametrize("first", [True, False], ids=["unanswered-first", "unanswered-second"])
def test_a_link_id_given_twice_is_refused_even_when_one_is_unanswered(pack: RulePack, first: bool) -> None:
    """Two red_flags items, one unanswered, refuse the response in either order."""
    response = copy.deepcopy(response_from_record(NO_FLAG, pack))
    empty = {"linkId": "red_flags", "answer": []}
    response["item"].insert(0 if first else len(response["item"]), empty)
    [(_, mapped)] = records_from_fhir(response, pack)
    assert isinstance(mapped, triage.InvalidAnswers)
    assert "answered more than once" in {p.field: p.message for p in mapped.problems}["red_flags"]


@pytest.mark.parametrize(
    "answer",
    [{"valueBoolean": True}, {"valueString": "yes"}, {"valueCoding": {"code": "yes"}}, {"valueInteger": 1}],
    ids=["boolean", "string", "code", "integer"],
)
def test_yes_to_red_flags_in_a_response_gives_the_least_of_their_notes(pack: RulePack, answer: Any) -> None:
    """A response answering red_flags "yes" names no option, but each would alarm: its error entry says what
    the least urgent of them calls for, as a JSON record's does."""
    response = copy.deepcopy(response_from_record(NO_FLAG, pack))
    items(response)["red_flags"]["answer"] = [answer]
    [(_, mapped)] = records_from_fhir(response, pack)
    assert isinstance(mapped, triage.InvalidAnswers)
    notes = [p.message for p in mapped.problems if p.field == "(urgency)"]
    assert len(notes) == 1
    assert pack.levels["urgent"].label in notes[0]
