"""The pack model: the schema of a rule pack, and `RulePack`, a pack ready for the engine. Pure.

A pack is a folder holding `pack.yaml` and the source article it cites (see
docs/RULEPACK.md). This is what its YAML must hold (`PackDocument`), and the
loaded pack with its identity and the paragraphs of its article (`RulePack`).
Reading a pack from disk, safely and within limits, and verifying it are
`triage.packs`'s.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path, PurePath
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from triage.core.models import Citation, PackInfo
from triage.core.vocabulary import AnswerMap, AnswerValue, Condition, Scope, parts, walk

NONE = "none"
"""The reserved answer meaning "none of these" in a multi-select."""


def selection(choices: Collection[str]) -> frozenset[str] | None:
    """The answer a multi-select's choices give: the options chosen, or the empty set for `NONE`
    alone. `NONE` with other choices says two things at once, and gives no answer (None)."""
    if NONE not in choices:
        return frozenset(choices)
    return frozenset() if len(choices) == 1 else None


def whole_numbers(low: int, high: int) -> str:
    """A range of whole-number answers in words."""
    return f"a whole number from {low} to {high}"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Option(_Spec):
    """One choice of a single or multi question: its id (what answer files contain) and wording."""

    id: str = Field(min_length=1)
    label: str = Field(min_length=1)
    description: str = Field(min_length=1)


class Question(_Spec):
    """One question: its id (the answer files' key), its wording and when it is asked.

    `name` is what the question is about, in a person's words ("the cause"): the
    explanation of a result says "the cause: after a facial paralysis…" with it.
    Without one, the prompt stands in.
    """

    id: str = Field(min_length=1)
    type: Literal["single", "multi", "number"]
    prompt: str = Field(min_length=1)
    name: str | None = Field(default=None, min_length=1)
    help: str | None = None
    asked_when: Condition | None = None
    options: tuple[Option, ...] = ()
    none_label: str | None = None
    unit: str | None = None
    min: int | None = None
    max: int | None = None

    @model_validator(mode="after")
    def _fits_its_type(self) -> Question:
        if self.type == "number":
            if self.options:
                raise ValueError("a number question has no options")
            if self.min is None or self.max is None:
                raise ValueError("a number question needs min and max")
            if self.min > self.max:
                raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        else:
            if len(self.options) < 2:
                raise ValueError(f"a {self.type} question needs at least two options")
            if self.min is not None or self.max is not None or self.unit is not None:
                raise ValueError(f"a {self.type} question has no min, max or unit")
        if self.type == "multi" and not self.none_label:
            raise ValueError('a multi question needs a none_label (the "none of these" choice)')
        if self.type != "multi" and self.none_label is not None:
            raise ValueError("only a multi question has a none_label")
        return self

    def is_asked(self, answers: AnswerMap, scope: Scope) -> bool:
        """Whether the question is asked, given the answers before it: its `asked_when` holds."""
        return self.asked_when is None or self.asked_when.holds(answers, scope)

    @property
    def bounds(self) -> tuple[int, int]:
        """A number question's answers: the whole numbers from min to max."""
        assert self.min is not None
        assert self.max is not None
        return self.min, self.max

    def allows(self, number: int) -> bool:
        """Whether a whole number is an answer to this number question."""
        low, high = self.bounds
        return low <= number <= high

    @functools.cached_property
    def _option_ids(self) -> tuple[str, ...]:
        return tuple(o.id for o in self.options)

    def option_ids(self) -> tuple[str, ...]:
        """The ids of the options, in order (computed once: every answer read asks for them)."""
        return self._option_ids

    def written(self, value: AnswerValue) -> str | int | list[str]:
        """An answer as an answer record writes it: an option id, a number, or the options chosen
        in the question's order (none chosen: an empty list)."""
        if isinstance(value, frozenset):
            return [o for o in self.option_ids() if o in value]
        return value

    def answer_text(self, value: AnswerValue) -> str:
        """An answer in the words the person chose it by: option labels, the none label, a number
        with its unit."""
        if isinstance(value, frozenset):
            if not value:
                return self.none_label or NONE
            return "; ".join(o.label for o in self.options if o.id in value)
        if isinstance(value, int):
            return f"{value} {self.unit}" if self.unit else str(value)
        return next((o.label for o in self.options if o.id == value), value)


class Parameter(_Spec):
    """A number used by the rules, with where it comes from."""

    value: int
    basis: str = Field(min_length=1)


class Category(_Spec):
    """A prognosis category, and what an urgency level shares with one: its text for the reader,
    and sources."""

    id: str = Field(min_length=1)
    label: str = Field(min_length=1)
    text: str = Field(min_length=1)
    citations: tuple[Citation, ...] = Field(min_length=1)


class Level(Category):
    """An urgency level; `display` says how loudly a screen shows it (an alarm cannot be missed).

    `safety_net` says when to get help sooner than the level advises. Verification
    requires it on every level but the first (the most urgent), whose advice is
    already the soonest there is.
    """

    display: Literal["alarm", "notice", "plain"] = "plain"
    safety_net: str | None = Field(default=None, min_length=1)


class Rule(_Spec):
    """One row of a decision table: when it matches, and the level or category it gives."""

    id: str = Field(min_length=1)
    when: Condition
    then: str
    reason: str = Field(min_length=1)


def first_match(rules: Sequence[Rule], matches: Iterable[bool]) -> Rule | None:
    """The rule a table gives, knowing which of its rules match, in order: the first that does.

    Urgency is decided by the first rule that matches; exactly one prognosis rule
    matches any answers (verification proves it), so the first is that one.
    """
    return next((rule for rule, hit in zip(rules, matches, strict=True) if hit), None)


def matching_rule(rules: Sequence[Rule], values: AnswerMap, scope: Scope) -> Rule | None:
    """The rule a table gives for a set of answers (`first_match`); None only for a pack that
    failed verification."""
    return first_match(rules, (rule.when.holds(values, scope) for rule in rules))


class UrgencyTable(_Spec):
    """The urgency levels, most urgent first, and the first-match rules that choose one."""

    levels: tuple[Level, ...] = Field(min_length=1)
    rules: tuple[Rule, ...] = Field(min_length=1)


class PrognosisTable(_Spec):
    """The prognosis categories, and the rules of which exactly one matches any answers."""

    categories: tuple[Category, ...] = Field(min_length=1)
    rules: tuple[Rule, ...] = Field(min_length=1)


class SuggestionRule(_Spec):
    """A care suggestion: when it is given, its text and its sources."""

    id: str = Field(min_length=1)
    when: Condition
    reason: str = Field(min_length=1)
    text: str = Field(min_length=1)
    citations: tuple[Citation, ...] = Field(min_length=1)


class Expectation(_Spec):
    """What an example's answers must give."""

    urgency: str
    prognosis: str
    suggestions: tuple[str, ...]


class Example(_Spec):
    """Answers and the result they must give; run by `triage rules test` and the tests."""

    name: str = Field(min_length=1)
    answers: dict[str, object]
    expect: Expectation


class SourceSpec(_Spec):
    """The source article the citations quote, and how its paragraphs are numbered."""

    file: str = Field(min_length=1)
    title: str = Field(min_length=1)
    header_lines: int = Field(ge=0)

    @field_validator("file")
    @classmethod
    def _inside_the_pack(cls, value: str) -> str:
        """The article is a file of the pack itself, so the pack's sha256 covers what it cites."""
        path = PurePath(value)
        if path.is_absolute() or ".." in path.parts or "\\" in value:
            raise ValueError(f"{value!r} is not a file in the pack's folder; write a name such as source.txt")
        return value


class PackDocument(_Spec):
    """The schema of `pack.yaml`."""

    format: Literal[1]
    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    title: str = Field(min_length=1)
    source: SourceSpec
    disclaimer: str = Field(min_length=1)
    parameters: dict[str, Parameter] = {}
    questions: tuple[Question, ...] = Field(min_length=1)
    terms: dict[str, Condition] = {}
    urgency: UrgencyTable
    prognosis: PrognosisTable
    suggestions: tuple[SuggestionRule, ...] = Field(min_length=1)
    examples: tuple[Example, ...] = ()


class RulePack:
    """A loaded and verified rule pack, ready for the engine.

    Holds the validated document, the numbered paragraphs of its source article
    and its identity (name, version and the sha256 of its files), so that every
    result can be traced to the exact content that made it.
    """

    def __init__(self, document: PackDocument, paragraphs: tuple[str, ...], sha256: str, path: Path) -> None:
        self.document = document
        self.paragraphs = paragraphs
        self.path = path
        self.info = PackInfo(name=document.name, version=document.version, sha256=sha256)
        self.questions: Mapping[str, Question] = {q.id: q for q in document.questions}
        self.levels: Mapping[str, Level] = {o.id: o for o in document.urgency.levels}
        self.categories: Mapping[str, Category] = {o.id: o for o in document.prognosis.categories}
        # questions_read of each condition object (kept with it, so a reused id() cannot mislead).
        self._questions_read: dict[int, tuple[Condition, frozenset[str]]] = {}

    @functools.cached_property
    def asked_depends_on(self) -> Mapping[str, frozenset[str]]:
        """For each question, the questions its asked_when condition reads (through terms)."""
        return {
            q.id: self.questions_read(q.asked_when) if q.asked_when is not None else frozenset()
            for q in self.document.questions
        }

    def questions_read(self, condition: Condition) -> frozenset[str]:
        """The questions a condition reads, following terms (each once, so cycles end).

        Remembered per condition: verification asks for the same ones thousands of times.
        """
        cached = self._questions_read.get(id(condition))
        if cached is not None and cached[0] is condition:
            return cached[1]
        read = self._walk_questions_read(condition)
        self._questions_read[id(condition)] = (condition, read)
        return read

    def _walk_questions_read(self, condition: Condition) -> frozenset[str]:
        found: set[str] = set()
        seen_terms: set[str] = set()
        pending = [condition]
        while pending:
            for node in walk(pending.pop()):
                named = parts(node)
                if named.question is not None:
                    found.add(named.question)
                term = named.term
                if term is not None and term not in seen_terms and term in self.document.terms:
                    seen_terms.add(term)
                    pending.append(self.document.terms[term])
        return frozenset(found)

    def conditions(self) -> Iterator[tuple[str, Condition]]:
        """Every top-level condition of the pack, with where it stands."""
        return document_conditions(self.document)

    def __repr__(self) -> str:
        return f"<RulePack {self.info.name} {self.info.version} from {self.path}>"

    @property
    def files(self) -> tuple[Path, Path]:
        """The files the pack was read from: its pack file and the source article it cites."""
        return self.path, self.path.parent / self.document.source.file

    def term(self, name: str) -> Condition:
        return self.document.terms[name]

    def param(self, name: str) -> int:
        return self.document.parameters[name].value

    def question_name(self, question: str) -> str:
        """What a question is about, in a person's words: its `name`, else its prompt."""
        q = self.questions[question]
        return q.name or q.prompt

    def answer_words(self, question: str, value: AnswerValue) -> str:
        """An answer in words that can stand inside a sentence: labels, first letters lowered
        where that is only a capital ("after a facial paralysis…", but "I don't know", "FSHD")."""
        q = self.questions[question]
        if isinstance(value, frozenset) and value:
            return " and ".join(_in_sentence(o.label) for o in q.options if o.id in value)
        return _in_sentence(q.answer_text(value))


def _in_sentence(label: str) -> str:
    first, _, _ = label.partition(" ")
    if len(first) > 1 and first[1:] == first[1:].lower() and first[:1].isupper():
        return label[:1].lower() + label[1:]
    return label


def document_conditions(document: PackDocument) -> Iterator[tuple[str, Condition]]:
    """Every top-level condition of a pack document, with where it stands."""
    for q in document.questions:
        if q.asked_when is not None:
            yield f"questions[{q.id}].asked_when", q.asked_when
    for name, term in document.terms.items():
        yield f"terms.{name}", term
    for table in ("urgency", "prognosis"):
        for rule in getattr(document, table).rules:
            yield f"{table}.rules[{rule.id}].when", rule.when
    for suggestion in document.suggestions:
        yield f"suggestions[{suggestion.id}].when", suggestion.when
