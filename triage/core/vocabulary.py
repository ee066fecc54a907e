"""The closed vocabulary of conditions a rule pack may use.

A condition is data, never code: each kind below is a small pydantic model, and
`Condition` is the closed union of them all. A pack that uses anything else is
refused when it is loaded.

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

What a condition means is said once per kind, by a `ConditionVisitor`: one
method per kind, which `condition.accept(visitor)` calls. Here: whether it holds (`Holds`), the answers
that decided it (`Reasons`, in the pack's own words: "the cause: after a facial
paralysis such as Bell's palsy") and what it names (`parts`, for the checks of a
pack). Elsewhere: its three-valued reading (`triage.packs.verify`), its words
(`triage.present.words`), JSON Schema and FHIR enableWhen (`triage.interop`).
A new kind is a model here with its `accept`, a member of `Condition`, a row of
`KINDS` and a method of `ConditionVisitor`; type checking and
tests/test_vocabulary.py then name every visitor that does not handle it yet.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Generic, Literal, Protocol, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

T = TypeVar("T")

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


def number(value: Number, scope: Scope) -> int:
    """A number of a condition: as written, or the value of the pack's parameter it names."""
    return scope.param(value.param) if isinstance(value, ParamRef) else value


class _Condition(_Node):
    """What every kind of condition answers to; what each kind means is said by the visitors below."""

    def holds(self, answers: AnswerMap, scope: Scope) -> bool:
        """Whether the condition holds for a set of normalised answers."""
        return cast("Condition", self).accept(Holds(answers, scope))

    def reasons(self, answers: AnswerMap, scope: Scope, outcome: bool) -> Iterator[str]:
        """The answers that made the condition come out as `outcome`, each in the pack's words."""
        return cast("Condition", self).accept(Reasons(answers, scope, outcome))

    @functools.cached_property
    def _parts(self) -> Parts:
        # Kept: verification walks the same conditions for every answer set it tries.
        return cast("Condition", self).accept(_PARTS)


class All(_Condition):
    """Every condition in `all` holds."""

    all: tuple[Condition, ...] = Field(min_length=1)

    def accept(self, visitor: ConditionVisitor[T]) -> T:
        return visitor.visit_all(self)


class Any(_Condition):
    """At least one condition in `any` holds."""

    any: tuple[Condition, ...] = Field(min_length=1)

    def accept(self, visitor: ConditionVisitor[T]) -> T:
        return visitor.visit_any(self)


class Not(_Condition):
    """The condition under `not` does not hold."""

    not_: Condition = Field(alias="not")

    def accept(self, visitor: ConditionVisitor[T]) -> T:
        return visitor.visit_not(self)


class Term(_Condition):
    """The pack's named condition `term` holds."""

    term: str

    def accept(self, visitor: ConditionVisitor[T]) -> T:
        return visitor.visit_term(self)


class Always(_Condition):
    """Holds for every answer set: the last row of a first-match table."""

    always: Literal[True]

    def accept(self, visitor: ConditionVisitor[T]) -> T:
        return visitor.visit_always(self)


class Test(_Condition):
    """A test of one question's answer; false when the question was not answered."""

    question: str


class In(Test):
    """A single-choice answer is one of the options `in`."""

    in_: tuple[str, ...] = Field(alias="in", min_length=1)

    def accept(self, visitor: ConditionVisitor[T]) -> T:
        return visitor.visit_in(self)


class Includes(Test):
    """A multi-select answer contains the option `includes`."""

    includes: str

    def accept(self, visitor: ConditionVisitor[T]) -> T:
        return visitor.visit_includes(self)


class Empty(Test):
    """A multi-select answer is empty (`empty: true`) or not (`empty: false`)."""

    empty: bool

    def accept(self, visitor: ConditionVisitor[T]) -> T:
        return visitor.visit_empty(self)


class AtLeast(Test):
    """A whole-number answer is `at_least` or more."""

    at_least: Number

    def accept(self, visitor: ConditionVisitor[T]) -> T:
        return visitor.visit_at_least(self)


