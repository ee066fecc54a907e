"""Reading answer records: every rule of the answer format (SPEC §5), driven by a pack.

A record is a flat mapping from question id to answer, plus an optional `id`.
`read_answers` walks the pack's questions in order, decides which were asked
given the answers before them, and normalises each answer: an option id, a
whole number, or a frozenset of option ids. Every problem of a record is
collected, so a person can fix them all at once; and when what the record
states calls for an alarm, its problems say so (`urgency_note`), since a
refused record is never evaluated.
"""

from __future__ import annotations

import datetime
import difflib
import functools
import math
import re
import unicodedata
import weakref
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from triage.core.answerspace import answer_space
from triage.core.errors import InvalidAnswers, answers_record
from triage.core.models import Answers, Problem
from triage.core.pack import NONE, Question, RulePack, matching_rule, selection, whole_numbers
from triage.core.vocabulary import AnswerValue

ID_FIELD = "id"
RECORD = "(record)"
URGENCY = "(urgency)"
_WHOLE = re.compile(r"[+-]?\d+(\.0*)?")
_BOOLEANS = {True: "yes", False: "no"}
_MAX_GUESSED = 64
"""Longest answer or key compared with the known ids to suggest one (longer ones are never typos)."""
_MAX_KEY_SHOWN = 100
"""Longest unknown key named as it is in a problem; a longer one is shortened."""
_NOT_TEXT = "question ids are text; this key is not"
MAX_PROBLEMS_OF_A_KIND = 20
"""The most problems of one kind (keys that are not questions, keys given twice, unknown FHIR
linkIds) an error entry names; one more problem says how many more there were. With it, an entry
stays small whatever a record holds (a YAML alias can repeat a record of 5,000 unknown keys)."""


