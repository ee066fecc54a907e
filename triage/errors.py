"""The few exceptions triage raises, each with a message fit to show a person."""

from __future__ import annotations

from collections.abc import Sequence

from triage.models import Problem


class TriageError(Exception):
    """Base class: anything triage raises on purpose."""


class InvalidAnswers(TriageError):
    """An answer record breaks the answer format; `problems` lists every problem."""

    def __init__(self, problems: Sequence[Problem], record_id: str | None = None) -> None:
        self.problems = tuple(problems)
        self.record_id = record_id
        lines = [f"{p.field}: {p.message}" for p in self.problems]
        super().__init__("invalid answers:\n  " + "\n  ".join(lines))


class PackProblem(Exception):
    """Not raised: one problem found in a rule pack, with where it is."""

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}")


class RulePackError(TriageError):
    """A rule pack cannot be used; `problems` lists every problem found."""

    def __init__(self, path: str, problems: Sequence[PackProblem]) -> None:
        self.path = path
        self.problems = tuple(problems)
        lines = [f"{path}: {p}" for p in self.problems]
        super().__init__(f"rule pack {path} cannot be used:\n  " + "\n  ".join(lines))
