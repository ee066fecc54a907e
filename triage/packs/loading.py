"""Loading a rule pack: a folder holding `pack.yaml` and the source article it cites.

Loading reads the pack file once, within its limits, parses the YAML safely (no
tags, no duplicate keys: `triage.packs.guards`), validates it against the pack
model (`triage.core.pack`), reads the source article, and verifies the whole
pack (`triage.packs.verify`); every problem is reported with where it is, its
line found in the bytes read (`triage.packs.lines`). With no path, the pack is
the bundled one.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from pathlib import Path

import yaml
from pydantic import ValidationError

from triage.core.errors import PackProblem, RulePackError, UnreadablePack
from triage.core.pack import PackDocument, RulePack
from triage.core.vocabulary import KINDS
from triage.packs.guards import (
    MAX_PACK_BYTES,
    MAX_SOURCE_BYTES,
    PackLoader,
    check_answer_space,
    check_conditions,
    read_limited,
    refuse_non_data,
    yaml_problem,
)
from triage.packs.lines import refusal
from triage.packs.verify import verify

PACK_FILE = "pack.yaml"
DEFAULT_PACK = "facial-atrophy"


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
    loader = PackLoader(raw_bytes)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        raise RulePackError(str(pack_file), [yaml_problem(exc)]) from None
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


def split_paragraphs(text: str, header_lines: int) -> tuple[str, ...]:
    """The article's paragraphs: non-empty lines after the header, numbered from 1."""
    lines = text.splitlines()[header_lines:]
    return tuple(line.strip() for line in lines if line.strip())


def _decode_source(data: bytes, pack_file: Path) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RulePackError(
            str(pack_file),
            [PackProblem("source.file", f"the source article is not UTF-8 text (at byte {exc.start})")],
        ) from None


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
