"""JSON Schema (draft 2020-12) of an answer record and of a result, generated from a pack.

`answers_schema(pack)` says what an answer file may contain (SPEC §5) so that a
standard validator gives the same verdict as `read_answers`:

* option ids are enums; every alternative form the product accepts is accepted
  too: surrounding white space, "none" / `[]` / `["none"]` for an empty
  multi-select, one string of ids separated by `;`, `true` / `false` for `yes` /
  `no`, and whole numbers written `6`, `6.0` or `"6"` (range checked, also as text);
* a question is required exactly when it is asked: each question with an
  `asked_when` condition has an `if` (the condition, compiled from the pack's
  condition tree, terms as `$defs`) and a `then` that requires its answer. An
  answer to a question that is not asked is not checked (the product ignores it
  with a warning), and `null` counts as no answer;
* unknown keys are refused.

Where the schema and the product differ (tested in tests/test_schema.py):

* an `id` written as a number with a zero fraction (`1.0`) is accepted by the
  schema (JSON does not tell 1 from 1.0) and refused by the product;
* a whole number written as text with non-ASCII digits (`"٦"`) is accepted by
  the product and refused by the schema, whose patterns use ASCII digits so that
  every validator reads them alike.
* a number that a binary float would round into a whole one
  (`0.99999999999999999`) passes a validator that parses JSON numbers as floats
  (as Python's `json` does), and is refused by the product, which reads every
  number as written.

`result_schema(pack)` describes one entry of the output: a result (SPEC §6) or,
in its place, the errors of an invalid record; the pack's urgency levels,
prognosis categories, suggestion and rule ids are enums. Objects stay open to
new fields, which SPEC §6 allows later versions to add.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from triage.core import vocabulary as vocab
from triage.core.models import RecordError, Result
from triage.core.pack import NONE, Question, RulePack, whole_numbers
from triage.core.vocabulary import Condition, ConditionVisitor, number

DRAFT = "https://json-schema.org/draft/2020-12/schema"
Schema = dict[str, Any] | bool
"""A JSON Schema: an object, or `true` / `false`."""

_BOOLEANS = {"yes": True, "no": False}
_NONE = "".join(f"[{c.upper()}{c}]" for c in NONE)
_META = set(r"\.^$|?*+()[]{}")


def schema_id(pack: RulePack, what: str) -> str:
    """The `$id` of a generated schema: a URN naming the pack, its version and the kind."""
    return f"urn:triage:{pack.info.name}:{pack.info.version}:{what}"


def answers_schema(pack: RulePack) -> dict[str, Any]:
    """The JSON Schema of one answer record for this pack (see the module docstring)."""
    compiler = _Compiler(pack)
    properties: dict[str, Schema] = {
        "id": {
            "description": "An optional name for the respondent or the record.",
            "anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}],
        }
    }
    required: list[str] = []
    checks: list[Schema] = []
    for question in pack.document.questions:
        answer = {"$ref": f"#/$defs/answer.{question.id}"}
        if question.asked_when is None:
            properties[question.id] = {"title": question.prompt, **answer}
            required.append(question.id)
            continue
        properties[question.id] = {
            "title": question.prompt,
            "description": (
                f"Required when asked (see $defs/asked.{question.id}); its answer is then "
                f"$defs/answer.{question.id}. An answer given when the question is not asked is "
                "ignored; null is no answer."
            ),
        }
        checks.append(
            {
                "if": {"$ref": f"#/$defs/asked.{question.id}"},
                "then": {"required": [question.id], "properties": {question.id: answer}},
            }
        )
    defs: dict[str, Schema] = {}
    for question in pack.document.questions:
        defs[f"answer.{question.id}"] = {"title": question.prompt, **_answer(question)}
        if question.asked_when is not None:
            defs[f"asked.{question.id}"] = compiler.compile(question.asked_when)
    for name, term in pack.document.terms.items():
        defs[f"term.{name}"] = compiler.compile(term)
    return {
        "$schema": DRAFT,
        "$id": schema_id(pack, "answers"),
        "title": f"{pack.document.title}: an answer record",
        "description": (
            f"One answer record for the rule pack {pack.info.name} {pack.info.version}: a mapping "
            "from question id to answer, plus an optional id. "
            + _always_required(pack)
            + "the other questions are required exactly when they are asked."
        ),
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
        "allOf": checks,
        "$defs": defs,
    }


def result_schema(pack: RulePack) -> dict[str, Any]:
    """The JSON Schema of one output entry: a result, or the errors of an invalid record."""
    _, top = models_json_schema(
        [(Result, "serialization"), (RecordError, "serialization")], ref_template="#/$defs/{model}"
    )
    defs: dict[str, Any] = top["$defs"]
    for definition in defs.values():
        definition.pop("additionalProperties", None)  # SPEC §6: more fields may be added
    doc = pack.document
    rules = [r.id for r in (*doc.urgency.rules, *doc.prognosis.rules)] + [s.id for s in doc.suggestions]
    defs["Result"]["properties"]["urgency"]["enum"] = [level.id for level in doc.urgency.levels]
    defs["Prognosis"]["properties"]["category"]["enum"] = [c.id for c in doc.prognosis.categories]
    defs["Suggestion"]["properties"]["id"]["enum"] = [s.id for s in doc.suggestions]
    defs["Explanation"]["properties"]["rule"]["enum"] = rules
    return {
        "$schema": DRAFT,
        "$id": schema_id(pack, "result"),
        "title": f"{doc.title}: a result, or the errors of an invalid record",
        "description": (
            f"One entry of triage's output for the rule pack {pack.info.name} {pack.info.version}: "
            "a result (urgency, prognosis, suggestions, explanation, warnings, disclaimer) or, in its "
            "place, every problem of an invalid answer record."
        ),
        "anyOf": [{"$ref": "#/$defs/Result"}, {"$ref": "#/$defs/RecordError"}],
        "$defs": defs,
    }


def condition_schema(pack: RulePack, condition: Condition) -> Schema:
    """A schema that holds on a raw record exactly when `condition` holds on its answers.

    It refers to the `$defs` of `answers_schema(pack)` (asked.*, term.*), so use
    it inside that schema. A test of a question holds only on an answer that was
    asked, given and valid, as in the engine.
    """
    return _Compiler(pack).compile(condition)


# Answer forms ---------------------------------------------------------------------------------


def _answer(question: Question) -> dict[str, Any]:
    """Every form of a valid answer to one question."""
    if question.type == "single":
        return _single(question, question.option_ids())
    if question.type == "multi":
        return {"anyOf": [*_multi_options(question), *_multi_none()]}
    return _number(*question.bounds, question.unit)


def _single(question: Question, options: tuple[str, ...]) -> dict[str, Any]:
    """A single-choice answer that reads as one of `options`."""
    forms: list[Schema] = [
        {"type": "string", "enum": list(options)},
        {
            "type": "string",
            "pattern": rf"^\s*{_choice(options)}\s*$",
            "description": "the same, with white space around it",
        },
    ]
    for option_id, boolean in _BOOLEANS.items():
        if option_id in options and option_id in question.option_ids():
            forms.append({"const": boolean, "description": f"{str(boolean).lower()} reads as {option_id}"})
    return {"anyOf": forms}


def _option_item(question: Question) -> dict[str, Any]:
    return {"type": "string", "pattern": rf"^\s*{_choice(question.option_ids())}\s*$"}


def _option_string(question: Question) -> str:
    """Option ids separated by `;`, with empty parts allowed and at least one option id."""
    choice = _choice(question.option_ids())
    token = rf"\s*(?:{choice})?\s*"
    return rf"^(?=[\s\S]*?(?:^|;)\s*{choice}\s*(?:;|$)){token}(?:;{token})*$"


def _multi_options(question: Question, includes: str | None = None, nonempty: bool = False) -> list[Schema]:
    """The forms of a multi-select answer listing options (possibly none of them)."""
    array: dict[str, Any] = {"type": "array", "items": _option_item(question)}
    text: dict[str, Any] = {"type": "string", "pattern": _option_string(question)}
    must = None
    if includes is not None:
        must = _choice((includes,))
    elif nonempty:
        must = _choice(question.option_ids())
    if must is not None:
        array["contains"] = {"type": "string", "pattern": rf"^\s*{must}\s*$"}
        text = {"allOf": [text, {"pattern": rf"(?:^|;)\s*{must}\s*(?:;|$)"}], "type": "string"}
    return [array, text]


def _multi_none() -> list[Schema]:
    """The forms of an empty multi-select: [], ["none"], "none" (any case, stray separators allowed).

    Separators alone are refused: an empty answer is never read as "none".
    """
    return [
        {"type": "array", "maxItems": 0},
        {"type": "array", "minItems": 1, "maxItems": 1, "items": {"type": "string", "pattern": _none()}},
        {"type": "string", "pattern": rf"^[\s;]*{_NONE}[\s;]*$"},
    ]


def _none() -> str:
    return rf"^\s*{_NONE}\s*$"


def _number(low: int, high: int, unit: str | None = None) -> dict[str, Any]:
    """A whole number from low to high: a JSON number with no fraction, or its text."""
    span = whole_numbers(low, high) + (f" ({unit})" if unit else "")
    forms: list[Schema] = []
    if low <= high:
        forms = [
            {"type": "integer", "minimum": low, "maximum": high, "description": span},
            {"type": "string", "pattern": _number_pattern(low, high), "description": f"{span}, as text"},
        ]
    return {"anyOf": forms} if forms else {"not": {}, "description": "no number is in range"}


def _always_required(pack: RulePack) -> str:
    """The questions always asked, as the start of a sentence."""
    always = [q.id for q in pack.document.questions if q.asked_when is None]
    if not always:
        return "No question is always asked; "
    return f"{', '.join(always)} {'is' if len(always) == 1 else 'are'} always required; "


def _number_pattern(low: int, high: int) -> str:
    """Text of a whole number in [low, high]: sign, leading zeros and a `.0` fraction allowed."""
    forms = []
    if low <= 0 <= high:
        forms.append("[+-]?0+")
    if high >= 1:
        forms.append(r"\+?0*" + _positive_range(max(low, 1), high))
    if low <= -1:
        forms.append("-0*" + _positive_range(max(-high, 1), -low))
    return rf"^\s*(?:{'|'.join(forms)})(?:\.0*)?\s*$"


def _positive_range(low: int, high: int) -> str:
    """A regular expression for the decimal numbers low..high (1 <= low <= high), no leading zeros."""
    parts = []
    for digits in range(len(str(low)), len(str(high)) + 1):
        start = max(low, 10 ** (digits - 1))
        end = min(high, 10**digits - 1)
        if start <= end:
            parts.append(_same_length(str(start), str(end)))
    return "(?:" + "|".join(parts) + ")"


def _same_length(low: str, high: str) -> str:
    if low == high:
        return low
    if set(low) == {"0"} and set(high) == {"9"}:
        return "[0-9]" * len(low)
    if len(low) == 1:
        return f"[{low}-{high}]"
    if low[0] == high[0]:
        return low[0] + _same_length(low[1:], high[1:])
    rest = len(low) - 1
    parts = [low[0] + _same_length(low[1:], "9" * rest)]
    first, last = int(low[0]) + 1, int(high[0]) - 1
    if first <= last:
        parts.append((str(first) if first == last else f"[{first}-{last}]") + "[0-9]" * rest)
    parts.append(high[0] + _same_length("0" * rest, high[1:]))
    return "(?:" + "|".join(parts) + ")"


def _choice(options: tuple[str, ...]) -> str:
    """An alternation of literal option ids, escaped for every regular-expression dialect."""
    return "(?:" + "|".join("".join("\\" + c if c in _META else c for c in o) for o in options) + ")"


# Conditions -----------------------------------------------------------------------------------


class _Compiler(ConditionVisitor[Schema]):
    """Compiles a condition into a schema that holds on a raw record exactly when the engine's does."""

    def __init__(self, pack: RulePack) -> None:
        self.pack = pack

    def compile(self, condition: Condition) -> Schema:
        return condition.accept(self)

    def visit_all(self, condition: vocab.All) -> Schema:
        return {"allOf": [self.compile(c) for c in condition.all]}

    def visit_any(self, condition: vocab.Any) -> Schema:
        return {"anyOf": [self.compile(c) for c in condition.any]}

    def visit_not(self, condition: vocab.Not) -> Schema:
        return {"not": self.compile(condition.not_)}

    def visit_term(self, condition: vocab.Term) -> Schema:
        return {"$ref": f"#/$defs/term.{condition.term}"}

    def visit_always(self, condition: vocab.Always) -> Schema:
        return True

    def visit_in(self, condition: vocab.In) -> Schema:
        question = self.pack.questions[condition.question]
        return self._test(question, list(_single(question, condition.in_)["anyOf"]))

    def visit_includes(self, condition: vocab.Includes) -> Schema:
        question = self.pack.questions[condition.question]
        return self._test(question, _multi_options(question, includes=condition.includes))

    def visit_empty(self, condition: vocab.Empty) -> Schema:
        question = self.pack.questions[condition.question]
        forms = _multi_none() if condition.empty else _multi_options(question, nonempty=True)
        return self._test(question, forms)

    def visit_at_least(self, condition: vocab.AtLeast) -> Schema:
        question = self.pack.questions[condition.question]
        low, high = question.bounds
        return self._test(question, [_number(max(low, number(condition.at_least, self.pack)), high)])

    def visit_below(self, condition: vocab.Below) -> Schema:
        question = self.pack.questions[condition.question]
        low, high = question.bounds
        return self._test(question, [_number(low, min(high, number(condition.below, self.pack) - 1))])

    @staticmethod
    def _test(question: Question, matching: list[Schema]) -> Schema:
        # A test holds only on an answer that was asked, given and valid.
        schema: dict[str, Any] = {
            "required": [question.id],
            "properties": {question.id: {"anyOf": matching}},
        }
        if question.asked_when is not None:
            schema["allOf"] = [{"$ref": f"#/$defs/asked.{question.id}"}]
        return schema
