"""The closed vocabulary of conditions a rule pack may use.

A condition is data, never code: each kind below is a small pydantic model that
knows how to decide itself against a set of answers and how to say, in words,
which answers made it hold. A pack that uses anything else is refused when it
is loaded.

    all: [c, ...]                     every condition holds
    any: [c, ...]                     at least one holds
    not: c                            c does not hold
    term: name                        a named condition from the pack's `terms`
    always: true                      holds for every answer set (a table's last row)
    {question: q, in: [o, ...]}       a single-choice answer is one of these options
    {question: q, includes: o}        a multi-select answer contains this option
    {question: q, empty: true|false}  a multi-select answer is (not) empty
    {question: q, at_least: n}        a whole-number answer is n or more
    {question: q, below: n}           a whole-number answer is less than n

A number may also be `{param: name}`, a parameter of the pack. A question that
was not asked has no answer, and every question condition on it is false.

The answers a condition names are said in the pack's own words (`Scope.question_name`,
`Scope.answer_words`): "the cause: after a facial paralysis such as Bell's palsy".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

AnswerValue = str | int | frozenset[str]
"""One normalised answer: an option id, a whole number, or a set of option ids."""

AnswerMap = Mapping[str, AnswerValue]


class Scope(Protocol):
    """What a condition needs from its pack while it is evaluated."""

    def term(self, name: str) -> Condition: ...

    def param(self, name: str) -> int: ...

    def question_name(self, question: str) -> str:
        """What a question is about, in a person's words ("the cause")."""
        ...

    def answer_words(self, question: str, value: AnswerValue) -> str:
        """An answer to a question in a person's words, to stand inside a sentence."""
        ...


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ParamRef(_Node):
    """A number taken from the pack's `parameters`."""

    param: str


Number = int | ParamRef


def _number(value: Number, scope: Scope) -> int:
    return scope.param(value.param) if isinstance(value, ParamRef) else value


class All(_Node):
    """Every condition in `all` holds."""

    all: tuple[Condition, ...] = Field(min_length=1)

    def holds(self, answers: AnswerMap, scope: Scope) -> bool:
        return all(c.holds(answers, scope) for c in self.all)

    def reasons(self, answers: AnswerMap, scope: Scope, outcome: bool) -> Iterator[str]:
        if outcome:
            for c in self.all:
                yield from c.reasons(answers, scope, True)
        else:
            failing = next(c for c in self.all if not c.holds(answers, scope))
            yield from failing.reasons(answers, scope, False)

    def children(self) -> tuple[Condition, ...]:
        return self.all


class Any(_Node):
    """At least one condition in `any` holds."""

    any: tuple[Condition, ...] = Field(min_length=1)

    def holds(self, answers: AnswerMap, scope: Scope) -> bool:
        return any(c.holds(answers, scope) for c in self.any)

    def reasons(self, answers: AnswerMap, scope: Scope, outcome: bool) -> Iterator[str]:
        if outcome:
            passing = next(c for c in self.any if c.holds(answers, scope))
            yield from passing.reasons(answers, scope, True)
        else:
            for c in self.any:
                yield from c.reasons(answers, scope, False)

    def children(self) -> tuple[Condition, ...]:
        return self.any


class Not(_Node):
    """The condition under `not` does not hold."""

    not_: Condition = Field(alias="not")

    def holds(self, answers: AnswerMap, scope: Scope) -> bool:
        return not self.not_.holds(answers, scope)

    def reasons(self, answers: AnswerMap, scope: Scope, outcome: bool) -> Iterator[str]:
        return self.not_.reasons(answers, scope, not outcome)

    def children(self) -> tuple[Condition, ...]:
        return (self.not_,)


class Term(_Node):
    """The pack's named condition `term` holds."""

    term: str

    def holds(self, answers: AnswerMap, scope: Scope) -> bool:
        return scope.term(self.term).holds(answers, scope)

    def reasons(self, answers: AnswerMap, scope: Scope, outcome: bool) -> Iterator[str]:
        return scope.term(self.term).reasons(answers, scope, outcome)

    def children(self) -> tuple[Condition, ...]:
        return ()


class Always(_Node):
    """Holds for every answer set: the last row of a first-match table."""

    always: Literal[True]

    def holds(self, answers: AnswerMap, scope: Scope) -> bool:
        return True

    def reasons(self, answers: AnswerMap, scope: Scope, outcome: bool) -> Iterator[str]:
        return iter(())

    def children(self) -> tuple[Condition, ...]:
        return ()


