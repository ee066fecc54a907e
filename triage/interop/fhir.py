"""HL7 FHIR R4: the pack's questionnaire as a Questionnaire, answers as a QuestionnaireResponse.

Export:

* `questionnaire_document(pack)` -> the R4 Questionnaire as JSON data, which
  `triage.interop.fhir_questionnaire.questionnaire` validates with the optional
  `fhir.resources`' R4B models (R4B is the R4-compatible namespace; its default
  namespace is R5, which R4 servers reject). Items: `linkId` = question id;
  single and multi-selects are `choice` items whose `answerOption` codings use a
  code system of the pack's own (`option_system`; code = option id, display =
  label), multi-selects `repeats` and carry an explicit "none" option marked
  exclusive; whole numbers are `integer` items with `minValue`/`maxValue`; every
  question is `required` (when it is enabled); `enableWhen` + `enableBehavior`
  translate the question's `asked_when` condition (`enable_when`).

Answers (plain JSON, no extra needed):

* `is_fhir_resource(doc)` tells a FHIR resource (a JSON object with a
  `resourceType`) from an answer record.
* `records_from_fhir(doc, pack)` maps a QuestionnaireResponse, or each entry of a
  Bundle, to an answer record, or to `InvalidAnswers` naming every problem.
* `response_from_record(record, pack)` writes a validated record as a
  QuestionnaireResponse.

How answers are written: a choice is `valueCoding` (`code` = option id; the
`system`, when given, must be the question's `option_system`); an empty
multi-select is the single coding `none`; a whole number is `valueInteger`. The
record's `id` is the response's `identifier.value` (else the resource's `id`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from triage.core import vocabulary as vocab
from triage.core.answers import (
    ID_FIELD,
    RECORD,
    URGENCY,
    Capped,
    alarm_options,
    did_you_mean,
    read_answers,
    shown,
    shown_key,
    some_of,
    urgency_note,
)
from triage.core.errors import InvalidAnswers, TriageError
from triage.core.models import Answers, Problem
from triage.core.pack import NONE, Question, RulePack
from triage.core.vocabulary import Condition, ConditionVisitor, number

INSTALL_HINT = "pip install 'triage[fhir]'"
OPTION_EXCLUSIVE = "http://hl7.org/fhir/StructureDefinition/questionnaire-optionExclusive"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"

EnableWhen = dict[str, Any]
"""One `Questionnaire.item.enableWhen` element, as JSON data."""

Forms = tuple[list[EnableWhen] | None, list[EnableWhen] | None]
"""A condition as enableWhen tests that must all hold, and as tests of which one must hold;
None where it cannot be written so."""


class FhirUnavailable(TriageError):
    """The optional `fhir.resources` package is not installed."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} needs the optional FHIR support: {INSTALL_HINT}")


class FhirExportError(TriageError):
    """A pack cannot be written as a FHIR Questionnaire without changing its meaning."""


# Names ----------------------------------------------------------------------------------------


def questionnaire_url(pack: RulePack) -> str:
    """The canonical URL of the pack's Questionnaire (a URN of the pack's own)."""
    return f"urn:triage:{quote(pack.info.name, safe='-._~')}:questionnaire"


def option_system(pack: RulePack, question_id: str) -> str:
    """The code system of one question's options: its codes are the option ids."""
    return f"urn:triage:{quote(pack.info.name, safe='-._~')}:options:{quote(question_id, safe='-._~')}"


def _coding(pack: RulePack, question: Question, code: str) -> dict[str, str]:
    labels = {o.id: o.label for o in question.options}
    if question.none_label is not None:
        labels[NONE] = question.none_label
    return {"system": option_system(pack, question.id), "code": code, "display": labels[code]}


# Questionnaire export -------------------------------------------------------------------------


