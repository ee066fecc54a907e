"""The whole answer space of a pack: every complete answer set the questionnaire can give.

Choices are finite; a whole-number answer matters only on which side of each
threshold the pack's conditions test it lies, so numbers are enumerated at their
range ends and on both sides of every threshold. Checking a property for each
answer set here checks it for every possible record.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from itertools import combinations

from triage.core.pack import Question, RulePack
from triage.core.vocabulary import AnswerValue, number, parts, walk


def answer_space(
    pack: RulePack, given: Mapping[str, AnswerValue] | None = None
) -> Iterator[dict[str, AnswerValue]]:
    """Yield every complete, normalised answer set, following the questions' asked_when.

    With `given`, only the sets that keep each given answer of a question still asked.
    """
    questions = pack.document.questions
    fixed = given or {}
    domains = {q.id: (fixed[q.id],) if q.id in fixed else domain(pack, q) for q in questions}
    values: dict[str, AnswerValue] = {}

    def extend(index: int) -> Iterator[dict[str, AnswerValue]]:
        if index == len(questions):
            yield dict(values)
            return
        question = questions[index]
        if not question.is_asked(values, pack):
            yield from extend(index + 1)
            return
        for value in domains[question.id]:
            values[question.id] = value
            yield from extend(index + 1)
        del values[question.id]

    return extend(0)


def domain(pack: RulePack, question: Question) -> tuple[AnswerValue, ...]:
    """The answers worth trying for one question: every option, subset or boundary number."""
    if question.type == "single":
        return question.option_ids()
    if question.type == "multi":
        ids = question.option_ids()
        return tuple(frozenset(c) for size in range(len(ids) + 1) for c in combinations(ids, size))
    points = set(question.bounds)
    for threshold in thresholds(pack, question.id):
        points.update({threshold - 1, threshold})
    return tuple(sorted(p for p in points if question.allows(p)))


def thresholds(pack: RulePack, question_id: str) -> set[int]:
    """Every number the pack's conditions compare a question's answer with."""
    found: set[int] = set()
    for _, condition in pack.conditions():
        for node in walk(condition):
            named = parts(node)
            if named.bound is not None and named.question == question_id:
                found.add(number(named.bound, pack))
    return found
