"""Rule packs: the schema of a pack, and loading one from YAML into a `RulePack`.

A pack is a folder holding `pack.yaml` and the source article it cites (see
docs/RULEPACK.md). Loading parses the YAML safely (no tags, no duplicate keys),
validates it against the schema below, reads the source article, and verifies
the whole pack (`triage.verify`); every problem is reported with where it is.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from triage.conditions import KINDS, Condition, Term, walk
from triage.errors import PackProblem, RulePackError
from triage.models import Citation, PackInfo

PACK_FILE = "pack.yaml"
DEFAULT_PACK = "facial-atrophy"
NONE = "none"
"""The reserved answer meaning "none of these" in a multi-select."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Option(_Spec):
    id: str = Field(min_length=1)
    label: str = Field(min_length=1)
    description: str = Field(min_length=1)


class Question(_Spec):
    """One question: its id (the answer files' key), its wording and when it is asked."""

    id: str = Field(min_length=1)
    type: Literal["single", "multi", "number"]
    prompt: str = Field(min_length=1)
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

    def option_ids(self) -> tuple[str, ...]:
        return tuple(o.id for o in self.options)


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


class Rule(_Spec):
    id: str = Field(min_length=1)
    when: Condition
    then: str
    reason: str = Field(min_length=1)


class UrgencyTable(_Spec):
    levels: tuple[Outcome, ...] = Field(min_length=1)
    rules: tuple[Rule, ...] = Field(min_length=1)


class PrognosisTable(_Spec):
    categories: tuple[Outcome, ...] = Field(min_length=1)
    rules: tuple[Rule, ...] = Field(min_length=1)


class SuggestionRule(_Spec):
    id: str = Field(min_length=1)
    when: Condition
    reason: str = Field(min_length=1)
    text: str = Field(min_length=1)
    citations: tuple[Citation, ...] = Field(min_length=1)


class Expectation(_Spec):
    urgency: str
    prognosis: str
    suggestions: tuple[str, ...]


class Example(_Spec):
    name: str = Field(min_length=1)
    answers: dict[str, object]
    expect: Expectation


class SourceSpec(_Spec):
    file: str = Field(min_length=1)
    title: str = Field(min_length=1)
    header_lines: int = Field(ge=0)


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
        self.levels: Mapping[str, Outcome] = {o.id: o for o in document.urgency.levels}
        self.categories: Mapping[str, Outcome] = {o.id: o for o in document.prognosis.categories}

    @functools.cached_property
    def asked_depends_on(self) -> Mapping[str, frozenset[str]]:
        """For each question, the questions its asked_when condition reads (through terms)."""
        return {
            q.id: self.questions_read(q.asked_when) if q.asked_when is not None else frozenset()
            for q in self.document.questions
        }

    def questions_read(self, condition: Condition) -> frozenset[str]:
        """The questions a condition reads, following terms (each once, so cycles end)."""
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
        for q in self.document.questions:
            if q.asked_when is not None:
                yield f"questions[{q.id}].asked_when", q.asked_when
        for name, term in self.document.terms.items():
            yield f"terms.{name}", term
        for table in ("urgency", "prognosis"):
            for rule in getattr(self.document, table).rules:
                yield f"{table}.rules[{rule.id}].when", rule.when
        for suggestion in self.document.suggestions:
            yield f"suggestions[{suggestion.id}].when", suggestion.when

    def __repr__(self) -> str:
        return f"<RulePack {self.info.name} {self.info.version} from {self.path}>"

    def term(self, name: str) -> Condition:
        return self.document.terms[name]

    def param(self, name: str) -> int:
        return self.document.parameters[name].value


def default_pack_path() -> Path:
    """The bundled pack: inside the installed package, or in a source checkout."""
    here = Path(__file__).resolve().parent
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
    document, pack_bytes, pack_file = read_document(path)
    source_file = pack_file.parent / document.source.file
    try:
        source_bytes = source_file.read_bytes()
    except OSError as exc:
        raise RulePackError(
            str(pack_file), [PackProblem("source.file", f"cannot read {source_file}: {exc.strerror}")]
        ) from None
    paragraphs = split_paragraphs(source_bytes.decode("utf-8-sig"), document.source.header_lines)
    digest = hashlib.sha256()
    for blob in (pack_bytes, source_bytes):
        digest.update(len(blob).to_bytes(8, "big") + blob)
    pack = RulePack(document, paragraphs, digest.hexdigest(), pack_file)

    from triage.verify import verify  # verify needs the engine, which needs this module

    problems = verify(pack)
    if problems:
        raise RulePackError(str(pack_file), problems)
    return pack


def read_document(path: Path) -> tuple[PackDocument, bytes, Path]:
    """Parse and schema-check a pack file (or the pack.yaml of a folder)."""
    pack_file = path / PACK_FILE if path.is_dir() else path
    try:
        raw_bytes = pack_file.read_bytes()
    except OSError as exc:
        raise RulePackError(
            str(pack_file), [PackProblem("file", f"cannot read it: {exc.strerror}")]
        ) from None
    try:
        data = yaml.load(raw_bytes, Loader=_PackLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise RulePackError(str(pack_file), [_yaml_problem(exc)]) from None
    if not isinstance(data, dict):
        raise RulePackError(str(pack_file), [PackProblem("document", "must be a mapping of pack fields")])
    try:
        document = PackDocument.model_validate(data)
    except ValidationError as exc:
        problems = [PackProblem(locate(data, error["loc"]), _schema_message(error)) for error in exc.errors()]
        raise RulePackError(str(pack_file), problems) from None
    return document, raw_bytes, pack_file


def split_paragraphs(text: str, header_lines: int) -> tuple[str, ...]:
    """The article's paragraphs: non-empty lines after the header, numbered from 1."""
    lines = text.splitlines()[header_lines:]
    return tuple(line.strip() for line in lines if line.strip())


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
    return PackProblem(where, f"{context}: {problem}" if context else str(problem))


# The C parser when PyYAML has it: loading the pack is most of the start-up time of every command.
class _PackLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe loader, refusing duplicate keys (a silent overwrite hides a rule)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        mapping: dict[object, object] = super().construct_mapping(node, deep=deep)
        return mapping


_PackLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _PackLoader.construct_mapping,
)
