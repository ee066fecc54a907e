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

from triage.core import vocabulary as vocab
from triage.core.models import ArticleCitation, Citation
from triage.core.pack import Question, RulePack
from triage.core.vocabulary import Condition, ConditionVisitor, Number, ParamRef, parts
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
    return condition.accept(_Words(pack, style, top=True))


class _Words(ConditionVisitor[str]):
    """A condition in words; `negated`, the words of `not` it: a test says its own opposite
    ("does not include"), anything else is said with "not" before it."""

    def __init__(self, pack: RulePack, style: Style, *, top: bool = False, negated: bool = False) -> None:
        self.pack = pack
        self.style = style
        self.top = top
        self.negated = negated

    def visit_all(self, condition: vocab.All) -> str:
        return self._not(self._joined(condition.all, " and "))

    def visit_any(self, condition: vocab.Any) -> str:
        return self._not(self._joined(condition.any, " or "))

    def visit_not(self, condition: vocab.Not) -> str:
        return self._not(condition.not_.accept(_Words(self.pack, self.style, negated=True)))

    def visit_term(self, condition: vocab.Term) -> str:
        return self._not(self.style.name(condition.term))

    def visit_always(self, condition: vocab.Always) -> str:
        return self._not("always (any answers)")

    def visit_in(self, condition: vocab.In) -> str:
        question = self.pack.questions.get(condition.question)
        labels = " or ".join(self.style.label(_option_label(question, o)) for o in condition.in_)
        return f"{self._who(condition)} is {'not ' if self.negated else ''}{labels}"

    def visit_includes(self, condition: vocab.Includes) -> str:
        label = _option_label(self.pack.questions.get(condition.question), condition.includes)
        verb = "does not include" if self.negated else "includes"
        return f"{self._who(condition)} {verb} {self.style.label(label)}"

    def visit_empty(self, condition: vocab.Empty) -> str:
        question = self.pack.questions.get(condition.question)
        none = self.style.label(question.none_label) if question and question.none_label else "none"
        if condition.empty != self.negated:
            return f"{self._who(condition)} is {none}"
        return f"{self._who(condition)} has at least one answer"

    def visit_at_least(self, condition: vocab.AtLeast) -> str:
        return self._compared(condition, condition.at_least, at_least=not self.negated)

    def visit_below(self, condition: vocab.Below) -> str:
        return self._compared(condition, condition.below, at_least=self.negated)

    def _not(self, words: str) -> str:
        return f"not {words}" if self.negated else words

    def _joined(self, children: tuple[Condition, ...], joiner: str) -> str:
        inner = _Words(self.pack, self.style)
        text = joiner.join(c.accept(inner) for c in children)
        return text if self.top or len(children) == 1 else f"({text})"

    def _who(self, test: vocab.Test) -> str:
        return self.style.question(test.question)

    def _compared(self, test: vocab.Test, bound: Number, *, at_least: bool) -> str:
        question = self.pack.questions.get(test.question)
        unit = f" {self.style.text(question.unit)}" if question and question.unit else ""
        amount = _number(bound, self.pack, unit, self.style)
        relation = f"{amount} or more" if at_least else f"less than {amount}"
        return f"{self._who(test)} is {relation}"


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
    term = parts(condition).term
    if term is not None and term in pack.document.terms:
        words += f": {to_words(pack.term(term), pack, style)}"
    return words