def questionnaire_document(pack: RulePack) -> dict[str, Any]:
    """The pack's questionnaire as an R4 Questionnaire, not yet validated (see the module's docstring).

    Raises `FhirExportError` for an asked_when condition that enableWhen cannot express.
    """
    return {
        "resourceType": "Questionnaire",
        "id": re.sub(r"[^A-Za-z0-9.-]", "-", pack.info.name)[:64],
        "url": questionnaire_url(pack),
        "version": pack.info.version,
        "name": _computable_name(pack.info.name),
        "title": pack.document.title,
        "status": "active",
        "subjectType": ["Patient"],
        "description": pack.document.disclaimer,
        "item": [_item(pack, question) for question in pack.document.questions],
    }


def _computable_name(name: str) -> str:
    # FHIR wants a name usable as an identifier: [A-Z][A-Za-z0-9_]*
    words = [w for w in re.split(r"[^A-Za-z0-9]+", name) if w]
    camel = "".join(w[:1].upper() + w[1:] for w in words)
    return camel if camel[:1].isalpha() else f"Pack{camel}"


def _item(pack: RulePack, question: Question) -> dict[str, Any]:
    item: dict[str, Any] = {"linkId": question.id, "text": question.prompt, "required": True}
    if question.type == "number":
        item["type"] = "integer"
        item["extension"] = [
            {"url": MIN_VALUE, "valueInteger": question.min},
            {"url": MAX_VALUE, "valueInteger": question.max},
        ]
    else:
        item["type"] = "choice"
        item["answerOption"] = [{"valueCoding": _coding(pack, question, o)} for o in question.option_ids()]
        if question.type == "multi":
            item["repeats"] = True
            item["answerOption"].append(
                {
                    "valueCoding": _coding(pack, question, NONE),
                    "extension": [{"url": OPTION_EXCLUSIVE, "valueBoolean": True}],
                }
            )
    if question.asked_when is not None:
        conditions, behavior = enable_when(pack, question.id, question.asked_when)
        if conditions:
            item["enableWhen"] = conditions
        if behavior is not None:
            item["enableBehavior"] = behavior
    return item


def enable_when(
    pack: RulePack, question_id: str, condition: Condition
) -> tuple[list[EnableWhen], str | None]:
    """Translate an asked_when condition into enableWhen elements and an enableBehavior.

    FHIR enables an item when all (or any) of a flat list of tests on other items
    hold, and reads a disabled item as unanswered, just as the engine reads a
    question that was not asked. The condition tree (terms inlined, negations
    pushed down to the tests) is therefore written as one conjunction or one
    disjunction of tests; anything else raises `FhirExportError` rather than
    exporting a different logic. The behavior is None for fewer than two tests.
    """
    conjunction, disjunction = condition.accept(_EnableWhen(pack, negated=False))
    if conjunction is not None:
        return conjunction, ("all" if len(conjunction) > 1 else None)
    if disjunction:
        return disjunction, ("any" if len(disjunction) > 1 else None)
    raise FhirExportError(
        f"questions[{question_id}].asked_when cannot be written as FHIR enableWhen: a FHIR item is "
        "enabled by all or by any of a flat list of answer tests, and this condition mixes both."
    )


