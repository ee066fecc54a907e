"""What keeps a hostile rule pack from costing unbounded time or memory, or from hiding what it says.

A pack is data only, and a hostile one is refused in bounded time and memory
before any of its content is used (docs/SAFETY.md). Each limit below is far
above what a real pack needs (the bundled pack's figures are in docs/SAFETY.md),
and each is checked before the work it bounds:

* a pack file is read only if it is a regular file, and no more of it than its
  limit (`read_limited`);
* its YAML is scanned, before any node is built, for anything but plain data:
  tags, anchors and aliases, merge keys, nesting too deep, numbers too long,
  dates (`refuse_non_data`); it is then built by the safe loader, which notes
  every key given twice (`PackLoader`);
* its conditions are measured, terms written out (`check_conditions`), and its
  answer sets counted (`check_answer_space`), before verification walks them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable
from itertools import islice
from pathlib import Path
from typing import Any, cast

import yaml

from triage.core.answerspace import answer_space
from triage.core.errors import DuplicateKey, PackProblem, RulePackError, UnreadablePack
from triage.core.pack import PackDocument, RulePack, document_conditions
from triage.core.vocabulary import Condition, parts, terms_in
from triage.fs.files import NotRegular, open_regular
from triage.packs.verify import check_references

MAX_PACK_BYTES = 256 * 1024
"""Largest pack.yaml, checked before it is parsed."""
MAX_SOURCE_BYTES = 256 * 1024
"""Largest source article, checked before it is read into memory."""
MAX_YAML_DEPTH = 40
"""Deepest nesting of YAML mappings and lists, checked while scanning, before any node is built."""
MAX_NUMBER_DIGITS = 18
"""Longest whole number in a pack, in digits (longer ones cannot even be converted safely)."""
MAX_CONDITION_DEPTH = 16
"""Deepest nesting of a condition, counting the conditions of the terms it uses."""
MAX_CONDITION_NODES = 2_000
"""Most parts of all the pack's conditions together, with every term written out in full."""
MAX_ANSWER_SETS = 10_000
"""Most complete answer sets that verification enumerates (each one is checked against every rule)."""


def read_limited(path: Path, limit: int, where: str, pack_file: Path) -> bytes:
    """Read a file of a pack, refusing one over `limit` bytes without reading more than that.

    Only a regular file is read: a device or a pipe could give endless bytes, or none,
    and is refused as unreadable without waiting on it (`files.open_regular`).
    Raises `OSError` when the file cannot be read and `RulePackError` (naming `pack_file`
    and `where`) when it is too large or not a regular file.
    """
    try:
        stream = open_regular(path)
    except NotRegular as exc:
        message = f"{path} is {exc.strerror}; a pack is read from regular files only"
        raise RulePackError(str(pack_file), [UnreadablePack(where, message)]) from None
    with stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise RulePackError(
            str(pack_file),
            [PackProblem(where, f"{path} is larger than {limit // 1024} KiB, the limit for this file")],
        )
    return data


def refuse_non_data(raw: bytes, pack_file: Path) -> None:
    """Refuse YAML that is not plain data, scanning its events before any node is built.

    Refused: tags of any kind (`!!python/object:...`, `!include`, even `!!str`), since a
    tag is how YAML names a type or code to build; anchors, aliases and merge keys, which
    let a few lines stand for gigabytes ("billion laughs") and hide what a field holds;
    nesting deeper than MAX_YAML_DEPTH (building nodes recurses); whole numbers longer
    than MAX_NUMBER_DIGITS; and unquoted dates, which the schema never takes.
    """
    fast = getattr(yaml, "CSafeLoader", None)
    try:
        if fast is not None:
            # libyaml gives the same events ten times sooner; a YAML error is left to the
            # pure parser below to report, in its words (libyaml has its own limits).
            with contextlib.suppress(yaml.YAMLError):
                _scan_events(raw, pack_file, fast)
                return
        _scan_events(raw, pack_file, yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise RulePackError(str(pack_file), [yaml_problem(exc)]) from None


def _scan_events(raw: bytes, pack_file: Path, loader: type[Any]) -> None:
    resolve = cast(
        "Callable[[type[yaml.Node], str, tuple[bool, bool]], str]", yaml.resolver.Resolver().resolve
    )
    depth = 0
    for event in yaml.parse(raw, Loader=loader):
        problem = None
        if isinstance(event, yaml.AliasEvent) or (
            isinstance(event, yaml.NodeEvent) and event.anchor is not None
        ):
            problem = (
                "anchors and aliases (&name, *name) are not allowed in a rule pack: write each value out"
            )
        elif isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent)) and event.tag is not None:
            problem = (
                f"YAML tags are not allowed in a rule pack (found {_shown_tag(event.tag)}): "
                "a pack is data only; write a plain value, in quotes if it is text"
            )
        elif isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                problem = f"nested more than {MAX_YAML_DEPTH} levels deep, the limit for a rule pack"
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.ScalarEvent) and event.implicit[0]:
            problem = _plain_scalar_problem(resolve(yaml.ScalarNode, event.value, (True, False)), event.value)
        if problem is not None:
            mark = event.start_mark
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "YAML"
            raise RulePackError(str(pack_file), [PackProblem(where, problem)])


