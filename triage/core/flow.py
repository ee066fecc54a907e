"""The questionnaire's flow over a rule pack: plain code, no terminal.

Which question comes next, what a changed answer drops, and the answer record
the answers make. The questions, their order and when each is asked come from
the pack (`asked_when`); nothing here knows what a question means.

The terminal (`triage.apps.terminal`) and the tests drive the same loop,
`interview`, through a `Prompter`: an object that asks one question, or offers
a review of the answers, and returns what the person chose.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from triage.core.pack import NONE, Question, RulePack, selection
from triage.core.vocabulary import AnswerValue

_DIGITS = re.compile(r"[+-]?\d+")


@dataclass(frozen=True)
class ReviewItem:
    """One answer as the review shows it: the question and the answer in words."""

    question: Question
    value: AnswerValue
    text: str


class Prompter(Protocol):
    """What the flow needs from a front end: ask a question, or review the answers."""

    def ask(self, question: Question, default: AnswerValue | None) -> AnswerValue:
        """Ask one question and return the answer, normalised as `Answers.values` holds it.

        `default` is the person's earlier answer when a question is asked again.
        Raise `KeyboardInterrupt` when the person gives up.
        """
        ...

    def review(self, items: Sequence[ReviewItem]) -> str | None:
        """Show every answer; return the id of the question to change, or None to confirm."""
        ...


class Flow:
    """The answers given so far, and what to ask next.

    A question is asked when its `asked_when` holds for the answers before it.
    Changing an answer re-asks the questions that depend on it (offering the
    earlier answer again) and drops the answers to questions no longer asked.
    """

    def __init__(self, pack: RulePack) -> None:
        self.pack = pack
        self._answers: dict[str, AnswerValue] = {}
        self._reopened: dict[str, AnswerValue] = {}
        dependents: dict[str, set[str]] = {q: set() for q in pack.questions}
        for question, reads in pack.asked_depends_on.items():
            for read in reads:
                dependents.setdefault(read, set()).add(question)
        self._dependents = dependents

    @classmethod
    def resume(
        cls,
        pack: RulePack,
        answers: Mapping[str, AnswerValue],
        reopened: Mapping[str, AnswerValue] | None = None,
    ) -> Flow:
        """Take up a flow whose state was carried elsewhere (a web form holds it between pages).

        `answers` and `reopened` are what `answers` and `reopened` gave, already
        read (see `triage.core.answers.read_value`). Answers to questions that are not
        asked with them are dropped, as they would have been.
        """
        flow = cls(pack)
        for question_id in (*answers, *(reopened or {})):
            if question_id not in pack.questions:
                raise KeyError(f"unknown question id {question_id!r}")
        flow._answers.update(answers)
        flow._reopened.update({k: v for k, v in (reopened or {}).items() if k not in answers})
        flow._drop_unasked()
        return flow

    @property
    def reopened(self) -> Mapping[str, AnswerValue]:
        """Earlier answers to questions asked again after a change, offered as their defaults."""
        return {q: self._reopened[q] for q in self.pack.questions if q in self._reopened}

    @property
    def answers(self) -> Mapping[str, AnswerValue]:
        """The current answers, in the pack's question order."""
        return {q: self._answers[q] for q in self.pack.questions if q in self._answers}

    def is_asked(self, question: Question) -> bool:
        """Whether the question is asked, given the current answers."""
        return question.is_asked(self._answers, self.pack)

    def next_question(self) -> Question | None:
        """The first question that is asked and not yet answered, or None when done."""
        for question in self.pack.document.questions:
            if question.id not in self._answers and self.is_asked(question):
                return question
        return None

    def default(self, question_id: str) -> AnswerValue | None:
        """The earlier answer to offer when a question is asked again, if any."""
        return self._reopened.get(question_id, self._answers.get(question_id))

    def answer(self, question_id: str, value: AnswerValue) -> None:
        """Record an answer (new or changed).

        When it changes an earlier answer, the questions whose asking depends on
        it (directly or through other answers) are asked again; answers to
        questions that are no longer asked are dropped.
        """
        if question_id not in self.pack.questions:
            raise KeyError(f"unknown question id {question_id!r}")
        before = self._answers.get(question_id, self._reopened.get(question_id))
        self._reopened.pop(question_id, None)
        self._answers[question_id] = value
        if before is not None and before != value:
            for dependent in self.dependents(question_id):
                if dependent in self._answers:
                    self._reopened[dependent] = self._answers.pop(dependent)
        self._drop_unasked()

    def dependents(self, question_id: str) -> frozenset[str]:
        """The questions whose asking depends on this one's answer, directly or not."""
        found: set[str] = set()
        pending = [question_id]
        while pending:
            for dependent in self._dependents.get(pending.pop(), ()):
                if dependent not in found:
                    found.add(dependent)
                    pending.append(dependent)
        return frozenset(found)

    def _drop_unasked(self) -> None:
        # In question order, so that a dropped answer cannot keep a later question
        # asked. An answer waiting to be asked again still counts, so that the
        # questions after it keep their earlier answers to offer.
        known = {**self._reopened, **self._answers}
        for question in self.pack.document.questions:
            if not question.is_asked(known, self.pack):
                known.pop(question.id, None)
                self._answers.pop(question.id, None)
                self._reopened.pop(question.id, None)

    @property
    def complete(self) -> bool:
        """Whether every question that is asked has an answer."""
        return self.next_question() is None

    @property
    def ended_at_first_answer(self) -> bool:
        """The first answer alone ended the questionnaire (as a red flag does).

        Then the result is shown at once, without a review.
        """
        return self.complete and len(self._answers) == 1

    def review_items(self) -> list[ReviewItem]:
        """Every current answer with its question, in order, for the review."""
        return [
            ReviewItem(self.pack.questions[q], value, answer_text(self.pack.questions[q], value))
            for q, value in self.answers.items()
        ]

    def record(self) -> dict[str, object]:
        """The answers as an answer record (SPEC §5), ready for JSON or YAML."""
        return {q: self.pack.questions[q].written(value) for q, value in self.answers.items()}


