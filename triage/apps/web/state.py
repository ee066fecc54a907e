"""The questionnaire's state, carried from page to page in the form itself.

Nothing is kept on the server: every page holds the answers so far in hidden
fields, and every request reads them again as if they came from a stranger.
`a.<question>` holds an answer, `r.<question>` an earlier answer offered again
after a change (see `Flow.reopened`); a multi-select has one field per choice,
or the single value `none`. Each value is read with `triage.core.answers.read_value`,
the reader of answer files, and the flow is rebuilt with `Flow.resume`, which
drops answers to questions that are not asked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from triage.core.answers import read_value
from triage.core.flow import Flow
from triage.core.models import Problem
from triage.core.pack import NONE, RulePack
from triage.core.vocabulary import AnswerValue

ANSWER = "a."
REOPENED = "r."
CONTROLS = frozenset({"question", "answer", "action"})
"""The fields a page may post besides the carried answers."""


class StateError(Exception):
    """The carried answers cannot be read: the form was changed, or is from another pack."""


def read_state(fields: Iterable[tuple[str, str]], pack: RulePack) -> tuple[Flow, dict[str, list[str]]]:
    """The flow the carried answers make, and the page's own fields (`CONTROLS`) by name.

    Raises `StateError` for a field that is not expected, an answer that is not
    valid, or a single answer given twice.
    """
    carried: dict[str, list[str]] = {}
    controls: dict[str, list[str]] = {}
    for name, value in fields:
        if name.startswith((ANSWER, REOPENED)):
            carried.setdefault(name, []).append(value)
        elif name in CONTROLS:
            controls.setdefault(name, []).append(value)
        else:
            raise StateError(f"the form has a field this service does not use ({_shown(name)}).")
    answers: dict[str, AnswerValue] = {}
    reopened: dict[str, AnswerValue] = {}
    for name, values in carried.items():
        question = pack.questions.get(name[len(ANSWER) :])
        if question is None:
            raise StateError(f"the form answers a question this service does not ask ({_shown(name)}).")
        raw: object = values
        if question.type != "multi":
            if len(values) != 1:
                raise StateError(f"the form answers {question.id} more than once.")
            raw = values[0]
        read = read_value(question, raw)
        if isinstance(read, Problem):
            raise StateError(f"the form's answer to {question.id} is not valid: {read.message}")
        (answers if name.startswith(ANSWER) else reopened)[question.id] = read
    return Flow.resume(pack, answers, reopened), controls


def carried_fields(flow: Flow) -> list[tuple[str, str]]:
    """The hidden fields that carry the flow's state to the next page."""
    fields: list[tuple[str, str]] = []
    for prefix, values in ((ANSWER, flow.answers), (REOPENED, flow.reopened)):
        fields.extend(_fields(flow, prefix, values))
    return fields


def _fields(flow: Flow, prefix: str, values: Mapping[str, AnswerValue]) -> Iterable[tuple[str, str]]:
    for question_id, value in values.items():
        name = prefix + question_id
        written = flow.pack.questions[question_id].written(value)
        if isinstance(written, list):
            yield from ((name, option) for option in written or [NONE])
        else:
            yield name, str(written)


def _shown(name: str) -> str:
    return repr(name if len(name) <= 40 else name[:37] + "...")