class Below(Test):
    """A whole-number answer is less than `below`."""

    below: Number

    def accept(self, visitor: ConditionVisitor[T]) -> T:
        return visitor.visit_below(self)


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


# -- one method per kind ---------------------------------------------------------------------------


class ConditionVisitor(ABC, Generic[T]):
    """Something done with a condition, said once for each kind of the vocabulary.

    `condition.accept(visitor)` calls the method of the condition's kind: each
    kind's `accept` calls its own. Every method here is abstract, so a visitor
    that leaves out a kind cannot be made: mypy reports it where the visitor is
    created, and tests/test_vocabulary.py checks every visitor in the package.
    A member of `Condition` without an `accept` is a type error wherever a
    condition is visited.
    """

    @abstractmethod
    def visit_all(self, condition: All) -> T: ...

    @abstractmethod
    def visit_any(self, condition: Any) -> T: ...

    @abstractmethod
    def visit_not(self, condition: Not) -> T: ...

    @abstractmethod
    def visit_term(self, condition: Term) -> T: ...

    @abstractmethod
    def visit_always(self, condition: Always) -> T: ...

    @abstractmethod
    def visit_in(self, condition: In) -> T: ...

    @abstractmethod
    def visit_includes(self, condition: Includes) -> T: ...

    @abstractmethod
    def visit_empty(self, condition: Empty) -> T: ...

    @abstractmethod
    def visit_at_least(self, condition: AtLeast) -> T: ...

    @abstractmethod
    def visit_below(self, condition: Below) -> T: ...


# -- evaluation -------------------------------------------------------------------------------------


class Holds(ConditionVisitor[bool]):
    """Whether a condition holds for a set of answers (`Condition.holds`)."""

    def __init__(self, answers: AnswerMap, scope: Scope) -> None:
        self.answers = answers
        self.scope = scope

    def visit_all(self, condition: All) -> bool:
        return all(c.accept(self) for c in condition.all)

    def visit_any(self, condition: Any) -> bool:
        return any(c.accept(self) for c in condition.any)

    def visit_not(self, condition: Not) -> bool:
        return not condition.not_.accept(self)

    def visit_term(self, condition: Term) -> bool:
        return self.scope.term(condition.term).accept(self)

    def visit_always(self, condition: Always) -> bool:
        return True

    def visit_in(self, condition: In) -> bool:
        value = self.answers.get(condition.question)
        return value is not None and value in condition.in_

    def visit_includes(self, condition: Includes) -> bool:
        value = self.answers.get(condition.question)
        return isinstance(value, frozenset) and condition.includes in value

    def visit_empty(self, condition: Empty) -> bool:
        value = self.answers.get(condition.question)
        return isinstance(value, frozenset) and (not value) == condition.empty

    def visit_at_least(self, condition: AtLeast) -> bool:
        value = self.answers.get(condition.question)
        return isinstance(value, int) and value >= number(condition.at_least, self.scope)

    def visit_below(self, condition: Below) -> bool:
        value = self.answers.get(condition.question)
        return isinstance(value, int) and value < number(condition.below, self.scope)


