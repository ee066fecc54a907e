"""What a raw answer record gives, computed once per distinct raw form.

Reading a record (`read_answers`) costs far more than looking up its decision,
and real answer files repeat the same few answer combinations under different
respondent ids. So the outcome of a record — its decision and warnings, or its
problems — is keyed on the record's raw content *without its id* and computed
once; the id is read on its own (`triage.core.answers.read_id`) and added per record.

The key must tell apart everything `read_answers` tells apart: `1`, `1.0` and
`true` compare equal in Python but are different answers, so values are tagged
with their exact type (a number read exactly as written, a `Decimal`, by its
text). Anything unusual (a nested mapping, a non-text key, a custom class) has
no key and is simply read every time.

`evaluate_many` reads a stream of records this way, each distinct raw record
read and decided once.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from triage.core.answers import ID_FIELD, alarm, read_answers, read_id, read_value
from triage.core.engine import Decision, decide, evaluate
from triage.core.errors import InvalidAnswers
from triage.core.models import Answers, Problem, RecordError, Result
from triage.core.pack import RulePack

MEMO_LIMIT = 50_000
"""Distinct raw forms remembered at once; past it the memo starts afresh, so memory stays flat."""
MEMO_TEXT = 64
"""The longest key or text answer of a record that is remembered (option and question ids are short)."""
MEMO_KEYS = 32
"""The most keys, or choices in a list, of a record that is remembered: an answer record has a few."""
MEMO_RECORD_BYTES = 1024
"""The largest record remembered, its keys and texts counted (its JSON, where that is the key): an
answer record needs well under this; a larger one is read again each time it comes."""


@dataclass(slots=True, eq=False)
class Outcome:
    """The outcome of a record's answers, whatever its id: a decision and warnings, or problems."""

    decision: Decision | None
    warnings: tuple[Problem, ...] = ()
    problems: tuple[Problem, ...] = ()
    _template: Result | RecordError | None = None

    def refused_for_id(self, problem: Problem, pack: RulePack) -> tuple[Problem, ...]:
        """The errors of a record with these answers whose id is wrong (`problem`)."""
        if self.decision is None:
            return (problem, *self.problems)
        return (problem, *alarm(self.decision.urgency, pack))

    def shared(self, pack: RulePack, record_id: str | None) -> Result | RecordError:
        """Like `entry` without a source, copying one prebuilt entry instead of validating anew."""
        template = self._template
        if template is None:
            template = self._template = self.entry(pack, None, None)
        return template if record_id is None else template.model_copy(update={"id": record_id})

    def entry(self, pack: RulePack, record_id: str | None, source: str | None) -> Result | RecordError:
        """The result (or error entry) of one record with this outcome."""
        if self.decision is None:
            return RecordError(id=record_id, source=source, errors=self.problems)
        return self.decision.result(pack, record_id, source=source, warnings=self.warnings)


def read_outcome(record: object, pack: RulePack) -> Outcome:
    """Read and decide one record, ignoring its id (see `triage.core.answers.read_id`)."""
    if isinstance(record, Mapping) and ID_FIELD in record:
        record = {k: v for k, v in record.items() if k != ID_FIELD}
    try:
        answers = read_answers(record, pack)
    except InvalidAnswers as exc:
        return Outcome(None, problems=exc.problems)
    return Outcome(decide(pack, answers.values), warnings=answers.warnings)


def record_key(record: object) -> Hashable | None:
    """A hashable key for a record's content without its id, or None when it has no safe key.

    Two records with the same key give the same outcome. Values are tagged with
    their exact type (`1`, `1.0` and `true` are different answers); floats by
    their repr, so that `-0.0` and `nan` are told apart and found again.
    """
    if type(record) is not dict or len(record) > MEMO_KEYS:
        return None
    items: list[object] = []
    size = 0
    for key, value in record.items():
        if type(key) is not str or len(key) > MEMO_TEXT:
            return None
        if key == ID_FIELD:
            continue
        tagged = _tagged(value)
        if tagged is None:
            return None
        size += len(key) + (len(value) if isinstance(value, str) else MEMO_TEXT)
        items.append((key, tagged))
    return tuple(items) if size <= MEMO_RECORD_BYTES else None


def _tagged(value: object) -> Hashable | None:
    """A raw answer as a hashable key, tagged with its exact type; None for an unusual value, or one
    too long to be worth remembering (which is read again each time)."""
    kind = type(value)
    if isinstance(value, str) and kind is str:
        return value if len(value) <= MEMO_TEXT else None
    if value is None or kind is int or kind is bool:
        return (kind, value)
    if kind is float:
        return (kind, repr(value))
    if kind is Decimal:
        text = str(value)
        return (kind, text) if len(text) <= MEMO_TEXT else None
    if (
        isinstance(value, (list, tuple))
        and len(value) <= MEMO_KEYS
        and all(type(choice) is str and len(choice) <= MEMO_TEXT for choice in value)
    ):
        # read_answers treats a list and a tuple alike; non-text choices all get one message.
        return (list, tuple(value))
    return None


