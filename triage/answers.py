"""Reading answer records: every rule of the answer format (SPEC §5), driven by a pack.

A record is a flat mapping from question id to answer, plus an optional `id`.
`read_answers` walks the pack's questions in order, decides which were asked
given the answers before them, and normalises each answer: an option id, a
whole number, or a frozenset of option ids. Every problem of a record is
collected, so a person can fix them all at once.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from collections.abc import Mapping

from triage.conditions import AnswerValue
from triage.errors import InvalidAnswers
from triage.models import Answers, Problem
from triage.rulepack import NONE, Question, RulePack

ID_FIELD = "id"
RECORD = "(record)"
URGENCY = "(urgency)"
_WHOLE = re.compile(r"[+-]?\d+(\.0*)?")
_BOOLEANS = {True: "yes", False: "no"}
_MAX_GUESSED = 64
"""Longest answer or key compared with the known ids to suggest one (longer ones are never typos)."""
_MAX_KEY_SHOWN = 100
"""Longest unknown key named as it is in a problem; a longer one is shortened."""


def read_answers(record: object, pack: RulePack) -> Answers:
    """Validate and normalise one answer record; raise `InvalidAnswers` listing every problem.

    An `Answers` object is read again like any record: one built by hand, or for
    another pack, is never trusted to be complete.
    """
    if isinstance(record, Answers):
        record = _as_record(record)
    if not isinstance(record, Mapping):
        raise InvalidAnswers([Problem(field=RECORD, message=_not_a_record(record))])
    errors: list[Problem] = []
    warnings: list[Problem] = []
    record_id = read_id(record.get(ID_FIELD))
    if isinstance(record_id, Problem):
        errors.append(record_id)
        record_id = None
    for key in record:
        if not isinstance(key, str):
            errors.append(Problem(field=_shown(key), message="question ids are text; this key is not"))
        elif key != ID_FIELD and key not in pack.questions:
            errors.append(Problem(field=_key_shown(key), message=_unknown_key(key, pack)))

    values: dict[str, AnswerValue] = {}
    failed: set[str] = set()
    for question in pack.document.questions:
        raw = record.get(question.id)
        given = raw is not None
        if question.asked_when is not None:
            depends_on = pack.asked_depends_on[question.id]
            if depends_on & failed:
                # Whether it was asked cannot be told; still say if the answer itself is wrong.
                failed.add(question.id)
                if given and isinstance(problem := read_value(question, raw), Problem):
                    errors.append(problem)
                continue
            if not question.asked_when.holds(values, pack):
                if given:
                    warnings.append(Problem(field=question.id, message=_not_asked(depends_on)))
                continue
        if not given:
            errors.append(Problem(field=question.id, message=_missing(question)))
            failed.add(question.id)
            continue
        value = read_value(question, raw)
        if isinstance(value, Problem):
            errors.append(value)
            failed.add(question.id)
        else:
            values[question.id] = value
    if errors:
        if not failed:
            errors.extend(_alarm(values, pack))
        raise InvalidAnswers(errors, record_id)
    return Answers(id=record_id, values=values, warnings=tuple(warnings))


def _alarm(values: dict[str, AnswerValue], pack: RulePack) -> list[Problem]:
    """For a record refused for something else (an unknown key, its id) whose answers are
    complete: if they already call for an alarm-level urgency, say so in its errors, so
    that no one has to fix the record to learn it."""
    rule = next((r for r in pack.document.urgency.rules if r.when.holds(values, pack)), None)
    return alarm(rule.then, pack) if rule is not None else []


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


def _as_record(answers: Answers) -> dict[str, object]:
    record: dict[str, object] = {
        k: sorted(v) if isinstance(v, frozenset) else v for k, v in answers.values.items()
    }
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
        raise ValueError(f"{_shown(raw)} is not one of the choices. {_allowed(allowed)}")
    value = raw.strip()
    if value in allowed:
        return value
    if not value:
        raise ValueError(f"the answer is empty. {_allowed(allowed)}")
    raise ValueError(
        f"{_shown(value)} is not one of the choices.{did_you_mean(value, allowed)} {_allowed(allowed)}"
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
        raise ValueError(f"{_shown(raw)} is not a list of choices. {hint}")
    if any(p.lower() == NONE for p in parts):
        if len(parts) > 1:
            raise ValueError(
                f'"{NONE}" cannot be combined with other choices: say none, or list the choices.'
            )
        return frozenset()
    unknown = [p for p in parts if p not in allowed]
    if unknown:
        shown = ", ".join(_shown(p) for p in unknown[:3])
        if len(unknown) > 3:
            shown += f" and {len(unknown) - 3} more"
        raise ValueError(
            f"{shown} {'is' if len(unknown) == 1 else 'are'} not among the choices."
            f"{did_you_mean(unknown[0], allowed)} {hint}"
        )
    return frozenset(parts)


def _read_number(question: Question, raw: object) -> int:
    assert question.min is not None
    assert question.max is not None
    span = f"Allowed: a whole number from {question.min} to {question.max}"
    span += f" ({question.unit})." if question.unit else "."
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise ValueError(f"{_shown(raw)} is not a whole number. {span}")
    if isinstance(raw, str):
        text = raw.strip()
        if not _WHOLE.fullmatch(text):
            raise ValueError(f"{_shown(raw)} is not a whole number. {span}")
        digits = text.split(".")[0]
        if len(digits) > _MAX_GUESSED:  # far out of any range, and too long to convert safely
            raise ValueError(f"{_shown(raw)} is out of range. {span}")
        raw = int(digits)
    if isinstance(raw, float):
        if not math.isfinite(raw) or not raw.is_integer():
            raise ValueError(f"{_shown(raw)} is not a whole number. {span}")
        raw = int(raw)
    if not question.min <= raw <= question.max:
        raise ValueError(f"{_shown(raw)} is out of range. {span}")
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
    return Problem(field=ID_FIELD, message=f"{_shown(raw)} cannot name a respondent: write the id as text.")


def _missing(question: Question) -> str:
    message = "this question was asked, so it needs an answer."
    if question.type == "multi":
        return f'{message} For none, write "{NONE}" or []; a missing answer is never read as none.'
    if question.type == "number":
        return f"{message} Allowed: a whole number from {question.min} to {question.max}."
    return f"{message} {_allowed(question.option_ids())}"


def _not_asked(depends_on: frozenset[str]) -> str:
    names = ", ".join(sorted(depends_on))
    return f"ignored: this question is not asked with these answers (it depends on {names})."


def _unknown_key(key: str, pack: RulePack) -> str:
    known = (ID_FIELD, *pack.questions)
    return f"unknown question id.{did_you_mean(key, known)} Known ids: {', '.join(known)}."


@functools.lru_cache(maxsize=4096)
def did_you_mean(value: str, candidates: tuple[str, ...]) -> str:
    """The closest candidate, as a hint; typos recur across records, so hints are remembered."""
    if len(value) > _MAX_GUESSED:
        return ""
    close = difflib.get_close_matches(value, candidates, n=1, cutoff=0.6)
    if not close:
        close = [c for c in candidates if c.lower() == value.lower()]
    return f" Did you mean {close[0]!r}?" if close else ""


def _allowed(options: tuple[str, ...]) -> str:
    return f"Allowed: {', '.join(options)}."


def _shown(raw: object) -> str:
    """A value as a problem can show it: short, and printable whatever it holds."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if raw is None:
        return "null"
    if isinstance(raw, (dict, list)):
        return "a " + ("mapping" if isinstance(raw, dict) else "list")
    if isinstance(raw, int) and raw.bit_length() > 128:
        return "a number too long to show"
    try:
        text = repr(raw)  # escapes control characters and lone surrogates
    except ValueError:  # Python refuses to print ints of over 4300 digits, even inside a tuple
        return "a value too long to show"
    return text if len(text) <= 40 else text[:37] + "..."


def _key_shown(key: str) -> str:
    """An unknown key as a problem's field: as written, unless too long or not valid text."""
    return key if len(key) <= _MAX_KEY_SHOWN and _is_text(key) else _shown(key)


def _is_text(value: str) -> bool:
    """Whether a string can be written out as UTF-8 (JSON readers let lone surrogates in)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _not_a_record(record: object) -> str:
    kind = "a list" if isinstance(record, list) else _shown(record)
    return f"a record must be a mapping of question ids to answers, not {kind}."
