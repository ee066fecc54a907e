"""Conditions and answers in words, for the people who read a pack: phrases built from its own labels.

Every phrase is generated from the pack's condition trees and its own labels
(the closed vocabulary of `triage.core.vocabulary` maps to fixed phrases), so what a
clinician reads is exactly what the engine runs. Nothing here is clinical.

* `to_words(condition, pack)` — one condition as a phrase.
* `asked_when_words(question, pack)` — when a question is asked.
* `citations_in_words(citations)` — the sources of a text.

`--rules` loads any pack, so every id and text of a pack is escaped
(`triage.present.escape`) where it is put into a phrase, by the `Style`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from triage.core.models import ArticleCitation, Citation
from triage.core.pack import Question, RulePack
from triage.core.vocabulary import (
    All,
    Always,
    AtLeast,
    Below,
    Condition,
    Empty,
    In,
    Includes,
    Not,
    Number,
    ParamRef,
    Term,
    Test,
)
from triage.core.vocabulary import Any as AnyOf
from triage.present import escape


@dataclass(frozen=True)
class Style:
    """How a pack's names and texts are marked and escaped: terminal text or Markdown.

    `escaped=False` leaves plain text as it is, for a caller that escapes the
    whole phrase itself (a Mermaid label, a line printed by the command line).
    """

    markdown: bool
    escaped: bool = True

    def text(self, text: str) -> str:
        """Any text of the pack, safe where the style's output goes."""
        if self.markdown:
            return escape.markdown(text)
        return escape.text(text) if self.escaped else text

    def name(self, text: str) -> str:
        """A term's or parameter's name."""
        return f"*{self.text(text)}*" if self.markdown else self.text(text)

    def question(self, text: str) -> str:
        """A question's or an option's id."""
        return escape.markdown_code(text) if self.markdown else self.text(text)

    def label(self, text: str) -> str:
        """An option's label, as a person sees it in the questionnaire."""
        return f'"{self.text(text)}"'


PLAIN = Style(markdown=False)
"""Text for a terminal."""
RAW = Style(markdown=False, escaped=False)
"""Text for a caller that escapes it whole."""
MARKDOWN = Style(markdown=True)


def to_words(condition: Condition, pack: RulePack, style: Style = PLAIN) -> str:
    """Say a condition in words, using the pack's option labels and term names.

    `all` is joined with "and", `any` with "or"; a nested group is bracketed so
    that the reading is never ambiguous.
    """
    return _words(condition, pack, style, top=True)


def _words(condition: Condition, pack: RulePack, style: Style, top: bool = False) -> str:
    if isinstance(condition, Always):
        return "always (any answers)"
    if isinstance(condition, Term):
        return style.name(condition.term)
    if isinstance(condition, Not):
        inner = condition.not_
        if isinstance(inner, Test):
            return _test_words(inner, pack, style, negated=True)
        return f"not {_words(inner, pack, style)}"
    if isinstance(condition, (All, AnyOf)):
        joiner = " and " if isinstance(condition, All) else " or "
        text = joiner.join(_words(c, pack, style) for c in condition.children())
        return text if top or len(condition.children()) == 1 else f"({text})"
    if isinstance(condition, Test):
        return _test_words(condition, pack, style, negated=False)
    raise TypeError(f"unknown condition {condition!r}")  # pragma: no cover - the vocabulary is closed


def _test_words(test: Test, pack: RulePack, style: Style, *, negated: bool) -> str:
    question = pack.questions.get(test.question)
    who = style.question(test.question)
    if isinstance(test, In):
        labels = " or ".join(style.label(_option_label(question, o)) for o in test.in_)
        return f"{who} is {'not ' if negated else ''}{labels}"
    if isinstance(test, Includes):
        verb = "does not include" if negated else "includes"
        return f"{who} {verb} {style.label(_option_label(question, test.includes))}"
    if isinstance(test, Empty):
        none = style.label(question.none_label) if question and question.none_label else "none"
        if test.empty != negated:
            return f"{who} is {none}"
        return f"{who} has at least one answer"
    if isinstance(test, (AtLeast, Below)):
        unit = f" {style.text(question.unit)}" if question and question.unit else ""
        at_least = isinstance(test, AtLeast) != negated
        bound = test.at_least if isinstance(test, AtLeast) else test.below
        amount = _number(bound, pack, unit, style)
        return f"{who} is {amount} or more" if at_least else f"{who} is less than {amount}"
    raise TypeError(f"unknown test {test!r}")  # pragma: no cover - the vocabulary is closed


def _number(value: Number, pack: RulePack, unit: str, style: Style) -> str:
    if isinstance(value, ParamRef):
        return f"{pack.param(value.param)}{unit} ({style.name(value.param)})"
    return f"{value}{unit}"


def _option_label(question: Question | None, option: str) -> str:
    if question is not None:
        for o in question.options:
            if o.id == option:
                return o.label
    return option


def citations_in_words(citations: Sequence[Citation]) -> str:
    """Citations as a reader sees them: ¶3 "quote"; or the external basis."""
    parts = []
    for c in citations:
        if isinstance(c, ArticleCitation):
            parts.append(f'¶{c.paragraph} "{c.quote}"')
        else:
            parts.append(f"external: {c.external}")
    return "; ".join(parts)


def asked_when_words(question: Question, pack: RulePack, style: Style = PLAIN) -> str:
    """When a question is asked, in words."""
    condition = question.asked_when
    if condition is None:
        return "always"
    words = f"when {to_words(condition, pack, style)}"
    if isinstance(condition, Term) and condition.term in pack.document.terms:
        words += f": {to_words(pack.term(condition.term), pack, style)}"
    return words