class _EnableWhen(ConditionVisitor[Forms]):
    """Writes a condition (or, `negated`, its negation) as flat lists of enableWhen tests: those
    that must all hold, and those of which one must (`Forms`)."""

    def __init__(self, pack: RulePack, negated: bool) -> None:
        self.pack = pack
        self.negated = negated

    def visit_all(self, condition: vocab.All) -> Forms:
        return self._group(condition.all, every=not self.negated)

    def visit_any(self, condition: vocab.Any) -> Forms:
        return self._group(condition.any, every=self.negated)

    def visit_not(self, condition: vocab.Not) -> Forms:
        return condition.not_.accept(_EnableWhen(self.pack, not self.negated))

    def visit_term(self, condition: vocab.Term) -> Forms:
        return self.pack.term(condition.term).accept(self)

    def visit_always(self, condition: vocab.Always) -> Forms:
        return (None, []) if self.negated else ([], None)

    # FHIR: "=" holds when some answer equals the value; "!=" when none does, so
    # "!=" holds on an unanswered (or disabled) item, as `not` does in the engine.

    def visit_in(self, condition: vocab.In) -> Forms:
        tests = [self._coded(condition, "!=" if self.negated else "=", o) for o in condition.in_]
        return (tests, _single(tests)) if self.negated else (_single(tests), tests)

    def visit_includes(self, condition: vocab.Includes) -> Forms:
        tests = [self._coded(condition, "!=" if self.negated else "=", condition.includes)]
        return tests, tests

    def visit_empty(self, condition: vocab.Empty) -> Forms:
        if condition.empty:
            tests = [self._coded(condition, "!=" if self.negated else "=", NONE)]
            return tests, tests
        options = self.pack.questions[condition.question].option_ids()
        if self.negated:  # unanswered, or "none": no option chosen
            none = [self._exists(condition, False), self._coded(condition, "=", NONE)]
            return [self._coded(condition, "!=", o) for o in options], none
        some = [self._exists(condition, True), self._coded(condition, "!=", NONE)]
        return some, [self._coded(condition, "=", o) for o in options]

    def visit_at_least(self, condition: vocab.AtLeast) -> Forms:
        return self._compared(condition, number(condition.at_least, self.pack), holds=">=", fails="<")

    def visit_below(self, condition: vocab.Below) -> Forms:
        return self._compared(condition, number(condition.below, self.pack), holds="<", fails=">=")

    def _group(self, children: tuple[Condition, ...], *, every: bool) -> Forms:
        """`all` (or `not any`) when `every`: each (negated) child holds; else some one does."""
        forms = [c.accept(self) for c in children]
        if every:
            conjunction = _concat([c for c, _ in forms])
            return conjunction, _single(conjunction)
        disjunction = _concat([d for _, d in forms])
        return _single(disjunction), disjunction

    def _compared(self, test: vocab.Test, value: int, *, holds: str, fails: str) -> Forms:
        if self.negated:  # unanswered, or on the other side of the bound
            return None, [self._exists(test, False), _integer(test, fails, value)]
        return [_integer(test, holds, value)], [_integer(test, holds, value)]

    def _coded(self, test: vocab.Test, operator: str, code: str) -> EnableWhen:
        coding = {"system": option_system(self.pack, test.question), "code": code}
        return {"question": test.question, "operator": operator, "answerCoding": coding}

    @staticmethod
    def _exists(test: vocab.Test, value: bool) -> EnableWhen:
        return {"question": test.question, "operator": "exists", "answerBoolean": value}


def _integer(test: vocab.Test, operator: str, value: int) -> EnableWhen:
    return {"question": test.question, "operator": operator, "answerInteger": value}


def _single(tests: list[EnableWhen] | None) -> list[EnableWhen] | None:
    return tests if tests is not None and len(tests) == 1 else None


def _concat(parts: list[list[EnableWhen] | None]) -> list[EnableWhen] | None:
    if any(p is None for p in parts):
        return None
    return [test for part in parts if part is not None for test in part]


# QuestionnaireResponse: reading ---------------------------------------------------------------


def is_fhir_resource(doc: object) -> bool:
    """Whether a parsed JSON document is a FHIR resource rather than an answer record.

    Any object with a text `resourceType` is taken for FHIR (no question is called
    that); `records_from_fhir` reads it, and names the resource types it cannot read.
    """
    return isinstance(doc, Mapping) and isinstance(doc.get("resourceType"), str)


