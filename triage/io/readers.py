"""Answer files in: the records of a file's bytes, JSON, JSON Lines, YAML or CSV (finding the files is
`triage.io.inputs`).

Every record comes with its *source*, where it came from (SPEC §6):

* JSON Lines — `day1.jsonl:3`, the line number (from 1);
* CSV — `answers.csv:14`, the line on which the row starts (the header is line 1);
* a JSON or YAML file holding one record — `one.json`;
* a JSON or YAML list — `many.json#2`, the item's index in the list (from 0);
* standard input is named `<stdin>` (`triage.io.inputs`).

A piece of a file that cannot be read as a record (a malformed line, a ragged
row, undecodable bytes, an empty file) comes as `Unreadable` in the record's
place, with a message naming the line and column, so the batch can write an
error entry for it and go on.

What a record says is read as written: a key given twice or a YAML merge key,
at any depth, makes its record `Rejected` (parsers would keep one value
silently; see `as_written` and `Ambiguous`), and numbers are exact (`Decimal`
where a float could differ from the text). A rejected or unreadable record
carries the alarm note of the red flags it states (`triage.core.answers.urgency_note`).

Limits (docs/SAFETY.md §5): JSON Lines and CSV are read a line at a time, and
no line longer than `MAX_RECORD_BYTES` is held in memory (the rest of it is
skipped and the line is an error entry); a JSON or YAML file is read whole, so
one larger than `MAX_JSON_FILE_BYTES` or `MAX_YAML_FILE_BYTES` is refused after
reading no more than that; nesting deeper than the parsers' limits (`MAX_JSON_DEPTH`,
`MAX_YAML_DEPTH`) is an error, never a crash.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections import Counter
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from itertools import chain
from typing import Any, BinaryIO

import orjson
import yaml

from triage.core.answers import (
    ID_FIELD,
    Capped,
    alarm_options,
    shown_key,
    some_of,
    urgency_note,
    urgency_note_in_bytes,
)
from triage.core.errors import InvalidAnswers
from triage.core.models import Problem
from triage.core.pack import RulePack
from triage.interop.fhir import is_fhir_resource, records_from_fhir, response_id

FILE_FIELD = "(file)"
RECORD_FIELD = "(record)"
_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_SAVE_AS_UTF8 = "save it as UTF-8 (in a spreadsheet: CSV UTF-8)"
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_RECORD_BYTES = 1 << 20
"""The longest JSON Lines or CSV line (1 MiB); a longer one is an error entry, skipped unread."""
MAX_JSON_FILE_BYTES = 16 << 20
"""The largest JSON file (16 MiB): read whole, so refused above this; JSON Lines has no such limit."""
MAX_YAML_FILE_BYTES = 1 << 20
"""The largest YAML file (1 MiB): read whole and slow to parse, so refused above this."""
MAX_JSON_DEPTH = 1024
"""JSON nested deeper than this is refused by the parser (orjson's fixed limit) as not valid JSON."""
MAX_YAML_DEPTH = 1000
"""YAML nested deeper than this is refused by the parser (libyaml's limit) as not valid YAML."""
MAX_YAML_ALIAS_COPIES = 1 << 20
"""How much the aliases (`*name`) of one YAML file may copy in, in all, counted as written out: one
for each value and one for each character of its text (1 Mi, as much as the largest YAML file
holds). An alias past it is not read, and its record is refused: so a few bytes of aliases can never
make a file cost more than twice its largest size to read."""
_WHOLE_FILE_BYTES = max(MAX_JSON_FILE_BYTES, MAX_YAML_FILE_BYTES)
_TOO_LONG = b"\n\x00too long:"
"""Begins what `bounded_lines` gives in place of a line over the limit: no line read from a file
can begin so (its only line end is its last byte), so no input can pass for it."""
_NUL = "a NUL byte (0x00), so this is not UTF-8 text (UTF-16, or not text at all)"
_HALF_CHARACTER = "a \\u escape that is only half of a character (a lone surrogate), so this is not text"


@dataclass(frozen=True, slots=True)
class Unreadable:
    """In place of a record: a piece of a file that could not be read as one.

    `whole_file` is true when the file as a whole gave no records (it is empty,
    malformed, or not text); false when one line or row could not be read.
    `notes` are said after the message: what the piece still states, when that
    calls for an alarm (`triage.core.answers.urgency_note`).
    """

    message: str
    whole_file: bool = False
    notes: tuple[Problem, ...] = ()

    @property
    def field(self) -> str:
        return FILE_FIELD if self.whole_file else RECORD_FIELD


@dataclass(frozen=True, slots=True)
class Rejected:
    """In place of a record: one written in another format (a FHIR QuestionnaireResponse)
    that does not map to an answer record; `problems` say why, field by field."""

    problems: tuple[Problem, ...]
    record_id: str | None = None


def _noted(problem: Unreadable, raw: bytes, pack: RulePack | None, what: str | None = None) -> Unreadable:
    """`problem`, with the `(urgency)` note of the red flags its bytes name (`urgency_note_in_bytes`),
    unless it has a note already."""
    if pack is None or problem.notes:
        return problem
    notes = urgency_note_in_bytes(raw, pack, what or ("file" if problem.whole_file else "line"))
    return replace(problem, notes=tuple(notes)) if notes else problem


Item = tuple[str, object]
"""A source and what was read there: a record (any value), `Unreadable` or `Rejected`."""


# -- JSON ---------------------------------------------------------------------------------------------


def read_json(data: bytes, name: str, pack: RulePack) -> Iterator[Item]:
    """The records of a JSON file: one object, or a list of them (FHIR resources too)."""
    text_problem = _text_problem(data, name)
    if text_problem is not None:
        yield name, _noted(text_problem, data, pack)
        return
    text = data.removeprefix(_BOM)
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        yield name, _noted(Unreadable(_json_message(name, exc), whole_file=True), text, pack)
        return
    try:
        document, reread = as_written(text, document)
    except Unchecked as exc:
        problem = Unreadable(f"{name}: the file {exc}; no record in it is read.", whole_file=True)
        yield name, _noted(problem, text, pack)
        return
    yield from records_from_json(document, name, pack, clear=not reread)


def records_from_json(document: object, name: str, pack: RulePack, *, clear: bool = False) -> Iterator[Item]:
    """The records of a parsed JSON (or YAML) document: an object is one record, a list holds records.

    The one place that decides what a document means. A FHIR resource (a
    QuestionnaireResponse, or a Bundle of them) gives the answer records it maps
    to, sourced `name` or `name#entry[2]`. Any other shape is passed on as a
    record, for its error entry to say what is wrong with it. A record (or a
    Bundle entry) holding an `Ambiguous` mapping anywhere is refused; `clear`
    says that the document holds none (orjson's, not read again), so it is not looked through.
    """
    unclear = None if clear else _Unclear(pack)
    if isinstance(document, list):
        if not document:
            yield name, Unreadable(f"{name}: an empty list; there are no records in it.", whole_file=True)
        for index, record in enumerate(document):
            yield from _record_or_fhir(record, f"{name}#{index}", pack, unclear)
    else:
        yield from _record_or_fhir(document, name, pack, unclear)


def _record_or_fhir(
    document: object, source: str, pack: RulePack, unclear: _Unclear | None
) -> Iterator[Item]:
    if not is_fhir_resource(document):
        yield source, (unclear.refused(document) if unclear is not None else None) or document
        return
    assert isinstance(document, Mapping)
    entries = document.get("entry") if document.get("resourceType") == "Bundle" else None
    if not isinstance(entries, list):
        entries = None
    if unclear is not None:
        # An unclear mapping inside a Bundle entry refuses that entry; anywhere else, the whole Bundle.
        refused = unclear.refused(document, skip="entry" if entries is not None else None, fhir=True)
        if refused is not None:
            yield source, refused
            return
    for index, (where, record) in enumerate(records_from_fhir(document, pack)):
        if where and entries is not None and unclear is not None:
            refused = unclear.refused(entries[index], fhir=True)
            if refused is not None:
                yield source + where, refused
                continue
        if isinstance(record, InvalidAnswers):
            yield source + where, Rejected(record.problems, record.record_id)
        else:
            yield source + where, record


_CONTROL_IN_TEXT = (
    "a control character (a tab, a line break or another invisible character) inside a text; "
    "write it as an escape (backslash t for a tab, backslash n for a line break) or leave it out"
)
_JSON_REASONS = {
    "number is infinity when parsed as double": "a number too large to read (the largest is about 1.8e308)",
    "UTF-8 byte order mark (BOM) is not supported": "a byte order mark (an invisible character) in the text",
    "no low surrogate in string": _HALF_CHARACTER,
    "invalid high surrogate in string": _HALF_CHARACTER,
    "unexpected control character in string": _CONTROL_IN_TEXT,
    "Invalid control character at": _CONTROL_IN_TEXT,
}
_CONSTANT = re.compile(r"-?(NaN|Infinity)")


def _json_reason(exc: json.JSONDecodeError) -> str:
    """Why orjson refused a document, in plain words."""
    reason = exc.msg.split(": line ")[0]
    if isinstance(exc.doc, str):
        start = exc.pos - 1 if exc.doc[exc.pos - 1 : exc.pos] == "-" else exc.pos
        constant = _CONSTANT.match(exc.doc, start)
        if constant is not None:
            return f"{constant[0]} is not a number JSON allows; write a number, or leave the answer out"
    return _JSON_REASONS.get(reason, reason)


def _json_message(name: str, exc: json.JSONDecodeError) -> str:
    reason = _json_reason(exc)
    message = f"{name}: line {exc.lineno}, column {exc.colno}: not valid JSON: {reason}."
    if "after document" in reason and exc.lineno > 1:
        message += " One record per line is JSON Lines: name the file .jsonl or use --input-format jsonl."
    return message


def _json_hint(exc: json.JSONDecodeError, line: bytes) -> str:
    """The standard library's words for a mistake in a JSON Lines line, and what usually causes it."""
    if exc.msg != "Extra data":
        return _JSON_REASONS.get(exc.msg, exc.msg)
    if re.search(rb"\r(?!\n)", line):
        return (
            "more than one record on this line, whose records end with a carriage return alone (as old "
            "Mac programs save text); save the file with ordinary line ends"
        )
    return "more than one value on this line; JSON Lines has one record per line"


def jsonl_problem(line: bytes, source: str, pack: RulePack | None = None) -> Unreadable | None:
    """Why one JSON Lines line could not be parsed, or None for a blank line (skipped).

    With a `pack`, a line that the standard library can still read (orjson refuses
    NaN, a number too large, half a character) carries the alarm note of what it states.
    """
    if line.startswith(_TOO_LONG):
        return _noted(Unreadable(_too_long(source, line)), line, pack)
    line = line.rstrip(b"\r\n")
    if not line.strip():
        return None
    problem = _line_problem(source, line) or _bom_problem(source, line)
    if problem is not None:
        return _noted(Unreadable(problem), line, pack)
    try:  # the standard library's words for a mistake of syntax
        document = json.loads(line.decode("utf-8"), parse_int=_int, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        return _noted(
            Unreadable(f"{source}: column {exc.colno}: not valid JSON: {_json_hint(exc, line)}."), line, pack
        )
    except RecursionError:
        return _noted(Unreadable(f"{source}: nested too deeply to be an answer record."), line, pack)
    notes = tuple(urgency_note(document, pack)) if pack is not None else ()
    try:  # valid JSON to the standard library, but not to orjson (NaN, a number too large, ...)
        orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return Unreadable(f"{source}: column {exc.colno}: not valid JSON: {_json_reason(exc)}.", notes=notes)
    return Unreadable(f"{source}: not valid JSON.", notes=notes)


# -- numbers and keys as written ----------------------------------------------------------------------


class Ambiguous(dict[object, object]):
    """A mapping whose meaning is unclear as written: it gives some key more than once, or (YAML)
    takes keys from another mapping with a merge key (`<<`).

    Parsers keep the last value of a repeated key without a word, and a merge key
    lets an answer come from elsewhere in the file: a record holding such a
    mapping, at any depth, is refused instead, naming the key. As a dict it holds
    what a parser would keep; `pairs` are every (key, value) written, in order, so
    that what the record states can still be told (`triage.core.answers.urgency_note`).
    """

    def __init__(
        self, pairs: Sequence[tuple[object, object]], repeated: Iterable[object], *, merged: bool = False
    ) -> None:
        super().__init__(pairs)
        self.pairs = tuple(pairs)
        self.repeated = tuple(repeated)
        self.merged = merged


class Copied(Ambiguous):
    """In place of what a YAML alias would copy in past the file's allowance (`MAX_YAML_ALIAS_COPIES`),
    or round a loop (an alias inside what it names): not read, and the record holding it is refused.

    Once the file is read, its `pairs` name the alarm options the value it stands for
    states (`option: true`), found once for every alias of that value (`state`), so the
    record's `(urgency)` note still says them.
    """

    def __init__(self, *, loop: bool) -> None:
        super().__init__((), ())
        self.loop = loop

    def state(self, options: Iterable[str]) -> None:
        self.pairs = tuple((option, True) for option in options)
        self.update(self.pairs)


class Unchecked(Exception):
    """JSON that could not be read again exactly (`as_written`): its records cannot be trusted."""


_KEY = re.compile(rb'"[ \t\r\n]*:')


def as_written(text: bytes, document: object) -> tuple[object, bool]:
    """A JSON document parsed by orjson from `text`, and whether it had to be read again.

    orjson keeps the last value of a repeated key and reads numbers as binary
    floats (0.99999999999999999 as 1.0; a whole number past 64 bits too). When the
    text may give a key twice (more `":` than the parsed objects hold keys: every
    key is a string followed by `:`, so a repeated key can never hide from the
    count, whatever the values hold) or a float may not be what the text writes
    (`plain`), it is read again by the standard library, exactly: every key in
    `Ambiguous` mappings, every number as written (`Decimal`, or an int). Raises
    `Unchecked` when that cannot be done (nesting too deep for it): such a
    document is refused, never trusted unchecked.
    """
    if plain(text, document):
        return document, False
    try:
        exact = json.loads(
            text.decode("utf-8"), object_pairs_hook=_pairs, parse_float=Decimal, parse_int=_int
        )
    except RecursionError:
        raise Unchecked(
            "is nested too deeply to be checked for keys given twice (an answer record needs 2 levels)"
        ) from None
    except ValueError:
        raise Unchecked("could not be read again to check its keys and numbers") from None
    return exact, True


def plain(text: bytes, document: object) -> bool:
    """Whether orjson's reading of `text` is exact: no key can be given twice, and every number
    that reads as a whole one is written as one.

    A float that is not whole is refused as an answer however it was written, so it
    needs no second look. A whole one is exact when it is below 2**53 and no
    number in the text has a non-zero digit after its point or an exponent (a
    text's digits and letters may look like one: then it is read again, needlessly).
    """
    keys = 0
    whole = False
    pending: list[Any] = [document]  # exact types are compared: this runs for every record of a batch
    while pending:
        node = pending.pop()
        kind = type(node)
        if kind is dict:
            keys += len(node)
            pending.extend(node.values())
        elif kind is list:
            pending.extend(node)
        elif kind is float and node.is_integer():
            if abs(node) >= _EXACT_FLOATS:
                return False
            whole = True
    if whole and _INEXACT.search(text):
        return False
    return len(_KEY.findall(text)) <= keys


_INEXACT = re.compile(rb"[0-9](\.[0-9]*[1-9]|[eE])")
"""A number written with a non-zero digit after its point, or with an exponent."""
_EXACT_FLOATS = float(1 << 53)
"""Every whole number below this is exactly a float."""


def _int(text: str) -> int | Decimal:
    # Python refuses to convert ints of over 4,300 digits; no answer needs more than 64.
    return int(text) if len(text) <= 64 else Decimal(text)


def _pairs(pairs: list[tuple[str, object]]) -> dict[object, object]:
    mapping: dict[object, object] = dict(pairs)
    if len(mapping) == len(pairs):
        return mapping
    counts = Counter(key for key, _ in pairs)
    return Ambiguous(pairs, [key for key, n in counts.items() if n > 1])


def exact_record(line: bytes, record: object, source: str, pack: RulePack) -> object:
    """One JSON Lines record parsed by orjson, as written (`as_written`), or its refusal (`Rejected`)."""
    try:
        exact, reread = as_written(line.removeprefix(_BOM), record)
    except Unchecked as exc:
        problem = Problem(field=RECORD_FIELD, message=f"{source}: this record {exc}; it is not read.")
        return Rejected((problem, *urgency_note(record, pack)), _plain_id(record))
    if not reread:
        return record
    return _Unclear(pack).refused(exact) or exact


_REPEATED = (
    "given more than once in this record, so it is unclear which answer counts; give each question once."
)
_REPEATED_INSIDE = (
    "this key is given more than once in the same place, so it is unclear which value counts; give it once."
)
_MERGED = (
    "a YAML merge key (<<) copies answers in from elsewhere in the file, which hides which answer counts; "
    "write each answer out in full."
)
_COPIED = (
    "a YAML alias (*name) here would take what this file's aliases copy in past "
    f"{MAX_YAML_ALIAS_COPIES:,} values and characters, so it is not read; write the answers out in full."
)
_LOOP = "a YAML alias (*name) here stands for what holds it (a loop), so it is not read; write it out."
_MERGE = "<<"
_LONGEST_PATH = 200
_Steps = tuple[object, ...]
"""Where a value is inside a record: the keys and list indexes that lead to it."""


class _Unclear:
    """Finds the `Ambiguous` mappings in parsed documents, and refuses the records holding them.

    Each mapping or list is looked at once, however often YAML aliases share it,
    and without recursion, however deep it is nested.
    """

    def __init__(self, pack: RulePack) -> None:
        self.pack = pack
        self._first: dict[int, tuple[_Steps, str] | None] = {}
        self._copies: dict[int, Rejected | None] = {}

    def refused(self, record: object, skip: str | None = None, *, fhir: bool = False) -> Rejected | None:
        """The refusal of a record holding an `Ambiguous` mapping (but under `skip`), or None.

        Its own unclear keys are named each (as questions of an answer record, or as keys of
        a `fhir` resource or Bundle entry); inside each of its values, the first such mapping found.
        A record that is a `Copied` value (a YAML alias of a whole record) is refused once, however
        many records it stands for.
        """
        if not isinstance(record, Copied):
            return self._refused(record, skip, fhir)
        if id(record) not in self._copies:  # the document holds the record meanwhile, so its id is its own
            self._copies[id(record)] = self._refused(record, skip, fhir)
        return self._copies[id(record)]

    def _refused(self, record: object, skip: str | None, fhir: bool) -> Rejected | None:
        problems: list[Problem] = []
        unclear = Capped("unclear keys (given more than once, or merged in)")
        if isinstance(record, Copied):
            unclear.room()
            problems.append(Problem(field=RECORD_FIELD, message=_LOOP if record.loop else _COPIED))
        elif isinstance(record, Ambiguous):
            repeated = _REPEATED_INSIDE if fhir else _REPEATED
            problems += [
                Problem(field=shown_key(key), message=repeated) for key in record.repeated if unclear.room()
            ]
            if record.merged and unclear.room():
                problems.append(Problem(field=_MERGE, message=_MERGED))
        for step, value in _children(record):
            if step == skip:
                continue
            found = self._find(value)
            if found is not None and unclear.room():
                where, message = found
                problems.append(Problem(field=_path((step, *where)), message=message))
        problems += unclear.rest()
        if not problems:
            return None
        also = record.pairs if isinstance(record, Ambiguous) else ()
        return Rejected((*problems, *urgency_note(record, self.pack, also=also)), _plain_id(record))

    def _find(self, value: object) -> tuple[_Steps, str] | None:
        """The path to the first unclear place in `value` (the first unclear key of an `Ambiguous`
        mapping, or a `Copied` value), and what is unclear there; or None."""
        first = self._first
        stack: list[tuple[object, bool]] = [(value, False)]
        while stack:
            node, done = stack.pop()
            if not isinstance(node, (dict, list, tuple)):
                continue
            if done:
                first[id(node)] = self._own(node) or next(
                    (
                        ((step, *found[0]), found[1])
                        for step, child in _children(node)
                        if (found := first.get(id(child))) is not None
                    ),
                    None,
                )
            elif id(node) not in first:
                first[id(node)] = None  # while its children are looked at: a cycle back to it finds nothing
                stack.append((node, True))
                stack.extend((child, False) for _, child in _children(node))
        return first.get(id(value)) if isinstance(value, (dict, list, tuple)) else None

    @staticmethod
    def _own(node: object) -> tuple[_Steps, str] | None:
        if isinstance(node, Copied):
            return (), _LOOP if node.loop else _COPIED
        if isinstance(node, Ambiguous):
            return ((_MERGE,), _MERGED) if node.merged else ((node.repeated[0],), _REPEATED_INSIDE)
        return None


def _children(node: object) -> Iterable[tuple[object, object]]:
    if isinstance(node, Ambiguous):
        return node.pairs
    if isinstance(node, dict):
        return node.items()
    if isinstance(node, (list, tuple)):
        return enumerate(node)
    return ()


def _path(steps: Sequence[object]) -> str:
    """Where a value is inside a record, as `item[0].answer[0].valueCoding.code`; shortened when long."""
    out = ""
    for step in steps:
        if isinstance(step, int) and not isinstance(step, bool):
            out += f"[{step}]"
        else:
            out += ("." if out else "") + shown_key(step)
    return (
        out if len(out) <= _LONGEST_PATH else out[: _LONGEST_PATH // 2] + "..." + out[-_LONGEST_PATH // 2 :]
    )


def refuse_unclear(record: object, pack: RulePack) -> Rejected | None:
    """The refusal of a record holding an `Ambiguous` mapping anywhere (naming the unclear key, with
    the alarm note of what it states), or None: for records read from elsewhere (a table's rows)."""
    return _Unclear(pack).refused(record)


def _plain_id(record: object) -> str | None:
    """The id an error entry names: a record's text id, or a QuestionnaireResponse's (alone or in a
    Bundle entry); none for another resource."""
    if not isinstance(record, Mapping):
        return None
    resource = record.get("resource") if "resourceType" not in record else record
    if is_fhir_resource(resource):
        assert isinstance(resource, Mapping)
        return response_id(resource, []) if resource["resourceType"] == "QuestionnaireResponse" else None
    found = record.get(ID_FIELD)
    return found if isinstance(found, str) else None


# -- YAML ---------------------------------------------------------------------------------------------


def read_yaml(data: bytes, name: str, pack: RulePack) -> Iterator[Item]:
    """The records of a YAML file (safe loader): one mapping, or a list of them, read as the same
    document in JSON would be (`records_from_json`: a FHIR resource too)."""
    text_problem = _text_problem(data, name, "YAML", MAX_YAML_FILE_BYTES)
    if text_problem is not None:
        yield name, _noted(text_problem, data, pack)
        return
    try:
        document, unclear = _load_yaml(data.removeprefix(_BOM), pack)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        reason = _short(exc.problem or exc.context)
        if reason == "but found another document":  # a stream of documents: `---` between records
            reason = (
                "a second document (after ---); write the records as one list, each item beginning with -"
            )
        message = f"{name}: {where}not valid YAML: {reason}."
        yield name, _noted(Unreadable(message, whole_file=True), data, pack)
        return
    except yaml.YAMLError as exc:
        message = f"{name}: not valid YAML: {_short(str(exc))}."
        yield name, _noted(Unreadable(message, whole_file=True), data, pack)
        return
    except RecursionError:  # nested mappings build by recursion
        message = f"{name}: nested too deeply to hold answer records."
        yield name, _noted(Unreadable(message, whole_file=True), data, pack)
        return
    if document is None:
        yield name, Unreadable(f"{name}: the file holds no records.", whole_file=True)
        return
    yield from records_from_json(document, name, pack, clear=not unclear)


def _load_yaml(data: bytes, pack: RulePack) -> tuple[object, bool]:
    """One YAML document, built by the safe loader (plain data only: no tags run code), and
    whether it holds an `Ambiguous` mapping."""
    loader = _RecordLoader(data, pack)
    try:
        document = loader.get_single_data()
        loader.state_copies()
        return document, loader.unclear
    finally:
        loader.dispose()


def _node_children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


_MERGE_TAG = "tag:yaml.org,2002:merge"
_DECIMAL_INT = re.compile(r"[-+]?[0-9]+")
_DECIMAL_FLOAT = re.compile(r"[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?")


class _RecordLoader(_YAML_LOADER):  # type: ignore[misc,valid-type]
    """The safe loader, reading what a file writes as it is written.

    A mapping that repeats a key or has a merge key (`<<`) is `Ambiguous` (YAML
    would keep the last value, or merge, silently). A number is read exactly as
    written, in decimal: a whole number as an int (`010` is 10), any other
    number as a `Decimal` (`0.99999999999999999` stays short of 1); the forms
    YAML 1.1 also reads as numbers (`0x1F`, `0o17`, `1_000`, `1:30` in base 60,
    `.inf`) stay text, as they were written.

    An alias shares what it names (nothing is expanded), but reading a record
    reads what its aliases stand for: so the aliases of one file may copy in
    `MAX_YAML_ALIAS_COPIES` in all, counted as written out (the size of what an
    alias names is worked out once, however often it is named). An alias past
    that, or one inside what it names, is `Copied` in its place and refuses its record.
    """

    def __init__(self, data: bytes, pack: RulePack) -> None:
        super().__init__(data)
        self.pack = pack
        self.unclear = False
        self.copied = 0
        self._sizes: dict[yaml.Node, int | None] = {}
        self._markers: dict[yaml.Node, Copied] = {}
        self._copied_values: dict[yaml.Node, object] = {}

    def construct_object(self, node: yaml.Node, deep: bool = False) -> object:
        if node not in self.constructed_objects and node not in self.recursive_objects:
            value = super().construct_object(node, deep=deep)  # its first use, where it is written
            if node in self._markers:  # named inside itself: its value is known only now
                self._copied_values[node] = value
            return value
        marker = self._markers.get(node)
        if marker is None:
            size = self._size(node)
            if size is not None and self.copied + size <= MAX_YAML_ALIAS_COPIES:
                self.copied += size
                return super().construct_object(node, deep=deep)
            marker = self._markers[node] = Copied(loop=size is None)
            self._copied_values[node] = self.constructed_objects.get(node)  # lists are filled in later
            self.unclear = True
        return marker

    def state_copies(self) -> None:
        """Once the document is built (lists are filled in last): tell each `Copied` what its value states."""
        found = alarm_options(self.pack).found
        for node, marker in self._markers.items():
            marker.state(o.option for o in found([(None, self._copied_values.get(node))]))

    def _size(self, top: yaml.Node) -> int | None:
        """The size of a node written out (a value: 1, and 1 a character of its text), what aliases
        name counted every time; None if it holds itself (a loop). Each node is sized once."""
        sizes = self._sizes
        sizing: set[yaml.Node] = set()  # begun, their parts not yet sized: a loop leads back to one
        stack: list[tuple[yaml.Node, bool]] = [(top, False)]
        while stack:
            node, done = stack.pop()
            if done:
                sizing.discard(node)
                if isinstance(node, yaml.ScalarNode):
                    sizes[node] = 1 + len(node.value)
                else:
                    counts = [sizes.get(child) for child in _node_children(node)]
                    sizes[node] = None if None in counts else 1 + sum(c for c in counts if c is not None)
            elif node not in sizes and node not in sizing:
                sizing.add(node)
                stack.append((node, True))
                stack.extend((child, False) for child in _node_children(node))
        return sizes[top]

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
        pairs: list[tuple[object, object]] = []
        keys: list[object] = []
        merged = False
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:  # kept as written (its mappings are looked at, never merged)
                merged = True
                pairs.append((_MERGE, self.construct_object(value_node, deep=deep)))
                continue
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "found unhashable key",
                    key_node.start_mark,
                )
            keys.append(key)
            pairs.append((key, self.construct_object(value_node, deep=deep)))
        if len(set(keys)) == len(keys) and not merged:
            return dict(pairs)
        self.unclear = True
        return Ambiguous(pairs, [k for k, n in Counter(keys).items() if n > 1], merged=merged)

    def construct_exact_int(self, node: yaml.ScalarNode) -> object:
        text = str(self.construct_scalar(node))
        if not _DECIMAL_INT.fullmatch(text):
            return text
        return _int(text)

    def construct_exact_float(self, node: yaml.ScalarNode) -> object:
        text = str(self.construct_scalar(node))
        return Decimal(text) if _DECIMAL_FLOAT.fullmatch(text) else text


_RecordLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _RecordLoader.construct_mapping)
_RecordLoader.add_constructor("tag:yaml.org,2002:int", _RecordLoader.construct_exact_int)
_RecordLoader.add_constructor("tag:yaml.org,2002:float", _RecordLoader.construct_exact_float)


# -- CSV ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CsvHeader:
    """The header row of a CSV file: column ids and the cell separator."""

    columns: tuple[str, ...]
    delimiter: str
    lines: int
    """How many lines the header takes (its data starts on the line after)."""


def read_csv_header(
    lines: Iterator[bytes], name: str, pack: RulePack | None = None
) -> CsvHeader | Unreadable:
    """Read the header row: the question ids. The separator is `,`, or `;`/tab if the header uses that.

    A header that cannot be read refuses the whole file; with a `pack`, the rest of
    the file is still looked through for the red flags it names (`urgency_note_in_bytes`).
    """
    read: list[bytes] = []
    header = _csv_header(lines, name, read)
    if isinstance(header, CsvHeader) or pack is None or alarm_options(pack).words is None:
        return header
    words = alarm_options(pack).words
    assert words is not None
    named = {word for line in chain(read, lines) for word in words.findall(line.replace(b"\x00", b""))}
    return _noted(header, b" ".join(named), pack)


def _csv_header(lines: Iterator[bytes], name: str, read: list[bytes]) -> CsvHeader | Unreadable:
    for number, raw in enumerate(lines, 1):
        read.append(raw)
        if number == 1:
            raw = raw.removeprefix(_BOM)
            if raw.startswith(_UTF16_BOMS):
                return Unreadable(f"{name}: the file is UTF-16 text; {_SAVE_AS_UTF8}.", whole_file=True)
        if raw.startswith(_TOO_LONG):
            return Unreadable(_too_long(f"{name}:{number}", raw), whole_file=True)
        problem = _line_problem(f"{name}:{number}", raw) or _bom_problem(f"{name}:{number}", raw)
        if problem is not None:
            return Unreadable(problem, whole_file=True)
        text = raw.decode("utf-8")
        if not text.strip():
            continue
        delimiter = ","
        if "," not in text:
            delimiter = ";" if ";" in text else "\t" if "\t" in text else ","
        try:
            cells = [c.strip() for c in next(csv.reader([text], delimiter=delimiter, strict=True), [])]
        except csv.Error as exc:
            message = _quoting_mistake(name, number, text, delimiter)
            return Unreadable(message or _csv_problem(name, number, text, exc), whole_file=True)
        named = [c for c in cells if c]
        counts = Counter(named)
        duplicates = sorted(shown_key(c) for c, n in counts.items() if n > 1)
        if duplicates:
            message = f"{name}:{number}: the header row names {some_of(duplicates)} more than once."
            return Unreadable(message, whole_file=True)
        return CsvHeader(tuple(cells), delimiter, number)
    return Unreadable(
        f"{name}: the file is empty; a CSV needs a header row of question ids.", whole_file=True
    )


def read_csv_rows(
    lines: Iterable[bytes], header: CsvHeader, name: str, first_line: int, pack: RulePack | None = None
) -> Iterator[Item]:
    """The records of CSV data lines (after the header); an empty cell is a missing answer.

    Rows of nothing but empty cells (as spreadsheets export) are skipped; a row
    with more or fewer cells than the header is an error entry (with a `pack`,
    carrying the alarm note of what its cells state).
    """
    bad: list[str] = []
    row_text: list[str] = []  # the lines of the row being read, to point at a quoting mistake
    row_raw: list[bytes] = []  # and as read, for the red flags a row that cannot be read names
    line_number = first_line - 1

    def decoded() -> Iterator[str]:
        nonlocal line_number
        for raw in lines:
            line_number += 1
            row_raw.append(raw)
            if raw.startswith(_TOO_LONG):
                bad.append(_too_long(f"{name}:{line_number}", raw))
                raw = b"\n"
            problem = _line_problem(f"{name}:{line_number}", raw) or _bom_problem(
                f"{name}:{line_number}", raw
            )
            if problem is None:
                text = raw.decode("utf-8")
            else:
                bad.append(problem)
                text = raw.replace(b"\x00", b"").decode("utf-8", "replace")
            row_text.append(text)
            yield text

    reader = csv.reader(decoded(), delimiter=header.delimiter, strict=True)
    columns = header.columns
    width = len(columns)
    while True:
        start = line_number + 1
        row_text.clear()
        row_raw.clear()
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            text = "".join(row_text)
            message = _quoting_mistake(name, start, text, header.delimiter)
            problem = Unreadable(message or _csv_problem(name, start, text, exc))
            yield f"{name}:{start}", _noted(problem, b"".join(row_raw), pack, "row")
            continue
        source = f"{name}:{start}"
        if bad:
            yield source, _noted(Unreadable(bad[0]), b"".join(row_raw), pack, "row")
            bad.clear()
            continue
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != width:
            yield (
                source,
                Unreadable(
                    f"{source}: this row has {len(row)} cells but the header row has {width}; "
                    "every row needs one cell per column (an empty cell for a missing answer).",
                    notes=tuple(urgency_note(row, pack)) if pack is not None else (),
                ),
            )
            continue
        record: dict[str, str] = {}
        unnamed: list[str] = []
        for column, cell in zip(columns, row, strict=True):
            value = cell.strip()
            if value:
                if column:
                    record[column] = value
                else:
                    unnamed.append(value)
        if unnamed:
            notes = urgency_note(record, pack, also=[(None, unnamed)]) if pack is not None else []
            message = f"{source}: a cell under a column with no name in the header row."
            yield source, Unreadable(message, notes=tuple(notes))
            continue
        yield source, record


def _quoting_mistake(name: str, first_line: int, text: str, delimiter: str) -> str | None:
    """Where the quoting of a CSV row goes wrong, as `file:line: column N: what`; None if not found."""
    quoted = False
    opened = 0
    at_cell_start = True
    index = 0
    while index < len(text):
        char = text[index]
        if quoted:
            if char == '"':
                if text[index + 1 : index + 2] == '"':
                    index += 1
                elif text[index + 1 : index + 2] not in ("", delimiter, "\r", "\n"):
                    where = _line_column(name, first_line, text, index + 1)
                    return f'{where}: a " inside a quoted cell must be written twice ("").'
                else:
                    quoted = False
        elif char == '"' and at_cell_start:
            quoted, opened = True, index
        at_cell_start = char in (delimiter, "\n")
        index += 1
    if quoted:
        where = _line_column(name, first_line, text, opened)
        return f'{where}: this quoted cell (opened with ") is never closed.'
    return None


def _csv_problem(name: str, first_line: int, text: str, exc: csv.Error) -> str:
    """What the csv module found wrong with a row, in plain words."""
    reason = str(exc)
    lone_cr = re.search(r"\r(?!\n)", text)
    if "new-line character" in reason and lone_cr is not None:
        where = _line_column(name, first_line, text, lone_cr.start())
        return (
            f"{where}: a line ends with a carriage return alone (as old Mac spreadsheets save CSV); "
            "save the file as CSV UTF-8, with ordinary line ends."
        )
    if "field larger than field limit" in reason:
        limit = csv.field_size_limit()
        return f"{name}:{first_line}: a cell is longer than {limit:,} characters, the longest allowed."
    return (
        f"{name}:{first_line}: not valid CSV: the cells of this row cannot be told apart; "
        'check its quotes (a " inside a quoted cell is written twice: "").'
    )


def _bom_problem(where: str, raw: bytes) -> str | None:
    """A byte order mark at the start of a line after the first: it belongs only at the start of a file."""
    if not raw.startswith(_BOM):
        return None
    return (
        f"{where}: column 1: the line starts with a byte order mark, an invisible character that may only "
        "begin a file (as when files are joined together); remove it."
    )


def _line_column(name: str, first_line: int, text: str, index: int) -> str:
    line = first_line + text.count("\n", 0, index)
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"{name}:{line}: column {column}"


# -- text ---------------------------------------------------------------------------------------------


def _text_problem(
    data: bytes, name: str, kind: str = "JSON", limit: int = MAX_JSON_FILE_BYTES
) -> Unreadable | None:
    if len(data) > limit:
        return Unreadable(
            f"{name}: more than {limit:,} bytes, larger than the largest {kind} file read whole "
            f"({limit >> 20} MiB); split it, or write one record per line as JSON Lines (.jsonl), "
            "which is read a line at a time.",
            whole_file=True,
        )
    if data.startswith(_UTF16_BOMS):
        return Unreadable(f"{name}: the file is UTF-16 text; {_SAVE_AS_UTF8}.", whole_file=True)
    nul = data.find(b"\x00")
    try:
        text = data.decode("utf-8-sig")
        if nul >= 0:
            raise UnicodeDecodeError("utf-8", data, nul, nul + 1, "a NUL byte")
    except UnicodeDecodeError as exc:
        if 0 <= nul <= exc.start:
            line = data.count(b"\n", 0, nul) + 1
            start = data.rfind(b"\n", 0, nul) + 1
            return Unreadable(_nul(f"{name}:{line}", data[start : nul + 1]), whole_file=True)
        line = data.count(b"\n", 0, exc.start) + 1
        start = data.rfind(b"\n", 0, exc.start) + 1
        end = data.find(b"\n", exc.start)
        raw = data[start : end if end >= 0 else len(data)]
        return Unreadable(_undecodable(f"{name}:{line}", raw, exc.start - start), whole_file=True)
    if not text.strip():
        return Unreadable(f"{name}: the file is empty.", whole_file=True)
    return None


def _line_problem(where: str, raw: bytes) -> str | None:
    """Why a line is not UTF-8 text (its first NUL byte or undecodable byte), or None."""
    nul = raw.find(b"\x00")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if nul < 0 or exc.start < nul:
            return _undecodable(where, raw, exc.start)
    return _nul(where, raw) if nul >= 0 else None


def _nul(where: str, raw: bytes) -> str:
    column = len(raw[: raw.index(b"\x00")].decode("utf-8", "replace")) + 1
    return f"{where}: column {column}: {_NUL}; {_SAVE_AS_UTF8}."


def _undecodable(where: str, raw: bytes, offset: int) -> str:
    column = len(raw[:offset].decode("utf-8", "replace")) + 1
    return f"{where}: column {column}: byte 0x{raw[offset]:02x} is not UTF-8 text; {_SAVE_AS_UTF8}."


def read_all(stream: BinaryIO, limit: int | None = _WHOLE_FILE_BYTES) -> bytes:
    """Everything left in a stream, but no more than `limit` + 1 bytes (enough to tell it is over)."""
    chunks = io.BytesIO()
    left = -1 if limit is None else limit + 1
    while left and (block := stream.read(1 << 20 if left < 0 else min(left, 1 << 20))):
        chunks.write(block)
        if left > 0:
            left -= len(block)
    return chunks.getvalue()


def bounded_lines(
    stream: BinaryIO, limit: int = MAX_RECORD_BYTES, watch: re.Pattern[bytes] | None = None
) -> Iterator[bytes]:
    """The lines of a stream, as iterating gives them; one over `limit` bytes (end not counted) is dropped.

    In its place comes a short line that the JSON Lines and CSV readers report
    as too long (with its size); the rest of it is read in small pieces and dropped,
    but for the words of it that `watch` finds (the alarm options: `AlarmOptions.words`),
    which follow its size, so that its error entry can still say what they call for.
    """
    readline = stream.readline
    while line := readline(limit + 1):
        if len(line) > limit and line[-1:] != b"\n":
            size = len(line)
            found = set(watch.findall(line)) if watch is not None else set()
            tail = line[-_WORD_OVERLAP:]
            while more := readline(1 << 20):
                size += len(more)
                if watch is not None:
                    found.update(watch.findall(tail + more))
                    tail = more[-_WORD_OVERLAP:]
                if more[-1:] == b"\n":
                    size -= 1
                    break
            yield _TOO_LONG + b"%d" % size + b"".join(b" " + word for word in sorted(found)) + b"\n"
        else:
            yield line


def _short(text: str | None, limit: int = 200) -> str:
    """A parser's message, cut short: it may quote what the file holds."""
    text = text or ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


_WORD_OVERLAP = 256
"""Bytes of a piece of a long line looked at again with the next, for a word cut in two."""


def _too_long(where: str, placeholder: bytes) -> str:
    size = int(placeholder[len(_TOO_LONG) :].split()[0])
    return (
        f"{where}: this line is {size:,} bytes long, longer than the longest record allowed "
        f"({MAX_RECORD_BYTES >> 20} MiB); it was skipped unread."
    )