class Capped:
    """Problems of one kind, named up to `MAX_PROBLEMS_OF_A_KIND`, the rest only counted.

    Before making a problem of the kind, ask `room()`: past the limit it counts the
    problem and says no, so the problem is never made (nor its near-miss hint, say).
    `rest()` is the problem that says how many more there were (none if none).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.named = 0
        self.more = 0

    def room(self) -> bool:
        if self.named < MAX_PROBLEMS_OF_A_KIND:
            self.named += 1
            return True
        self.more += 1
        return False

    def rest(self) -> list[Problem]:
        if not self.more:
            return []
        message = (
            f"and {self.more:,} more {self.kind}, not named here: an error entry names the first "
            f"{MAX_PROBLEMS_OF_A_KIND} of a kind."
        )
        return [Problem(field=RECORD, message=message)]


def read_answers(record: object, pack: RulePack) -> Answers:
    """Validate and normalise one answer record; raise `InvalidAnswers` listing every problem.

    An `Answers` object is read again like any record: one built by hand, or for
    another pack, is never trusted to be complete. When the record is refused
    and it states an alarm (see `urgency_note`), its problems say so.
    """
    if isinstance(record, Answers):
        record = _as_record(record)
    if not isinstance(record, Mapping):
        problem = Problem(field=RECORD, message=_not_a_record(record))
        raise InvalidAnswers([problem, *urgency_note(record, pack)])
    reading = _Reading(record, pack)
    if reading.errors:
        note = _urgency_note(pack, reading.complete(), record.items())
        raise InvalidAnswers([*reading.errors, *note], reading.id)
    return Answers(id=reading.id, values=reading.values, warnings=tuple(reading.warnings))


class _Reading:
    """One record read against a pack: its answers as read, and what is wrong with it."""

    def __init__(self, record: Mapping[object, object], pack: RulePack) -> None:
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []
        self.values: dict[str, AnswerValue] = {}
        self.failed: set[str] = set()
        record_id = read_id(record.get(ID_FIELD))
        if isinstance(record_id, Problem):
            self.errors.append(record_id)
            record_id = None
        self.id = record_id
        unknown = Capped("keys that are not question ids")
        for key in record:
            if not isinstance(key, str):
                if unknown.room():
                    self.errors.append(Problem(field=shown(key), message=_NOT_TEXT))
            elif key != ID_FIELD and key not in pack.questions and unknown.room():
                self.errors.append(Problem(field=shown_key(key), message=_unknown_key(key, pack)))
        self.errors += unknown.rest()
        self.elsewhere: list[tuple[str, list[AlarmOption]]] = []
        for question in pack.document.questions:
            self._read(question, record.get(question.id), pack)
        if self.elsewhere and not self.errors:
            self._refuse_if_outranked(pack)

    def _refuse_if_outranked(self, pack: RulePack) -> None:
        """Refuse a record whose ignored answer names another question's alarm option (a red flag written
        in a column shifted by a cell) more urgent than what its answers decide: never ignored then."""
        order = list(pack.levels)
        decided = _urgency(self.values, pack)
        for question_id, options in self.elsewhere:
            worse = [o for o in options if decided is None or order.index(o.level) < order.index(decided)]
            if worse:
                self.errors.append(Problem(field=question_id, message=_named_elsewhere(worse)))

    def complete(self) -> dict[str, AnswerValue] | None:
        """The answers as read, when every question asked has a valid answer; else None."""
        return None if self.failed else self.values

    def _read(self, question: Question, raw: object, pack: RulePack) -> None:
        given = raw is not None
        if question.asked_when is not None:
            depends_on = pack.asked_depends_on[question.id]
            if depends_on & self.failed:
                # Whether it was asked cannot be told; still say if the answer itself is wrong.
                self.failed.add(question.id)
                if given and isinstance(problem := read_value(question, raw), Problem):
                    self.errors.append(problem)
                return
            if not question.is_asked(self.values, pack):
                if given:
                    self.warnings.append(Problem(field=question.id, message=_not_asked(depends_on)))
                    found = alarm_options(pack).found([(question.id, raw)])
                    if elsewhere := [o for o in found if o.question != question.id]:
                        self.elsewhere.append((question.id, elsewhere))
                return
        if not given:
            self.errors.append(Problem(field=question.id, message=_missing(question)))
            self.failed.add(question.id)
            return
        value = read_value(question, raw)
        if isinstance(value, Problem):
            self.errors.append(value)
            self.failed.add(question.id)
        else:
            self.values[question.id] = value


def alarm(urgency: str, pack: RulePack) -> list[Problem]:
    """The note an error entry carries when its complete answers call for an alarm-level urgency."""
    level = pack.levels.get(urgency)
    if level is None or level.display != "alarm":
        return []
    return [
        Problem(
            field=URGENCY,
            message=f"whatever else is wrong with this record, its answers call for: {level.label}.",
        )
    ]


def urgency_note(
    record: object, pack: RulePack, *, also: Iterable[tuple[object, object]] = ()
) -> list[Problem]:
    """The `(urgency)` problem of a refused record that calls for an alarm, or nothing.

    A refused record is not evaluated, but what it says can still call for an
    alarm-level urgency, and no one should have to fix the record to learn it:

    * its answers, when they are complete and read (an unknown key or its id is
      what is wrong), call for the urgency they decide;
    * an option that implies an alarm level whatever the other answers are
      (`alarm_options`) calls for that level wherever the record states it: under
      its question's key (beside a mistyped option, next to "none", in any form),
      or under a key that is not a question (a near-miss such as `Red_Flags`).

    `also` adds what a record states besides its own keys: (key, value) pairs
    that a parser did not keep (a key given twice), or that a FHIR response's
    items give. The most urgent of all of these is the note.
    """
    if not isinstance(record, Mapping):
        return _urgency_note(pack, None, [(None, record), *also])
    return _urgency_note(pack, _Reading(record, pack).complete(), [*record.items(), *also])


def _urgency_note(
    pack: RulePack, complete: Mapping[str, AnswerValue] | None, pairs: Iterable[tuple[object, object]]
) -> list[Problem]:
    ranks = {level: rank for rank, level in enumerate(pack.levels)}
    decided = _urgency(complete, pack) if complete is not None else None
    pairs = list(pairs)
    stated = alarm_options(pack).stated(pairs)
    yes = None if stated else alarm_options(pack).said_yes(pairs)
    if yes is not None and (decided is None or ranks[yes.level] < ranks[decided]):
        label = pack.levels[yes.level].label
        message = (
            f"this record answers yes to {yes.question} without naming which; whatever else is wrong "
            f"with it, each of those choices alone calls for at least: {label}."
        )
        return [Problem(field=URGENCY, message=message)]
    if stated and (decided is None or ranks[stated[0].level] < ranks[decided]):
        named = " and ".join(dict.fromkeys(f"{o.option} ({o.label})" for o in stated))
        alone = "that alone calls" if len(stated) == 1 else "each alone calls"
        label = pack.levels[stated[0].level].label
        return [
            Problem(
                field=URGENCY,
                message=f"this record states {named}; whatever else is wrong with it, {alone} for: {label}.",
            )
        ]
    return alarm(decided, pack) if decided is not None else []


def urgency_note_in_bytes(raw: bytes, pack: RulePack, what: str = "line") -> list[Problem]:
    """The `(urgency)` problem of a `what` ("line", "row", "file") that could not be read as records,
    when its bytes name an option that alone calls for an alarm; or nothing.

    Text that cannot be read (a line cut short or not UTF-8, a file that is not
    JSON) may still hold a red flag a person wrote: it is looked for as a whole
    word, and the note says what it would call for if it is an answer.
    """
    named = alarm_options(pack).named_in(raw)
    if not named:
        return []
    names = " and ".join(dict.fromkeys(f"{o.option} ({o.label})" for o in named))
    answers, alone = (
        ("that is an answer", "it alone calls")
        if len(named) == 1
        else ("those are answers", "each alone calls")
    )
    label = pack.levels[named[0].level].label
    message = f"this {what} could not be read, but it names {names}; if {answers}, {alone} for: {label}."
    return [Problem(field=URGENCY, message=message)]


def _urgency(values: Mapping[str, AnswerValue], pack: RulePack) -> str | None:
    rule = matching_rule(pack.document.urgency.rules, values, pack)
    return rule.then if rule is not None else None


@dataclass(frozen=True)
class AlarmOption:
    """An option that calls for an alarm-level urgency whatever the other answers are."""

    question: str
    option: str
    label: str
    level: str
    """The least urgent level of any complete answer set with this option: what it alone calls for."""


class AlarmOptions:
    """The options of a pack that alone call for an alarm, and where a record states them.

    Computed once per pack over its whole answer space (`answer_space`): for each
    option of each choice question, the levels of every complete answer set that
    holds it. An option all of whose levels have `display: alarm` calls for the
    least urgent of them (the pack lists its levels most urgent first) whenever
    it is stated. Nothing clinical is named here: it all comes from the pack.
    """

    BUDGET = 100_000
    """The most values looked at in one record: bounds the work on a hostile one."""
    BYTES_READ = 1_000_000
    """The most of a binary value (YAML !!binary) looked through for option ids."""

    def __init__(self, pack: RulePack) -> None:
        order = list(pack.levels)
        least: dict[tuple[str, str], int] = {}
        calm: set[tuple[str, str]] = set()
        for values in answer_space(pack):
            level = _urgency(values, pack)
            if level is None:
                continue
            rank = order.index(level)
            for question_id, value in values.items():
                for option in value if isinstance(value, frozenset) else (value,):
                    if isinstance(option, str):
                        key = (question_id, option)
                        least[key] = max(least.get(key, rank), rank)
                        if pack.levels[level].display != "alarm":
                            calm.add(key)
        self.order = order
        self.questions = frozenset(pack.questions)
        self.by_question: dict[str, dict[str, AlarmOption]] = {}
        self.anywhere: dict[str, list[AlarmOption]] = {}
        for (question_id, option_id), rank in least.items():
            if (question_id, option_id) in calm:
                continue
            label = next(o.label for o in pack.questions[question_id].options if o.id == option_id)
            found = AlarmOption(question_id, option_id, label, order[rank])
            self.by_question.setdefault(question_id, {})[option_id.casefold()] = found
            self.anywhere.setdefault(option_id.casefold(), []).append(found)
        self._own = {q: {text: [o] for text, o in table.items()} for q, table in self.by_question.items()}
        self._foreign: dict[str, dict[str, list[AlarmOption]]] = {}
        """Under each question, the other questions' alarm options that are none of its own options."""
        self.every_choice: dict[str, AlarmOption] = {}
        """The questions all of whose options alarm, with the least urgent option: what a "yes" calls for."""
        for question in pack.document.questions:
            own = {o.id.casefold() for o in question.options}
            self._foreign[question.id] = {
                text: others
                for text, options in self.anywhere.items()
                if text not in own and (others := [o for o in options if o.question != question.id])
            }
            table = self.by_question.get(question.id, {})
            if own and own <= table.keys():
                self.every_choice[question.id] = max(table.values(), key=lambda o: order.index(o.level))
        ids = sorted(self.anywhere, key=len, reverse=True)
        self.spelt = {_UNDERSCORE.sub("_", _folded(o)): o for o in ids}
        self.in_text, self.in_answer = (
            re.compile(
                r"(?<!\w)(?:"
                + "|".join(separator.join(map(re.escape, o.split("_"))) for o in self.spelt)
                + r")(?!\w)"
            )
            if ids
            else None
            for separator in (_SEPARATOR, _SEPARATOR_OR_SPACE)
        )
        """The alarm option ids as whole words in text as `_folded` gives it, `_` written as a hyphen;
        in an answer to the option's own question, as a space too ("stroke signs")."""
        words = b"|".join(re.escape(o.encode()) for o in ids)
        self.words = (
            re.compile(rb"(?<![A-Za-z0-9_])(?:" + words + rb")(?![A-Za-z0-9_])", re.IGNORECASE)
            if self.anywhere
            else None
        )
        """The alarm option ids as whole words in bytes, any case (None if the pack has none)."""

    def named_in(self, raw: bytes) -> list[AlarmOption]:
        """The alarm options that bytes name as a whole word (any case; in UTF-16 too), calling for
        the most urgent level, as `stated` gives them; for text that could not be read as records."""
        if self.words is None:
            return []
        named = {word.decode("utf-8", "replace") for word in self.words.findall(raw.replace(b"\x00", b""))}
        return self.stated([(None, sorted(named))])

    def stated(self, pairs: Iterable[tuple[object, object]]) -> list[AlarmOption]:
        """The alarm options that (key, value) pairs state and that call for the most urgent level,
        in the pack's order; empty if none is stated.

        Under a question's own key, only that question's options count; under any
        other key but the id, any question's. An option is stated by a text (or
        bytes) that names its id as a whole word, as a person reads it: in any
        case, full-width, with zero-width, bidi or accent marks, `_` written as a
        hyphen (or, under the option's own question, a space), among other words
        (`none|stroke_signs`, `"stroke_signs."`), anywhere inside the value (in
        lists, mappings, at any depth); or by a mapping key that names it, unless
        the key's value says no (false, 0, "no", ...: a column or field per option).
        """
        found = self.found(pairs)
        if not found:
            return []
        most = min(self.order.index(o.level) for o in found)
        return [o for o in found if self.order.index(o.level) == most]

    def _named(self, text: str, answer: bool) -> set[str]:
        """The alarm option ids a text names as whole words (see `stated`), as ids are written; `answer`:
        the text answers the options' own question."""
        words = self.in_answer if answer else self.in_text
        if words is None:
            return set()
        return {self.spelt[_UNDERSCORE.sub("_", word)] for word in words.findall(_folded(text))}

    def found(self, pairs: Iterable[tuple[object, object]]) -> list[AlarmOption]:
        """Every alarm option the pairs state (see `stated`), in the order found."""
        if not self.anywhere:
            return []
        found: dict[AlarmOption, None] = {}
        # (the options looked for, whether the text answers their own question, a value)
        queue: deque[tuple[dict[str, list[AlarmOption]], bool, object]] = deque()
        for key, value in pairs:
            if isinstance(key, str) and key in self.questions:
                if key in self._own:
                    queue.append((self._own[key], True, value))
                if self._foreign[key]:
                    queue.append((self._foreign[key], False, value))
            elif key != ID_FIELD:
                if not _says_no(value):
                    queue.append((self.anywhere, False, key))
                queue.append((self.anywhere, False, value))
        seen: set[tuple[int, int]] = set()  # a container under a table: YAML aliases share containers
        budget = self.BUDGET
        while queue and budget > 0:
            table, answer, node = queue.popleft()
            budget -= 1
            if isinstance(node, (bytes, bytearray)):
                node = bytes(node[: self.BYTES_READ]).decode("utf-8", "replace")
            if isinstance(node, str):
                for text in self._named(node, answer):
                    found.update(dict.fromkeys(table.get(text, ())))
                continue
            if not isinstance(node, (Mapping, list, tuple, set, frozenset)) or (id(table), id(node)) in seen:
                continue
            seen.add((id(table), id(node)))
            if isinstance(node, Mapping):
                for key, value in _all_pairs(node):
                    if not _says_no(value):
                        queue.append((table, answer, key))
                    queue.append((table, answer, value))
            else:
                queue.extend((table, answer, item) for item in node)
        return list(found)

    def said_yes(self, pairs: Iterable[tuple[object, object]]) -> AlarmOption | None:
        """The least urgent option of a question all of whose options alarm, when the pairs answer that
        question "yes" (true, 1) without naming an option; None if they do not."""
        for key, value in pairs:
            if isinstance(key, str) and key in self.every_choice and _says_yes(value):
                return self.every_choice[key]
        return None