def _plain_scalar_problem(tag: str, value: str) -> str | None:
    kind = tag.removeprefix(_YAML_TAG_PREFIX)
    if kind == "int" and sum(ch.isalnum() for ch in value) > MAX_NUMBER_DIGITS:
        return f"a number with more than {MAX_NUMBER_DIGITS} digits, the most a rule pack allows"
    if kind == "merge":
        return "merge keys (<<) are not allowed in a rule pack: write each field out"
    if kind == "timestamp":
        return f"YAML reads {value} as a date; write it in quotes if it is text"
    return None


_YAML_TAG_PREFIX = "tag:yaml.org,2002:"


def _shown_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_YAML_TAG_PREFIX) if tag.startswith(_YAML_TAG_PREFIX) else tag


def check_conditions(document: PackDocument) -> list[PackProblem]:
    """Problems with the size of a pack's conditions: too deep, or too many parts in all.

    Evaluating a condition follows its terms, so a chain of terms nests as deep as a
    condition written out in full, and a term used several times counts each time: a few
    lines could otherwise stand for more conditions than verification could ever check.
    Depth is limited by MAX_CONDITION_DEPTH, the parts of all conditions together by
    MAX_CONDITION_NODES. An undefined or circular term counts as one part here;
    verification reports it.
    """
    terms = document.terms
    measured: dict[str, tuple[int, int]] = {}  # a term's (depth, parts), terms written out

    def measure(condition: Condition) -> tuple[int, int]:
        named = parts(condition)
        if named.term is not None:
            depth, size = measured.get(named.term, (0, 0))
            return depth + 1, size + 1
        inner = [measure(c) for c in named.children]
        return 1 + max((d for d, _ in inner), default=0), 1 + sum(p for _, p in inner)

    # Measure terms after the terms they use (Kahn's order): no recursion along a chain.
    uses = {name: (terms_in(c) & terms.keys()) - {name} for name, c in terms.items()}
    users: dict[str, list[str]] = {name: [] for name in terms}
    for name, used in uses.items():
        for other in used:
            users[other].append(name)
    waiting = {name: len(used) for name, used in uses.items()}
    ready = [name for name, count in waiting.items() if count == 0]
    while ready:
        name = ready.pop()
        measured[name] = measure(terms[name])
        for user in users[name]:
            waiting[user] -= 1
            if waiting[user] == 0:
                ready.append(user)

    problems = []
    too_deep = 0
    total = 0
    for where, condition in document_conditions(document):
        depth, size = measure(condition)
        total += size
        if depth > MAX_CONDITION_DEPTH:
            too_deep += 1
            if too_deep <= _MAX_REPORTED:
                message = f"nested {depth} levels deep, counting the terms it uses"
                message += f"; the limit is {MAX_CONDITION_DEPTH}"
                problems.append(PackProblem(where, message))
    if too_deep > _MAX_REPORTED:
        problems.append(
            PackProblem("document", f"{too_deep - _MAX_REPORTED} more conditions nested too deep")
        )
    if total > MAX_CONDITION_NODES:
        shown = f"{total:,}" if total < 10**12 else "more than a trillion"
        problems.append(
            PackProblem(
                "document",
                f"the conditions have {shown} parts in all, with every term written out; "
                f"the limit is {MAX_CONDITION_NODES:,}",
            )
        )
    return problems


_MAX_REPORTED = 10


def check_answer_space(pack: RulePack) -> list[PackProblem]:
    """A problem if the pack's questions allow more than MAX_ANSWER_SETS complete answer sets.

    Verification checks every rule against every answer set, so their number bounds its
    time. They are counted by enumerating at most MAX_ANSWER_SETS + 1 of them, once no
    single question has more answers than that (a multi-select of n options has 2**n). A
    pack whose references are broken is left to verification, which reports them.
    """
    for question in pack.document.questions:
        count = len(question.options)
        if (2 ** min(count, 64) if question.type == "multi" else count) > MAX_ANSWER_SETS:
            return [
                PackProblem(
                    f"questions[{question.id}].options",
                    f"{count} options allow more answers than the {MAX_ANSWER_SETS:,} answer sets "
                    "that verification checks",
                )
            ]
    if next(check_references(pack), None) is not None:
        return []
    if sum(1 for _ in islice(answer_space(pack), MAX_ANSWER_SETS + 1)) > MAX_ANSWER_SETS:
        return [
            PackProblem(
                "questions",
                f"the questions allow more than {MAX_ANSWER_SETS:,} complete answer sets, the most that "
                "verification checks: ask fewer questions, or offer fewer options",
            )
        ]
    return []


def yaml_problem(exc: yaml.YAMLError) -> PackProblem:
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "YAML"
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    line = mark.line + 1 if mark is not None else None
    return UnreadablePack(where, f"{context}: {problem}" if context else str(problem), line=line)


FAST_LOADER: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# The C parser when PyYAML has it: loading the pack is most of the start-up time of every command.
class PackLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe loader, noting duplicate keys (a silent overwrite hides a rule) to report them all."""

    def __init__(self, stream: bytes) -> None:
        super().__init__(stream)
        self.duplicates: list[PackProblem] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
        seen: dict[object, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if not isinstance(key, Hashable):
                continue  # the safe loader itself refuses it below
            if key in seen:
                self.duplicates.append(
                    DuplicateKey(
                        f"line {line}, column {key_node.start_mark.column + 1}",
                        f"duplicate key {key!r} (first at line {seen[key]})",
                        line=line,
                    )
                )
            else:
                seen[key] = line
        mapping: dict[object, object] = super().construct_mapping(node, deep=deep)
        return mapping


PackLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    PackLoader.construct_mapping,
)