def interview(pack: RulePack, prompter: Prompter) -> Flow:
    """Ask the pack's questions, review the answers, and return the finished flow.

    A first answer that ends the questionnaire (a red flag) skips the review, so
    the result comes at once.
    """
    flow = Flow(pack)
    while True:
        while (question := flow.next_question()) is not None:
            flow.answer(question.id, prompter.ask(question, flow.default(question.id)))
        if flow.ended_at_first_answer:
            return flow
        chosen = prompter.review(flow.review_items())
        if chosen is None:
            return flow
        question = pack.questions[chosen]
        flow.answer(chosen, prompter.ask(question, flow.default(chosen)))


def answer_text(question: Question, value: AnswerValue) -> str:
    """An answer in the words the person chose it by."""
    return question.answer_text(value)


def parse_number(question: Question, text: str) -> int:
    """A typed whole number within the question's range; `ValueError` says what is allowed."""
    low, high = question.bounds
    what = f"a whole number of {question.unit}" if question.unit else "a whole number"
    # One short line: the prompt shows the error in a line that does not wrap.
    allowed = f"Type {what}, from {low} to {high}."
    typed = text.strip()
    if not typed:
        raise ValueError(f"Please answer. {allowed}")
    if not _DIGITS.fullmatch(typed):
        raise ValueError(f"Not a whole number. {allowed}")
    negative, digits = typed.startswith("-"), typed.lstrip("+-").lstrip("0") or "0"
    if len(digits) > len(str(max(abs(low), abs(high)))):
        # Out of range however long it is (int() refuses 4,300 digits or more, in words of its own).
        raise ValueError(f"{'Too small' if negative else 'Too large'}. {allowed}")
    number = -int(digits) if negative else int(digits)
    if not question.allows(number):
        raise ValueError(f"{'Too small' if number < low else 'Too large'}. {allowed}")
    return number


def check_choices(question: Question, chosen: Collection[str]) -> str | None:
    """For a multi-select: why this selection cannot be submitted, or None if it can.

    `NONE` stands for the explicit "none of these" choice; nothing chosen is
    not an answer (a missing answer is never read as none).
    """
    none_label = question.none_label or NONE
    if not chosen:
        return f'Choose at least one, or "{none_label}".'
    if selection(chosen) is None:
        return f'"{none_label}" cannot be combined with other choices.'
    return None


def selection_value(chosen: Collection[str]) -> frozenset[str]:
    """A checked multi-select (`check_choices` takes it) as an answer value: "none of these" is the
    empty set."""
    value = selection(chosen)
    assert value is not None, "check_choices refuses none with other choices"
    return value