_ALARM_OPTIONS: weakref.WeakKeyDictionary[RulePack, AlarmOptions] = weakref.WeakKeyDictionary()


def alarm_options(pack: RulePack) -> AlarmOptions:
    """The pack's `AlarmOptions`, computed on first use."""
    found = _ALARM_OPTIONS.get(pack)
    if found is None:
        found = _ALARM_OPTIONS[pack] = AlarmOptions(pack)
    return found


_SEPARATOR = r"[_\-\u2010-\u2015\u2212]+"
_SEPARATOR_OR_SPACE = r"[\s_\-\u2010-\u2015\u2212]+"
_UNDERSCORE = re.compile(_SEPARATOR_OR_SPACE)
_NO = frozenset({"", "0", "no", "n", "false", "off", "none", "null"})
_UNSEEN = frozenset({"Cf", "Mn"})
"""Characters a reader does not see as letters: format (zero-width, bidi) and combining marks."""


def _folded(text: str) -> str:
    """Text as option ids are looked for in it: compatibility forms (full-width letters) as the plain
    letters, without characters no one sees (zero-width, bidi, accents), case folded."""
    if text.isascii():
        return text.casefold()
    plain = unicodedata.normalize("NFKD", text)
    return "".join(c for c in plain if unicodedata.category(c) not in _UNSEEN).casefold()


