"""A rule pack's problems in words, as `triage rules check` and `rules test` report them: lines, or JSON.

A problem is placed by the pack file and its line when known (`pack.yaml:12`),
then where it is in the pack (`urgency.rules[U3].when`), what is wrong, and its
kind; a table problem adds the answers on which it happens. Every field is
escaped (`triage.present.escape.line`): a pack can hold anything.
"""

from __future__ import annotations

import json
from pathlib import Path

from triage.core.errors import PackProblem, answers_record
from triage.present import escape


def problem_line(pack_file: Path, problem: PackProblem) -> str:
    """One problem as one line: `file:line: where: message [kind]`, and its counter-example if any."""
    place = f"{pack_file}:{problem.line}" if problem.line is not None else str(pack_file)
    if problem.line is None or not problem.where.startswith("line "):  # else `place` has it
        place += f": {problem.where}"
    if problem.counterexample is None:
        return escape.line("{}: {} [{}]", place, problem.message, problem.kind)
    example = json.dumps(answers_record(problem.counterexample), ensure_ascii=False)
    return escape.line("{}: {} [{}]; counter-example: {}", place, problem.message, problem.kind, example)


def problem_json(problem: PackProblem) -> dict[str, object]:
    """One problem as JSON data: its kind and what it means, where it is, its line, and what is wrong."""
    return {
        "kind": problem.kind,
        "description": problem.description,
        "where": problem.where,
        "line": problem.line,
        "message": problem.message,
        "counterexample": (
            answers_record(problem.counterexample) if problem.counterexample is not None else None
        ),
    }
