"""Rule packs: the schema of a pack, and loading one from YAML into a `RulePack`.

A pack is a folder holding `pack.yaml` and the source article it cites (see
docs/RULEPACK.md). Loading parses the YAML safely (no tags, no duplicate keys),
validates it against the schema below, reads the source article, and verifies
the whole pack (`triage.packs.verify`); every problem is reported with where it is.

A pack is data only, and a hostile one is refused in bounded time and memory
before any of its content is used: see the limits below (docs/SAFETY.md).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from itertools import islice
from pathlib import Path, PurePath
from typing import Any, Literal, cast

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from triage.core.errors import DuplicateKey, PackProblem, RulePackError, UnreadablePack
from triage.core.models import Citation, PackInfo
from triage.core.vocabulary import KINDS, AnswerValue, Condition, Term, walk
from triage.fs.files import NotRegular, open_regular

PACK_FILE = "pack.yaml"
DEFAULT_PACK = "facial-atrophy"
NONE = "none"
"""The reserved answer meaning "none of these" in a multi-select."""

# Limits on a rule pack. Each is far above what a real pack needs (the bundled
# pack's figures are in docs/SAFETY.md) and keeps a hostile pack from exhausting
# memory or time: every one is checked before the work it bounds.
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


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Option(_Spec):
    """One choice of a single or multi question: its id (what answer files contain) and wording."""

    id: str = Field(min_length=1)
    label: str = Field(min_length=1)
    description: str = Field(min_length=1)


class Question(_Spec):
    """One question: its id (the answer files' key), its wording and when it is asked.

    `name` is what the question is about, in a person's words ("the cause"): the
    explanation of a result says "the cause: after a facial paralysis…" with it.
    Without one, the prompt stands in.
    """

    id: str = Field(min_length=1)
    type: Literal["single", "multi", "number"]
    prompt: str = Field(min_length=1)
    name: str | None = Field(default=None, min_length=1)
    help: str | None = None
    asked_when: Condition | None = None
    options: tuple[Option, ...] = ()
    none_label: str | None = None
    unit: str | None = None
    min: int | None = None
    max: int | None = None

    @model_validator(mode="after")
    def _fits_its_type(self) -> Question:
        if self.type == "number":
            if self.options:
                raise ValueError("a number question has no options")
            if self.min is None or self.max is None:
                raise ValueError("a number question needs min and max")
            if self.min > self.max:
                raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        else:
            if len(self.options) < 2:
                raise ValueError(f"a {self.type} question needs at least two options")
            if self.min is not None or self.max is not None or self.unit is not None:
                raise ValueError(f"a {self.type} question has no min, max or unit")
        if self.type == "multi" and not self.none_label:
            raise ValueError('a multi question needs a none_label (the "none of these" choice)')
        if self.type != "multi" and self.none_label is not None:
            raise ValueError("only a multi question has a none_label")
        return self

    @functools.cached_property
    def _option_ids(self) -> tuple[str, ...]:
        return tuple(o.id for o in self.options)

    def option_ids(self) -> tuple[str, ...]:
        """The ids of the options, in order (computed once: every answer read asks for them)."""
        return self._option_ids

    def answer_text(self, value: AnswerValue) -> str:
        """An answer in the words the person chose it by: option labels, the none label, a number
        with its unit."""
        if isinstance(value, frozenset):
            if not value:
                return self.none_label or NONE
            return "; ".join(o.label for o in self.options if o.id in value)
        if isinstance(value, int):
            return f"{value} {self.unit}" if self.unit else str(value)
        return next((o.label for o in self.options if o.id == value), value)


class Parameter(_Spec):
    """A number used by the rules, with where it comes from."""

    value: int
    basis: str = Field(min_length=1)


class Outcome(_Spec):
    """An urgency level or a prognosis category: its text for the reader, and sources."""

    id: str = Field(min_length=1)
    label: str = Field(min_length=1)
    text: str = Field(min_length=1)
    citations: tuple[Citation, ...] = Field(min_length=1)


class Level(Outcome):
    """An urgency level; `display` says how loudly a screen shows it (an alarm cannot be missed).

    `safety_net` says when to get help sooner than the level advises. Verification
    requires it on every level but the first (the most urgent), whose advice is
    already the soonest there is.
    """

    display: Literal["alarm", "notice", "plain"] = "plain"
    safety_net: str | None = Field(default=None, min_length=1)


class Rule(_Spec):
    """One row of a decision table: when it matches, and the level or category it gives."""

    id: str = Field(min_length=1)
    when: Condition
    then: str
    reason: str = Field(min_length=1)


class UrgencyTable(_Spec):
    """The urgency levels, most urgent first, and the first-match rules that choose one."""

    levels: tuple[Level, ...] = Field(min_length=1)
    rules: tuple[Rule, ...] = Field(min_length=1)


class PrognosisTable(_Spec):
    """The prognosis categories, and the rules of which exactly one matches any answers."""

    categories: tuple[Outcome, ...] = Field(min_length=1)
    rules: tuple[Rule, ...] = Field(min_length=1)


class SuggestionRule(_Spec):
    """A care suggestion: when it is given, its text and its sources."""

    id: str = Field(min_length=1)
    when: Condition
    reason: str = Field(min_length=1)
    text: str = Field(min_length=1)
    citations: tuple[Citation, ...] = Field(min_length=1)


class Expectation(_Spec):
    """What an example's answers must give."""

    urgency: str
    prognosis: str
    suggestions: tuple[str, ...]


class Example(_Spec):
    """Answers and the result they must give; run by `triage rules test` and the tests."""

    name: str = Field(min_length=1)
    answers: dict[str, object]
    expect: Expectation


class SourceSpec(_Spec):
    """The source article the citations quote, and how its paragraphs are numbered."""

    file: str = Field(min_length=1)
    title: str = Field(min_length=1)
    header_lines: int = Field(ge=0)

    @field_validator("file")
    @classmethod
    def _inside_the_pack(cls, value: str) -> str:
        """The article is a file of the pack itself, so the pack's sha256 covers what it cites."""
        path = PurePath(value)
        if path.is_absolute() or ".." in path.parts or "\\" in value:
            raise ValueError(f"{value!r} is not a file in the pack's folder; write a name such as source.txt")
        return value


class PackDocument(_Spec):
    """The schema of `pack.yaml`."""

    format: Literal[1]
    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    title: str = Field(min_length=1)
    source: SourceSpec
    disclaimer: str = Field(min_length=1)
    parameters: dict[str, Parameter] = {}
    questions: tuple[Question, ...] = Field(min_length=1)
    terms: dict[str, Condition] = {}
    urgency: UrgencyTable
    prognosis: PrognosisTable
    suggestions: tuple[SuggestionRule, ...] = Field(min_length=1)
    examples: tuple[Example, ...] = ()


class RulePack:
    """A loaded and verified rule pack, ready for the engine.

    Holds the validated document, the numbered paragraphs of its source article
    and its identity (name, version and the sha256 of its files), so that every
    result can be traced to the exact content that made it.
    """

    def __init__(self, document: PackDocument, paragraphs: tuple[str, ...], sha256: str, path: Path) -> None:
        self.document = document
        self.paragraphs = paragraphs
        self.path = path
        self.info = PackInfo(name=document.name, version=document.version, sha256=sha256)
        self.questions: Mapping[str, Question] = {q.id: q for q in document.questions}
        self.levels: Mapping[str, Level] = {o.id: o for o in document.urgency.levels}
        self.categories: Mapping[str, Outcome] = {o.id: o for o in document.prognosis.categories}
        # questions_read of each condition object (kept with it, so a reused id() cannot mislead).
        self._questions_read: dict[int, tuple[Condition, frozenset[str]]] = {}

    @functools.cached_property
    def asked_depends_on(self) -> Mapping[str, frozenset[str]]:
        """For each question, the questions its asked_when condition reads (through terms)."""
        return {
            q.id: self.questions_read(q.asked_when) if q.asked_when is not None else frozenset()
            for q in self.document.questions
        }

    def questions_read(self, condition: Condition) -> frozenset[str]:
        """The questions a condition reads, following terms (each once, so cycles end).

        Remembered per condition: verification asks for the same ones thousands of times.
        """
        cached = self._questions_read.get(id(condition))
        if cached is not None and cached[0] is condition:
            return cached[1]
        read = self._walk_questions_read(condition)
        self._questions_read[id(condition)] = (condition, read)
        return read

    def _walk_questions_read(self, condition: Condition) -> frozenset[str]:
        found: set[str] = set()
        seen_terms: set[str] = set()
        pending = [condition]
        while pending:
            for node in walk(pending.pop()):
                if isinstance(node, Term):
                    if node.term not in seen_terms and node.term in self.document.terms:
                        seen_terms.add(node.term)
                        pending.append(self.document.terms[node.term])
                elif hasattr(node, "question"):
                    found.add(node.question)
        return frozenset(found)

    def conditions(self) -> Iterator[tuple[str, Condition]]:
        """Every top-level condition of the pack, with where it stands."""
        return document_conditions(self.document)

    def __repr__(self) -> str:
        return f"<RulePack {self.info.name} {self.info.version} from {self.path}>"

    @property
    def files(self) -> tuple[Path, Path]:
        """The files the pack was read from: its pack file and the source article it cites."""
        return self.path, self.path.parent / self.document.source.file

    def term(self, name: str) -> Condition:
        return self.document.terms[name]

    def param(self, name: str) -> int:
        return self.document.parameters[name].value

    def question_name(self, question: str) -> str:
        """What a question is about, in a person's words: its `name`, else its prompt."""
        q = self.questions[question]
        return q.name or q.prompt

    def answer_words(self, question: str, value: AnswerValue) -> str:
        """An answer in words that can stand inside a sentence: labels, first letters lowered
        where that is only a capital ("after a facial paralysis…", but "I don't know", "FSHD")."""
        q = self.questions[question]
        if isinstance(value, frozenset) and value:
            return " and ".join(_in_sentence(o.label) for o in q.options if o.id in value)
        return _in_sentence(q.answer_text(value))


def _in_sentence(label: str) -> str:
    first, _, _ = label.partition(" ")
    if len(first) > 1 and first[1:] == first[1:].lower() and first[:1].isupper():
        return label[:1].lower() + label[1:]
    return label


def document_conditions(document: PackDocument) -> Iterator[tuple[str, Condition]]:
    """Every top-level condition of a pack document, with where it stands."""
    for q in document.questions:
        if q.asked_when is not None:
            yield f"questions[{q.id}].asked_when", q.asked_when
    for name, term in document.terms.items():
        yield f"terms.{name}", term
    for table in ("urgency", "prognosis"):
        for rule in getattr(document, table).rules:
            yield f"{table}.rules[{rule.id}].when", rule.when
    for suggestion in document.suggestions:
        yield f"suggestions[{suggestion.id}].when", suggestion.when


def default_pack_path() -> Path:
    """The bundled pack: inside the installed package, or in a source checkout."""
    here = Path(__file__).resolve().parent.parent  # the triage package
    for root in (here / "rules", here.parent / "rules"):
        if (root / DEFAULT_PACK / PACK_FILE).is_file():
            return root / DEFAULT_PACK
    return here / "rules" / DEFAULT_PACK


def load_rulepack(path: str | Path | None = None) -> RulePack:
    """Load and verify a rule pack: a folder with pack.yaml, or the YAML file itself.

    With no path, the bundled facial-atrophy pack (loaded once and shared).
    Raises `RulePackError` listing every problem found.
    """
    if path is None:
        return _default_pack()
    return _load(Path(path))


@functools.cache
def _default_pack() -> RulePack:
    return _load(default_pack_path())


def _load(path: Path) -> RulePack:
    pack, pack_bytes = _read_pack(path)

    from triage.packs.verify import verify  # verify needs the engine, which needs this module

    problems = check_answer_space(pack) or verify(pack)
    if problems:
        raise refusal(pack.path, pack_bytes, problems)
    return pack


def read_pack(path: Path) -> RulePack:
    """Read a pack and check its schema, without verifying it: for tools that inspect broken packs.

    The engine must only be given a verified pack (`load_rulepack`).
    """
    return _read_pack(path)[0]


def _read_pack(path: Path) -> tuple[RulePack, bytes]:
    """The pack, unverified, and the bytes of its pack file (to locate the problems verification finds)."""
    document, pack_bytes, pack_file = read_document(path)
    source_file = pack_file.parent / document.source.file
    try:
        source_bytes = read_limited(source_file, MAX_SOURCE_BYTES, "source.file", pack_file)
        text = _decode_source(source_bytes, pack_file)
    except OSError as exc:
        problem = UnreadablePack("source.file", f"cannot read {source_file}: {exc.strerror}")
        raise refusal(pack_file, pack_bytes, [problem]) from None
    except RulePackError as exc:
        raise refusal(pack_file, pack_bytes, exc.problems) from None
    paragraphs = split_paragraphs(text, document.source.header_lines)
    digest = hashlib.sha256()
    for blob in (pack_bytes, source_bytes):
        digest.update(len(blob).to_bytes(8, "big") + blob)
    return RulePack(document, paragraphs, digest.hexdigest(), pack_file), pack_bytes


def read_document(path: Path) -> tuple[PackDocument, bytes, Path]:
    """Parse and schema-check a pack file (or the pack.yaml of a folder).

    The file is read once, within the limits; every problem found afterwards is
    located in those same bytes (`refusal`), never in a second read of the file.
    """
    pack_file = path / PACK_FILE if path.is_dir() else path
    try:
        raw_bytes = read_limited(pack_file, MAX_PACK_BYTES, "file", pack_file)
    except OSError as exc:
        raise RulePackError(
            str(pack_file), [UnreadablePack("file", f"cannot read it: {exc.strerror}")]
        ) from None
    refuse_non_data(raw_bytes, pack_file)
    loader = _PackLoader(raw_bytes)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        raise RulePackError(str(pack_file), [_yaml_problem(exc)]) from None
    finally:
        loader.dispose()
    if loader.duplicates:
        raise RulePackError(str(pack_file), loader.duplicates)
    if not isinstance(data, dict):
        raise RulePackError(str(pack_file), [UnreadablePack("document", "must be a mapping of pack fields")])
    try:
        document = PackDocument.model_validate(data)
    except ValidationError as exc:
        problems = [PackProblem(locate(data, error["loc"]), _schema_message(error)) for error in exc.errors()]
        raise refusal(pack_file, raw_bytes, problems) from None
    problems = check_conditions(document)
    if problems:
        raise refusal(pack_file, raw_bytes, problems)
    return document, raw_bytes, pack_file


def refusal(pack_file: Path, pack_bytes: bytes, problems: Sequence[PackProblem]) -> RulePackError:
    """The error refusing a pack for `problems`, each given the line of pack.yaml where it is.

    The lines are found in `pack_bytes`, the pack file as it was read once and
    checked against the limits (`read_limited`, `refuse_non_data`) and parsed:
    locating a problem never reads the file again, which could by then be
    anything (larger, deeper, a pipe).
    """
    if any(problem.line is None for problem in problems):
        try:
            root = yaml.compose(pack_bytes, Loader=_FAST_LOADER)
        except yaml.YAMLError:
            root = None
        if root is not None:
            lines = NodeLines(root)
            for problem in problems:
                if problem.line is None:
                    problem.line = lines.line_of(problem.where)
    return RulePackError(str(pack_file), problems)


def split_paragraphs(text: str, header_lines: int) -> tuple[str, ...]:
    """The article's paragraphs: non-empty lines after the header, numbered from 1."""
    lines = text.splitlines()[header_lines:]
    return tuple(line.strip() for line in lines if line.strip())


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
        raise RulePackError(str(pack_file), [_yaml_problem(exc)]) from None


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


def _decode_source(data: bytes, pack_file: Path) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RulePackError(
            str(pack_file),
            [PackProblem("source.file", f"the source article is not UTF-8 text (at byte {exc.start})")],
        ) from None


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
        if isinstance(condition, Term):
            depth, parts = measured.get(condition.term, (0, 0))
            return depth + 1, parts + 1
        inner = [measure(c) for c in condition.children()]
        return 1 + max((d for d, _ in inner), default=0), 1 + sum(p for _, p in inner)

    # Measure terms after the terms they use (Kahn's order): no recursion along a chain.
    uses = {
        name: {n.term for n in walk(c) if isinstance(n, Term) and n.term in terms and n.term != name}
        for name, c in terms.items()
    }
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
        depth, parts = measure(condition)
        total += parts
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
    from triage.core.answerspace import answer_space
    from triage.packs.verify import check_references

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


def locate(data: object, loc: tuple[int | str, ...]) -> str:
    """Render a path into the pack as text, naming list items by their id: `urgency.rules[U3].when`.

    pydantic puts the name of the union branch it tried into the path (`all`, `in`,
    `ArticleCitation`...); those steps are not keys of the YAML and are left out.
    """
    out = ""
    node = data
    entered = True  # a union branch name can only follow entering a node
    for step in loc:
        if isinstance(step, str) and (
            step[:1].isupper() or "[" in step or (entered and isinstance(node, dict) and step in _BRANCHES)
        ):
            entered = False
            continue
        entered = True
        if isinstance(step, int):
            item = node[step] if isinstance(node, list) and 0 <= step < len(node) else None
            name = (item.get("id") or item.get("name")) if isinstance(item, dict) else None
            out += f"[{name}]" if isinstance(name, str) else f"[{step}]"
            node = item
        else:
            out += f".{step}" if out else step
            node = node.get(step) if isinstance(node, dict) else None
    return out or "document"


_BRANCHES = frozenset(KINDS) | {"int", "str"}


def _schema_message(error: Mapping[str, object]) -> str:
    kind = error.get("type")
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    message = str(error.get("msg", "invalid"))
    return message.removeprefix("Value error, ")


def _yaml_problem(exc: yaml.YAMLError) -> PackProblem:
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "YAML"
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    line = mark.line + 1 if mark is not None else None
    return UnreadablePack(where, f"{context}: {problem}" if context else str(problem), line=line)


_STEP = re.compile(r"\[([^\]]*)\]|([^.\[\]]+)")


def line_of(root: yaml.Node, where: str) -> int | None:
    """The line of the deepest YAML node that a location like `urgency.rules[U3].when` reaches."""
    return NodeLines(root).line_of(where)


class NodeLines:
    """The lines of a composed YAML document's nodes, found by location (`urgency.rules[U3].when`).

    Each step is a dictionary look-up (the keys of a mapping, and the items of a
    list by index, `id` or `name`, indexed the first time they are needed), so
    that the many problems of a large pack are located in linear time.
    """

    def __init__(self, root: yaml.Node) -> None:
        self.root = root
        self._keys: dict[int, dict[str, yaml.Node]] = {}
        self._names: dict[int, dict[str, yaml.Node]] = {}

    def line_of(self, where: str) -> int | None:
        node: yaml.Node | None = self.root
        line: int | None = None
        for match in _STEP.finditer(where):
            item, key = match.group(1), match.group(2)
            node = self._child(node, key) if key is not None else self._item(node, item)
            if node is None:
                break
            line = node.start_mark.line + 1
        return line

    def _child(self, node: yaml.Node | None, key: str) -> yaml.Node | None:
        if not isinstance(node, yaml.MappingNode):
            return None
        keys = self._keys.get(id(node))
        if keys is None:
            keys = self._keys[id(node)] = {}
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode):
                    keys.setdefault(k.value, v)
        return keys.get(key)

    def _item(self, node: yaml.Node | None, name: str) -> yaml.Node | None:
        if not isinstance(node, yaml.SequenceNode):
            return None
        if name.isdigit() and int(name) < len(node.value):
            return node.value[int(name)]  # type: ignore[no-any-return]
        names = self._names.get(id(node))
        if names is None:
            names = self._names[id(node)] = {}
            for item in node.value:
                for field in ("id", "name"):
                    value = self._child(item, field)
                    if isinstance(value, yaml.ScalarNode):
                        names.setdefault(value.value, item)
        return names.get(name)


_FAST_LOADER: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# The C parser when PyYAML has it: loading the pack is most of the start-up time of every command.
class _PackLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
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


_PackLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _PackLoader.construct_mapping,
)