_YES = frozenset({"1", "yes", "y", "true", "on"})


def _says_yes(value: object) -> bool:
    if value is True or (type(value) is int and value == 1):
        return True
    return isinstance(value, str) and value.strip().casefold() in _YES


def _says_no(value: object) -> bool:
    if value is None or value is False or (type(value) is int and value == 0):
        return True
    return isinstance(value, str) and value.strip().casefold() in _NO


def _all_pairs(mapping: Mapping[object, object]) -> Iterable[tuple[object, object]]:
    """Every (key, value) pair a mapping was written with, a key given twice included (see `also`)."""
    written = getattr(mapping, "pairs", None)
    return written if isinstance(written, tuple) else mapping.items()


def _as_record(answers: Answers) -> dict[str, object]:
    record = answers_record(answers.values)
    if answers.id is not None:
        record[ID_FIELD] = answers.id
    return record


def read_value(question: Question, raw: object) -> AnswerValue | Problem:
    """One given answer to `question`, normalised; or the problem with it."""
    try:
        if question.type == "single":
            return _read_single(question, raw)
        if question.type == "multi":
            return _read_multi(question, raw)
        return _read_number(question, raw)
    except ValueError as exc:
        return Problem(field=question.id, message=str(exc))


def _read_single(question: Question, raw: object) -> str:
    allowed = question.option_ids()
    if isinstance(raw, bool) and _BOOLEANS[raw] in allowed:
        return _BOOLEANS[raw]
    if not isinstance(raw, str):
        raise ValueError(f"{shown(raw)} is not one of the choices. {_allowed(allowed)}")
    value = raw.strip()
    if value in allowed:
        return value
    if not value:
        raise ValueError(f"the answer is empty. {_allowed(allowed)}")
    raise ValueError(
        f"{shown(value)} is not one of the choices.{did_you_mean(value, allowed)} {_allowed(allowed)}"
    )