def records_from_fhir(doc: object, pack: RulePack) -> list[tuple[str, dict[str, object] | InvalidAnswers]]:
    """Map a QuestionnaireResponse, or a Bundle of them, to answer records.

    Returns one `(where, record)` pair per response, in order: `where` is "" for
    a single resource and `#entry[i]` (0-based) for a Bundle entry, to append to
    the file's name; `record` is an answer record for `triage.evaluate`, or
    `InvalidAnswers` naming every problem of the response (unknown linkIds and
    codes, wrong value types, and whatever `read_answers` finds in the rest).
    Never empty: a Bundle without entries gives one `InvalidAnswers`.
    """
    if not is_fhir_resource(doc):
        return [("", _invalid(RECORD, "this is not a FHIR resource (it has no resourceType).", doc, pack))]
    assert isinstance(doc, Mapping)
    if doc["resourceType"] != "Bundle":
        return [("", _from_resource(doc, pack))]
    entries = doc.get("entry")
    if not isinstance(entries, list) or not entries:
        message = "this Bundle has no entries (a list), so no QuestionnaireResponse to read."
        return [("", _invalid("entry", message, doc, pack))]
    out: list[tuple[str, dict[str, object] | InvalidAnswers]] = []
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not is_fhir_resource(resource):
            out.append(
                (
                    f"#entry[{index}]",
                    _invalid("resource", "this Bundle entry holds no resource.", entry, pack),
                )
            )
        else:
            assert isinstance(resource, Mapping)
            out.append((f"#entry[{index}]", _from_resource(resource, pack)))
    return out


def _invalid(field: str, message: str, stated: object, pack: RulePack) -> InvalidAnswers:
    """A resource refused whole, with the `(urgency)` note of what it states (it may be mistyped)."""
    return InvalidAnswers([Problem(field=field, message=message), *urgency_note(stated, pack)])


def _from_resource(resource: Mapping[str, Any], pack: RulePack) -> dict[str, object] | InvalidAnswers:
    kind = resource["resourceType"]
    if kind != "QuestionnaireResponse":
        message = (
            f"a {shown_key(kind)} resource holds no answers: triage reads a QuestionnaireResponse, "
            "or a Bundle of them."
        )
        return _invalid("resourceType", message, resource, pack)
    problems: list[Problem] = []
    record_id = response_id(resource, problems)
    record: dict[str, object] = {} if record_id is None else {ID_FIELD: record_id}
    if resource.get("status") == "entered-in-error":
        problems.append(
            Problem(field="status", message="this response was entered in error; it is not read.")
        )
    answered = resource.get("questionnaire")
    url = questionnaire_url(pack)
    if answered is not None and (not isinstance(answered, str) or answered.split("|")[0] != url):
        problems.append(
            Problem(field="questionnaire", message=f"this response answers {shown(answered)}, not {url!r}.")
        )
    items = resource.get("item", [])
    if not isinstance(items, list):
        problems.append(Problem(field="item", message="item must be a list of answered items."))
        items = []
    failed: set[str] = set()
    seen: set[str] = set()
    unlinked = Capped("items without a linkId")
    unknown = Capped("unknown linkIds")
    again = Capped("items answering a linkId answered before")
    for index, item in enumerate(items):
        link_id = item.get("linkId") if isinstance(item, Mapping) else None
        if not isinstance(link_id, str):
            if unlinked.room():
                problems.append(Problem(field=f"item[{index}]", message="an item needs a linkId (text)."))
            continue
        question = pack.questions.get(link_id)
        if question is None:
            if unknown.room():
                problems.append(Problem(field=shown_key(link_id), message=_unknown_link_id(link_id, pack)))
            continue
        if link_id in seen:
            if again.room():
                problems.append(Problem(field=link_id, message="this linkId is answered more than once."))
            failed.add(link_id)
            continue
        seen.add(link_id)
        assert isinstance(item, Mapping)
        value = _item_answer(pack, question, item)
        if isinstance(value, Problem):
            problems.append(value)
            failed.add(link_id)
        elif value is not None:
            record[link_id] = value
    problems += [*unlinked.rest(), *unknown.rest(), *again.rest()]
    # Items already refused (or unknown) say what they state in the (urgency) note below.
    read = [i for i in items if isinstance(i, Mapping) and i.get("linkId") in seen - failed]
    elsewhere = _stated_elsewhere({**resource, "item": read}, record, pack)
    if elsewhere:
        named = some_of(list(dict.fromkeys(elsewhere)), most=3)
        problems.append(
            Problem(
                field=RECORD,
                message=f"this response states {named} outside the answers that are read (a nested "
                "item, a second value, a contained resource, an extension or a display); which "
                "answer counts is unclear, so it is not read. Give it as an answer, or remove it.",
            )
        )
    if not problems:
        return record
    try:
        read_answers(record, pack)
    except InvalidAnswers as exc:
        problems.extend(
            p for p in exc.problems if p.field not in failed and p.field not in (ID_FIELD, URGENCY)
        )
    # What the items state, answered or not (an unknown code, a linkId misspelt): it may call for an alarm.
    stated: list[tuple[object, object]] = [(i.get("linkId"), i) for i in items if isinstance(i, Mapping)]
    stated += _answer_values(items)  # a "yes" to a question names no option
    problems.extend(urgency_note(record, pack, also=[*stated, (None, elsewhere)]))
    return InvalidAnswers(problems, record_id)