class Reasons(ConditionVisitor[Iterator[str]]):
    """The answers that made a condition come out as `outcome`, in the pack's words
    (`Condition.reasons`): "the cause: after a facial paralysis such as Bell's palsy".

    A test names the whole answer, whichever option it looks at; a number test adds
    the side of its bound the answer is on. For `all` that fails and `any` that
    holds, the first child that decides is enough.
    """

    def __init__(self, answers: AnswerMap, scope: Scope, outcome: bool) -> None:
        self.answers = answers
        self.scope = scope
        self.outcome = outcome

    def visit_all(self, condition: All) -> Iterator[str]:
        if self.outcome:
            for c in condition.all:
                yield from c.accept(self)
        else:
            holds = Holds(self.answers, self.scope)
            yield from next(c for c in condition.all if not c.accept(holds)).accept(self)

    def visit_any(self, condition: Any) -> Iterator[str]:
        if self.outcome:
            holds = Holds(self.answers, self.scope)
            yield from next(c for c in condition.any if c.accept(holds)).accept(self)
        else:
            for c in condition.any:
                yield from c.accept(self)

    def visit_not(self, condition: Not) -> Iterator[str]:
        return condition.not_.accept(Reasons(self.answers, self.scope, not self.outcome))

    def visit_term(self, condition: Term) -> Iterator[str]:
        return self.scope.term(condition.term).accept(self)

    def visit_always(self, condition: Always) -> Iterator[str]:
        return iter(())

    def visit_in(self, condition: In) -> Iterator[str]:
        return self._answer(condition.question)

    def visit_includes(self, condition: Includes) -> Iterator[str]:
        return self._answer(condition.question)

    def visit_empty(self, condition: Empty) -> Iterator[str]:
        return self._answer(condition.question)

    def visit_at_least(self, condition: AtLeast) -> Iterator[str]:
        bound = number(condition.at_least, self.scope)
        return self._answer(condition.question, f"{bound} or more" if self.outcome else f"less than {bound}")

    def visit_below(self, condition: Below) -> Iterator[str]:
        bound = number(condition.below, self.scope)
        return self._answer(condition.question, f"less than {bound}" if self.outcome else f"{bound} or more")

    def _answer(self, question: str, relation: str | None = None) -> Iterator[str]:
        value = self.answers.get(question)
        name = self.scope.question_name(question)
        if value is None:
            yield f"{name}: not asked"
        else:
            said = f"{name}: {self.scope.answer_words(question, value)}"
            yield said if relation is None else f"{said} ({relation})"


# -- what a condition names -------------------------------------------------------------------------


@dataclass(frozen=True)
class Parts:
    """What a condition names, for the checks that read a pack's conditions without evaluating them."""

    children: tuple[Condition, ...] = ()
    """The conditions nested in it (a term's condition is not: it is the pack's)."""
    term: str | None = None
    """The term it names."""
    question: str | None = None
    """The question it tests."""
    question_type: Literal["single", "multi", "number"] | None = None
    """The type of question its test applies to."""
    options: tuple[str, ...] = ()
    """The option ids it names."""
    emptiness: bool = False
    """It tells a multi-select's answers apart by whether any option is chosen, so every option counts."""
    bound: Number | None = None
    """The number it compares a whole-number answer with."""


class _Parts(ConditionVisitor[Parts]):
    def visit_all(self, condition: All) -> Parts:
        return Parts(children=condition.all)

    def visit_any(self, condition: Any) -> Parts:
        return Parts(children=condition.any)

    def visit_not(self, condition: Not) -> Parts:
        return Parts(children=(condition.not_,))

    def visit_term(self, condition: Term) -> Parts:
        return Parts(term=condition.term)

    def visit_always(self, condition: Always) -> Parts:
        return Parts()

    def visit_in(self, condition: In) -> Parts:
        return Parts(question=condition.question, question_type="single", options=condition.in_)

    def visit_includes(self, condition: Includes) -> Parts:
        return Parts(question=condition.question, question_type="multi", options=(condition.includes,))

    def visit_empty(self, condition: Empty) -> Parts:
        return Parts(question=condition.question, question_type="multi", emptiness=True)

    def visit_at_least(self, condition: AtLeast) -> Parts:
        return Parts(question=condition.question, question_type="number", bound=condition.at_least)

    def visit_below(self, condition: Below) -> Parts:
        return Parts(question=condition.question, question_type="number", bound=condition.below)


_PARTS = _Parts()


def parts(condition: Condition) -> Parts:
    """What one condition names (not what is nested in it: see `walk`)."""
    return condition._parts


def walk(condition: Condition) -> Iterator[Condition]:
    """Yield a condition and every condition nested in it (terms are not followed)."""
    yield condition
    for child in parts(condition).children:
        yield from walk(child)


def terms_in(condition: Condition) -> set[str]:
    """The terms a condition names, at any depth (what their own conditions name is not included)."""
    return {term for node in walk(condition) if (term := parts(node).term) is not None}
