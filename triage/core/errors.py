"""The few exceptions triage raises, each with a message fit to show a person."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import ClassVar

from triage.core.models import Problem


class TriageError(Exception):
    """Base class: anything triage raises on purpose."""


class IncompleteRun(TriageError):
    """A run stopped before every record was evaluated and written (a worker process failed): its
    output is incomplete, so it is not a run that found some records invalid."""


class InvalidAnswers(TriageError):
    """An answer record breaks the answer format; `problems` lists every problem."""

    def __init__(self, problems: Sequence[Problem], record_id: str | None = None) -> None:
        self.problems = tuple(problems)
        self.record_id = record_id
        lines = [f"{p.field}: {p.message}" for p in self.problems]
        super().__init__("invalid answers:\n  " + "\n  ".join(lines))


_YAML_POSITION = re.compile(r"line (\d+), column \d+$")


class PackProblem(Exception):
    """Not raised: one problem found in a rule pack, with where it is.

    Each kind of problem is a subclass with a fixed `kind` and `description`
    (see `triage.packs.verify`); `message` says what exactly is wrong. Table problems
    carry a `counterexample`: an answer set on which the problem really happens.
    `line` is the line of pack.yaml where it is, when known.
    """

    kind: ClassVar[str] = "schema"
    description: ClassVar[str] = "the pack does not fit the pack format"

    def __init__(
        self,
        where: str,
        message: str,
        *,
        counterexample: Mapping[str, object] | None = None,
        line: int | None = None,
    ) -> None:
        self.where = where
        self.message = message
        self.counterexample = counterexample
        position = _YAML_POSITION.match(where)
        self.line = line if line is not None or position is None else int(position.group(1))
        text = f"{where}: {message}"
        if counterexample is not None:
            text += f"; for example {json.dumps(answers_record(counterexample))}"
        super().__init__(text)


def answers_record(values: Mapping[str, object]) -> dict[str, object]:
    """An answer set as an answer record a person could write (sets become sorted lists)."""
    return {k: sorted(v) if isinstance(v, (frozenset, set)) else v for k, v in values.items()}


class UnreadablePack(PackProblem):
    """The pack cannot be read at all: a missing file, or text that is not YAML."""

    kind = "unreadable"
    description = "the pack cannot be read"


class DuplicateKey(PackProblem):
    """A YAML mapping names the same key twice (the later one would silently win)."""

    kind = "duplicate-key"
    description = "a YAML mapping has the same key twice"


class RulePackError(TriageError):
    """A rule pack cannot be used; `problems` lists every problem found."""

    def __init__(self, path: str, problems: Sequence[PackProblem]) -> None:
        self.path = path
        self.problems = tuple(problems)
        lines = [f"{path}: {p}" for p in self.problems]
        super().__init__(f"rule pack {path} cannot be used:\n  " + "\n  ".join(lines))