QUESTIONNAIRE = "Questionnaire"


def _stated_elsewhere(resource: Mapping[str, Any], record: Mapping[str, object], pack: RulePack) -> list[str]:
    """The alarm options a response states anywhere but in the answers read into `record`.

    Only the items' answers are read; the rest of a response (an answer's nested
    items, a second value[x], contained resources, extensions, displays, texts)
    is not. When that rest names an alarm option the answers do not hold, the
    response says two things at once. A contained Questionnaire lists every
    option, so it names none.
    """
    contained = resource.get("contained")
    if isinstance(contained, list):
        resource = {**resource, "contained": [c for c in contained if not _is_questionnaire(c)]}
    found = alarm_options(pack).found([(None, resource)])
    held = {(q, o) for q, value in record.items() for o in (value if isinstance(value, list) else [value])}
    return [o.option for o in found if (o.question, o.option) not in held]


def _answer_values(items: list[Any]) -> list[tuple[object, object]]:
    """Each answer's value as (linkId, value): a valueCoding's code, any other value[x] as it is."""
    values: list[tuple[object, object]] = []
    for item in items:
        answers = item.get("answer") if isinstance(item, Mapping) else None
        for answer in answers if isinstance(answers, list) else []:
            for key, value in answer.items() if isinstance(answer, Mapping) else []:
                if isinstance(key, str) and key.startswith("value"):
                    code = value.get("code") if isinstance(value, Mapping) else value
                    values.append((item.get("linkId"), code))
    return values


def _is_questionnaire(resource: object) -> bool:
    return isinstance(resource, Mapping) and resource.get("resourceType") == QUESTIONNAIRE


def response_id(resource: Mapping[str, Any], problems: list[Problem]) -> str | None:
    """A QuestionnaireResponse's id: its identifier's value, else the resource id; a problem if not text."""
    identifier = resource.get("identifier")
    if isinstance(identifier, list):  # R5 allows several; R4 has one
        identifier = identifier[0] if identifier else None
    if isinstance(identifier, Mapping) and identifier.get("value") is not None:
        value = identifier["value"]
    else:
        value = resource.get("id")
    if value is None or isinstance(value, str):
        return value
    problems.append(Problem(field="identifier", message="the response's identifier must be text."))
    return None


def _unknown_link_id(link_id: str, pack: RulePack) -> str:
    known = tuple(pack.questions)
    hint = did_you_mean(link_id, known)
    return f"unknown linkId: no question of {pack.info.name} has it.{hint} Known: {', '.join(known)}."


