"""The data a program exchanges with triage: validated answers and results.

Field names here are a public contract (SPEC §5, §6): answer files and the
programs that read results depend on them. New fields may be added; none may be
renamed or removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from triage.core.vocabulary import AnswerValue


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Problem(_Frozen):
    """One thing wrong with (or worth saying about) one field of an answer record."""

    field: str
    message: str


class Answers(_Frozen):
    """A validated answer record: only the questions that were asked, normalised.

    Build one with `triage.read_answers` (or let `triage.evaluate` do it): it
    checks every rule of the answer format against the rule pack.
    """

    id: str | None = None
    values: Mapping[str, AnswerValue]
    warnings: tuple[Problem, ...] = ()


class ArticleCitation(_Frozen):
    """A short verbatim quote from a numbered paragraph of the source article."""

    paragraph: int
    quote: str


class ExternalCitation(_Frozen):
    """The public basis of a safety rule that does not come from the article."""

    external: str


Citation = ArticleCitation | ExternalCitation


class UrgencyAdvice(_Frozen):
    """How soon to see a doctor, in words for the person answering, with sources.

    `display` is how loudly a screen shows it: `alarm` (a banner that cannot be
    missed, even without colour), `notice`, or `plain`. `safety_net` says when to
    get help sooner than this; every level but the most urgent has one.
    """

    label: str
    display: Literal["alarm", "notice", "plain"] = "plain"
    text: str
    safety_net: str | None = None
    citations: tuple[Citation, ...] = Field(min_length=1)


class Prognosis(_Frozen):
    """What the source article says about recovery for these answers."""

    category: str
    label: str
    text: str
    citations: tuple[Citation, ...] = Field(min_length=1)


class Suggestion(_Frozen):
    """One care suggestion from the source article (or a safety rule)."""

    id: str
    text: str
    citations: tuple[Citation, ...] = Field(min_length=1)


class Explanation(_Frozen):
    """One rule that decided part of the result: its id (`rule`), and in words for the person
    answering, why it applies and the answers that made it fire (`text`)."""

    rule: str
    text: str


class PackInfo(_Frozen):
    """Which rule pack made a result: enough to trace a decision to exact content."""

    name: str
    version: str
    sha256: str


class Result(_Frozen):
    """The outcome of one valid answer record."""

    id: str | None
    source: str | None = None
    urgency: str
    urgency_advice: UrgencyAdvice
    prognosis: Prognosis
    suggestions: tuple[Suggestion, ...] = Field(min_length=1)
    explanation: tuple[Explanation, ...]
    warnings: tuple[Problem, ...]
    disclaimer: str = Field(min_length=1)
    rulepack: PackInfo


class RecordError(_Frozen):
    """In place of a result: every problem of one invalid answer record."""

    id: str | None
    source: str | None = None
    errors: tuple[Problem, ...] = Field(min_length=1)