_NOT_READ = object()
_UNREADABLE = object()
"""In an answers key, in place of an answer that cannot be read (the raw answer follows it)."""

AnswersKey = tuple[tuple[tuple[str, Hashable], ...], frozenset[tuple[object, ...]]]
"""A record's unknown keys in order with their values (which may state an alarm: see
`triage.core.answers.urgency_note`), and its answers as read (or as written, where they cannot be)."""


class OutcomeMemo:
    """Outcomes of raw records, for one pack; each level bounded to `MEMO_LIMIT` entries.

    Two levels. A record's raw form (without its id) is looked up first. For a
    form not seen before, each answer is read once per distinct raw answer, and
    the record is keyed on what `read_answers` depends on: its unknown keys, in
    order, and its answers as read — as written where they cannot be read. Only
    a record with a new such key is read in full.
    """

    def __init__(self, pack: RulePack, limit: int = MEMO_LIMIT) -> None:
        self.pack = pack
        self.limit = limit
        self._memo: dict[Hashable, Outcome] = {}
        self._by_answers: dict[AnswersKey, Outcome] = {}
        self._values: dict[tuple[str, Hashable], object] = {}

    def clear(self) -> None:
        """Forget every outcome (memory stays flat: see `triage.batch.stream.MEMO_BYTES`)."""
        self._memo.clear()
        self._by_answers.clear()
        self._values.clear()

    def outcome(self, record: object) -> Outcome:
        """The outcome of a record (without its id), read once per distinct raw form."""
        key = record_key(record)
        if key is None:
            return read_outcome(record, self.pack)
        found = self._memo.get(key)
        return found if found is not None else _kept(self._memo, key, self.read(record), self.limit)

    def read(self, record: object) -> Outcome:
        """The outcome of a record (without its id), read in full once per distinct answers key."""
        key = self._answers_key(record)
        if key is None:
            return read_outcome(record, self.pack)
        found = self._by_answers.get(key)
        if found is not None:
            return found
        return _kept(self._by_answers, key, read_outcome(record, self.pack), self.limit)

    def _answers_key(self, record: object) -> AnswersKey | None:
        """What reading a record depends on; None for anything but a flat record of plain values."""
        if type(record) is not dict:
            return None
        questions = self.pack.questions
        values = self._values
        unknown: list[tuple[str, Hashable]] = []
        answers: list[tuple[object, ...]] = []
        for key, raw in record.items():
            if key == ID_FIELD:
                continue
            question = questions.get(key)
            if question is None:
                tagged = _tagged(raw)
                if type(key) is not str or len(key) > MEMO_TEXT or tagged is None:
                    return None
                unknown.append((key, tagged))
                continue
            if raw is None:  # a null answer is no answer
                continue
            tagged = _tagged(raw)
            if tagged is None:
                return None
            value = values.get((key, tagged), _NOT_READ)
            if value is _NOT_READ:
                read = read_value(question, raw)
                readable = _UNREADABLE if isinstance(read, Problem) else read
                value = _kept(values, (key, tagged), readable, self.limit)
            answers.append((key, value, tagged) if value is _UNREADABLE else (key, value))
        return tuple(unknown), frozenset(answers)


K = TypeVar("K")
V = TypeVar("V")


def _kept(memo: dict[K, V], key: K, value: V, limit: int) -> V:
    """Remember a value and return it; a memo of `limit` entries starts afresh, so memory stays flat."""
    if len(memo) >= limit:
        memo.clear()
    memo[key] = value
    return value


def evaluate_many(records: Iterable[object], pack: RulePack) -> Iterator[Result | RecordError]:
    """Evaluate records one by one with `pack`, yielding a result or a `RecordError` for each, in order.

    Any value may be a record: one that is not a valid answer record gives a
    `RecordError` naming every problem, and the stream goes on. Each distinct raw
    record (without its id) is read and decided once.
    """
    memo = OutcomeMemo(pack)
    for record in records:
        if isinstance(record, Answers) or not isinstance(record, Mapping):
            try:
                yield evaluate(record, pack)  # type: ignore[arg-type]
            except InvalidAnswers as exc:
                yield RecordError(id=exc.record_id, errors=exc.problems)
            continue
        record_id = read_id(record.get(ID_FIELD))
        outcome = memo.outcome(record)
        if isinstance(record_id, Problem):
            yield RecordError(id=None, errors=outcome.refused_for_id(record_id, pack))
        else:
            yield outcome.shared(pack, record_id)