def _read_multi(question: Question, raw: object) -> frozenset[str]:
    allowed = question.option_ids()
    hint = f'For none, write "{NONE}" or []. {_allowed(allowed)}'
    if isinstance(raw, str):
        if not raw.strip():
            raise ValueError(f"the answer is empty. {hint}")
        parts = [p.strip() for p in raw.split(";") if p.strip()]
        if not parts:
            # Separators alone say nothing: never read them as "none".
            raise ValueError(f"the answer has no choices, only separators. {hint}")
    elif isinstance(raw, (list, tuple)):
        if not all(isinstance(p, str) for p in raw):
            raise ValueError(f"every choice must be an option id written as text. {hint}")
        parts = [p.strip() for p in raw]
    else:
        raise ValueError(f"{shown(raw)} is not a list of choices. {hint}")
    parts = [NONE if p.lower() == NONE else p for p in parts]
    chosen = selection(parts)
    if chosen is None:
        raise ValueError(f'"{NONE}" cannot be combined with other choices: say none, or list the choices.')
    if not chosen:
        return chosen
    unknown = [p for p in parts if p not in allowed]
    if unknown:
        named = some_of([shown(p) for p in unknown[:3]], len(unknown))
        raise ValueError(
            f"{named} {'is' if len(unknown) == 1 else 'are'} not among the choices."
            f"{did_you_mean(unknown[0], allowed)} {hint}"
        )
    return chosen