class Test(_Node):
    """A test of one question's answer; false when the question was not answered."""

    question: str
    question_type: ClassVar[str]
    """The type of question this test applies to."""

    def options_used(self) -> tuple[str, ...]:
        """The option ids this test names."""
        return ()

    def holds(self, answers: AnswerMap, scope: Scope) -> bool:
        value = answers.get(self.question)
        return value is not None and self.test(value, scope)

    def test(self, value: AnswerValue, scope: Scope) -> bool:
        raise NotImplementedError

    def describe(self, value: AnswerValue, scope: Scope, outcome: bool) -> str:
        """The answer in words: the whole answer, whichever option the test looks at."""
        return f"{scope.question_name(self.question)}: {scope.answer_words(self.question, value)}"

    def reasons(self, answers: AnswerMap, scope: Scope, outcome: bool) -> Iterator[str]:
        value = answers.get(self.question)
        if value is None:
            yield f"{scope.question_name(self.question)}: not asked"
        else:
            yield self.describe(value, scope, outcome)

    def children(self) -> tuple[Condition, ...]:
        return ()


class In(Test):
    """A single-choice answer is one of the options `in`."""

    in_: tuple[str, ...] = Field(alias="in", min_length=1)
    question_type = "single"

    def options_used(self) -> tuple[str, ...]:
        return self.in_

    def test(self, value: AnswerValue, scope: Scope) -> bool:
        return value in self.in_


class Includes(Test):
    """A multi-select answer contains the option `includes`."""

    includes: str
    question_type = "multi"

    def options_used(self) -> tuple[str, ...]:
        return (self.includes,)

    def test(self, value: AnswerValue, scope: Scope) -> bool:
        return isinstance(value, frozenset) and self.includes in value


class Empty(Test):
    """A multi-select answer is empty (`empty: true`) or not (`empty: false`)."""

    empty: bool
    question_type = "multi"

    def test(self, value: AnswerValue, scope: Scope) -> bool:
        return isinstance(value, frozenset) and (not value) == self.empty


class AtLeast(Test):
    """A whole-number answer is `at_least` or more."""

    at_least: Number
    question_type = "number"

    def test(self, value: AnswerValue, scope: Scope) -> bool:
        return isinstance(value, int) and value >= _number(self.at_least, scope)

    def describe(self, value: AnswerValue, scope: Scope, outcome: bool) -> str:
        bound = _number(self.at_least, scope)
        relation = f"{bound} or more" if outcome else f"less than {bound}"
        return f"{super().describe(value, scope, outcome)} ({relation})"


class Below(Test):
    """A whole-number answer is less than `below`."""

    below: Number
    question_type = "number"

    def test(self, value: AnswerValue, scope: Scope) -> bool:
        return isinstance(value, int) and value < _number(self.below, scope)

    def describe(self, value: AnswerValue, scope: Scope, outcome: bool) -> str:
        bound = _number(self.below, scope)
        relation = f"less than {bound}" if outcome else f"{bound} or more"
        return f"{super().describe(value, scope, outcome)} ({relation})"


KINDS = ("all", "any", "not", "term", "always", "in", "includes", "empty", "at_least", "below")


def _kind(value: object) -> str | None:
    """Tell a condition's kind by the one operator key it carries."""
    if isinstance(value, dict):
        keys = set(value)
    elif isinstance(value, BaseModel):
        keys = set(type(value).model_fields)
    else:
        return None
    keys = {"not" if k == "not_" else "in" if k == "in_" else k for k in keys}
    found = [k for k in KINDS if k in keys]
    return found[0] if len(found) == 1 else None


Condition = Annotated[
    (
        Annotated[All, Tag("all")]
        | Annotated[Any, Tag("any")]
        | Annotated[Not, Tag("not")]
        | Annotated[Term, Tag("term")]
        | Annotated[Always, Tag("always")]
        | Annotated[In, Tag("in")]
        | Annotated[Includes, Tag("includes")]
        | Annotated[Empty, Tag("empty")]
        | Annotated[AtLeast, Tag("at_least")]
        | Annotated[Below, Tag("below")]
    ),
    Discriminator(
        _kind,
        custom_error_type="condition",
        custom_error_message="a condition needs exactly one operator: " + ", ".join(KINDS),
    ),
]
"""Any condition of the closed vocabulary."""

for _model in (All, Any, Not):
    _model.model_rebuild()


def walk(condition: Condition) -> Iterator[Condition]:
    """Yield a condition and every condition nested in it (terms are not followed)."""
    yield condition
    for child in condition.children():
        yield from walk(child)