def _item_answer(pack: RulePack, question: Question, item: Mapping[str, Any]) -> object:
    """The record's value for one response item: None when unanswered, or a Problem."""
    if "item" in item:
        return Problem(field=question.id, message="this question has no nested items.")
    answers = item.get("answer", [])
    if not isinstance(answers, list) or not all(isinstance(a, Mapping) for a in answers):
        return Problem(field=question.id, message="answer must be a list of answer objects.")
    if not answers:
        return None
    if question.type != "multi" and len(answers) > 1:
        return Problem(field=question.id, message=f"one answer expected, {len(answers)} given.")
    for answer in answers:
        if "item" in answer:
            return Problem(field=question.id, message="an answer to this question has no nested items.")
        if len([k for k in answer if isinstance(k, str) and k.startswith("value")]) > 1:
            return Problem(
                field=question.id,
                message=f"an answer holds one value; got {_value_keys(answer)}.",
            )
    if question.type == "number":
        if "valueInteger" not in answers[0]:
            return Problem(
                field=question.id,
                message=f"a whole number is written as valueInteger; got {_value_keys(answers[0])}.",
            )
        value = answers[0]["valueInteger"]
        if isinstance(value, bool) or not isinstance(value, int):
            return Problem(
                field=question.id,
                message=f"valueInteger must be a whole number written with digits only, such as 3; "
                f"got {shown(value)}.",
            )
        return value
    codes: list[str] = []
    for answer in answers:
        code = _code(pack, question, answer)
        if isinstance(code, Problem):
            return code
        codes.append(code)
    return codes if question.type == "multi" else codes[0]


def _code(pack: RulePack, question: Question, answer: Mapping[str, Any]) -> str | Problem:
    coding = answer.get("valueCoding")
    allowed = [*question.option_ids(), *([NONE] if question.type == "multi" else [])]
    if not isinstance(coding, Mapping) or not isinstance(coding.get("code"), str):
        return Problem(
            field=question.id,
            message=f"a choice is written as valueCoding with a code; got {_value_keys(answer)}. "
            f"Codes: {', '.join(allowed)}.",
        )
    system, code = coding.get("system"), str(coding["code"])
    expected = option_system(pack, question.id)
    if system is not None and system != expected:
        return Problem(
            field=question.id, message=f"code system {shown(system)} is not this question's ({expected!r})."
        )
    if code not in allowed:
        hint = did_you_mean(code, tuple(allowed))
        return Problem(
            field=question.id, message=f"unknown code {shown(code)}.{hint} Codes: {', '.join(allowed)}."
        )
    return code


def _value_keys(answer: Mapping[str, Any]) -> str:
    keys = [k for k in answer if isinstance(k, str) and k.startswith("value")]
    return some_of([shown_key(k) for k in keys[:3]], len(keys)) if keys else "no value"


# QuestionnaireResponse: writing ---------------------------------------------------------------


def response_from_record(record: Mapping[str, object] | Answers, pack: RulePack) -> dict[str, Any]:
    """A completed R4 QuestionnaireResponse holding one answer record.

    The record is read (and so validated) first: `InvalidAnswers` for a bad one.
    Only the questions that were asked appear; an empty multi-select is the
    coding `none`. `records_from_fhir` reads it back to the same answers.
    """
    answers = read_answers(record, pack)
    items = []
    answer: list[dict[str, Any]]
    for question in pack.document.questions:
        value = answers.values.get(question.id)
        if value is None:
            continue
        written = question.written(value)
        if isinstance(written, list):
            answer = [{"valueCoding": _coding(pack, question, c)} for c in written or [NONE]]
        elif isinstance(written, int):
            answer = [{"valueInteger": written}]
        else:
            answer = [{"valueCoding": _coding(pack, question, written)}]
        items.append({"linkId": question.id, "text": question.prompt, "answer": answer})
    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": f"{questionnaire_url(pack)}|{pack.info.version}",
        "status": "completed",
    }
    if answers.id is not None:
        response["identifier"] = {"value": answers.id}
    response["item"] = items
    return response