def _read_number(question: Question, raw: object) -> int:
    span = f"Allowed: {whole_numbers(*question.bounds)}"
    span += f" ({question.unit})." if question.unit else "."
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str, Decimal)):
        raise ValueError(f"{shown(raw)} is not a whole number. {span}")
    if isinstance(raw, Decimal):
        # A number as a file writes it (JSON, YAML): whole exactly as written, or refused, so
        # that 0.99999999999999999 is never read as the 1 a binary float would round it to.
        if not raw.is_finite() or raw != raw.to_integral_value():
            raise ValueError(f"{shown(raw)} is not a whole number. {span}")
        if not raw.is_zero() and raw.adjusted() >= _MAX_GUESSED:  # far out of range, too long to convert
            raise ValueError(f"{shown(raw)} is out of range. {span}")
        raw = int(raw)
    if isinstance(raw, str):
        text = raw.strip()
        if not _WHOLE.fullmatch(text):
            raise ValueError(f"{shown(raw)} is not a whole number. {span}")
        digits = text.split(".")[0]
        if len(digits) > _MAX_GUESSED:  # far out of any range, and too long to convert safely
            raise ValueError(f"{shown(raw)} is out of range. {span}")
        raw = int(digits)
    if isinstance(raw, float):
        if not math.isfinite(raw) or not raw.is_integer():
            raise ValueError(f"{shown(raw)} is not a whole number. {span}")
        raw = int(raw)
    if not question.allows(raw):
        raise ValueError(f"{shown(raw)} is out of range. {span}")
    return raw


def read_id(raw: object) -> str | Problem | None:
    """A record's id: text, a whole number as text, or none; or the problem with it."""
    if raw is None or (type(raw) is str and raw.isascii()):
        return raw  # the common case, first: batches read an id per record
    if isinstance(raw, str):
        if _is_text(raw):
            return raw
        return Problem(field=ID_FIELD, message="the id is not valid text (it has a lone surrogate).")
    if isinstance(raw, int) and not isinstance(raw, bool) and raw.bit_length() <= 256:
        return str(raw)
    return Problem(field=ID_FIELD, message=f"{shown(raw)} cannot name a respondent: write the id as text.")


def _missing(question: Question) -> str:
    message = "this question was asked, so it needs an answer."
    if question.type == "multi":
        return f'{message} For none, write "{NONE}" or []; a missing answer is never read as none.'
    if question.type == "number":
        return f"{message} Allowed: {whole_numbers(*question.bounds)}."
    return f"{message} {_allowed(question.option_ids())}"


def _named_elsewhere(options: Sequence[AlarmOption]) -> str:
    named = some_of([f"{o.option} (a choice of {o.question})" for o in options])
    return (
        f"this question is not asked with these answers, but its answer names {named}; "
        "give it as the answer to its own question."
    )


def _not_asked(depends_on: frozenset[str]) -> str:
    names = ", ".join(sorted(depends_on))
    return f"ignored: this question is not asked with these answers (it depends on {names})."


def _unknown_key(key: str, pack: RulePack) -> str:
    known = (ID_FIELD, *pack.questions)
    return f"unknown question id.{did_you_mean(key, known)} Known ids: {', '.join(known)}."


def did_you_mean(value: str, candidates: tuple[str, ...]) -> str:
    """The closest candidate, as a hint; typos recur across records, so hints are remembered (for
    values short enough to be typos: a long one is never held)."""
    return "" if len(value) > _MAX_GUESSED else _did_you_mean(value, candidates)


@functools.lru_cache(maxsize=4096)
def _did_you_mean(value: str, candidates: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(value, candidates, n=1, cutoff=0.6)
    if not close:
        close = [c for c in candidates if c.lower() == value.lower()]
    return f" Did you mean {close[0]!r}?" if close else ""


def some_of(names: Sequence[str], count: int | None = None, most: int = 3) -> str:
    """The first `most` of `count` names (`names` holds at least those), and how many more there are:
    `a, b, c and 4 more`."""
    count = len(names) if count is None else count
    named = ", ".join(names[:most])
    return named if count <= most else f"{named} and {count - most:,} more"


def _allowed(options: tuple[str, ...]) -> str:
    return f"Allowed: {', '.join(options)}."


def shown(raw: object) -> str:
    """A value as a problem can show it: short, printable, and in words for what is not plain text."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if raw is None:
        return "null"
    if isinstance(raw, Mapping):
        return "a mapping"
    if isinstance(raw, (list, tuple)):
        return "a list"
    if isinstance(raw, (set, frozenset)):
        return "a set"
    if isinstance(raw, (bytes, bytearray)):
        return "binary data"
    if isinstance(raw, datetime.datetime):
        return f"the date and time {raw.isoformat(sep=' ')}"
    if isinstance(raw, datetime.date):
        return f"the date {raw.isoformat()}"
    if isinstance(raw, int) and raw.bit_length() > 128:
        return "a number too long to show"
    if isinstance(raw, Decimal):
        text = _decimal_shown(raw)
    elif isinstance(raw, (str, int, float)):
        text = repr(raw)  # escapes control characters and lone surrogates
    else:
        return f"a value of another kind ({type(raw).__name__})"
    return text if len(text) <= 40 else text[:37] + "..."


def _decimal_shown(number: Decimal) -> str:
    """A number read as written: as a float would show it when that is the same number, else in full."""
    if len(number.as_tuple().digits) > 40:
        return "a number too long to show"
    as_float = repr(float(number))
    return as_float if Decimal(as_float) == number else str(number).replace("E", "e")


def shown_key(key: object) -> str:
    """A key as a problem's field: as written, unless too long, not valid text, or not text at all."""
    if isinstance(key, str) and len(key) <= _MAX_KEY_SHOWN and _is_text(key):
        return key
    return shown(key)


def _is_text(value: str) -> bool:
    """Whether a string can be written out as UTF-8 (JSON readers let lone surrogates in)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _not_a_record(record: object) -> str:
    kind = "a list" if isinstance(record, list) else shown(record)
    return f"a record must be a mapping of question ids to answers, not {kind}."
