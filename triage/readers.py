"""Answer files in: finding them, telling their format, and reading their records.

Every record comes with its *source*, where it came from (SPEC §6):

* JSON Lines — `day1.jsonl:3`, the line number (from 1);
* CSV — `answers.csv:14`, the line on which the row starts (the header is line 1);
* a JSON or YAML file holding one record — `one.json`;
* a JSON or YAML list — `many.json#2`, the item's index in the list (from 0);
* standard input is named `<stdin>`.

A piece of a file that cannot be read as a record (a malformed line, a ragged
row, undecodable bytes, an empty file) comes as `Unreadable` in the record's
place, with a message naming the line and column, so the batch can write an
error entry for it and go on.

Limits (docs/SAFETY.md §5): JSON Lines and CSV are read a line at a time, and
no line longer than `MAX_RECORD_BYTES` is held in memory (the rest of it is
skipped and the line is an error entry); a JSON or YAML file is read whole, so
one larger than `MAX_JSON_FILE_BYTES` or `MAX_YAML_FILE_BYTES` is refused after
reading no more than that; nesting deeper than the parsers' limits (`MAX_JSON_DEPTH`,
`MAX_YAML_DEPTH`) is an error, never a crash.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import orjson
import yaml

from triage.answers import ID_FIELD
from triage.errors import InvalidAnswers
from triage.fhir import is_fhir_resource, records_from_fhir
from triage.models import Problem
from triage.rulepack import RulePack

EXTENSIONS = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".csv": "csv",
    ".parquet": "parquet",
    ".arrow": "arrow",
    ".arrows": "arrow",
    ".feather": "arrow",
}
INPUT_FORMATS = ("json", "jsonl", "yaml", "csv", "parquet", "arrow")
COLUMNAR_FORMATS = ("parquet", "arrow")
"""Read by pyarrow (`triage[arrow]`), in `triage.arrowio`."""
STDIN = "-"
STDIN_NAME = "<stdin>"
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
_WHOLE_FILE_BYTES = max(MAX_JSON_FILE_BYTES, MAX_YAML_FILE_BYTES)
_TOO_LONG = b"\n\x00too long:"
"""Begins what `bounded_lines` gives in place of a line over the limit: no line read from a file
can begin so (its only line end is its last byte), so no input can pass for it."""
_NUL = "a NUL byte (0x00), so this is not UTF-8 text (UTF-16, or not text at all)"


@dataclass(frozen=True)
class InputFile:
    """One answer file to read: its path (or `-`), the name its sources use, and its format."""

    path: str
    name: str
    format: str
    size: int = 0


@dataclass(frozen=True, slots=True)
class Unreadable:
    """In place of a record: a piece of a file that could not be read as one.

    `whole_file` is true when the file as a whole gave no records (it is empty,
    malformed, or not text); false when one line or row could not be read.
    """

    message: str
    whole_file: bool = False

    @property
    def field(self) -> str:
        return FILE_FIELD if self.whole_file else RECORD_FIELD


@dataclass(frozen=True, slots=True)
class Rejected:
    """In place of a record: one written in another format (a FHIR QuestionnaireResponse)
    that does not map to an answer record; `problems` say why, field by field."""

    problems: tuple[Problem, ...]
    record_id: str | None = None


Item = tuple[str, object]
"""A source and what was read there: a record (any value), `Unreadable` or `Rejected`."""


def find_inputs(
    paths: Sequence[str], input_format: str | None = None, exclude: Path | None = None
) -> tuple[list[InputFile], list[str]]:
    """The answer files named by `paths` (files, folders searched recursively, `-`), in order.

    Returns the files and the usage problems (a path that does not exist, a
    folder with no answer files, a file whose format cannot be told); a problem
    with one path does not keep the others out. `exclude` (the output file) is
    never read as input.
    """
    found: list[InputFile] = []
    problems: list[str] = []
    skip = exclude.resolve() if exclude is not None else None
    for path in paths:
        if path == STDIN:
            if input_format is None:
                problems.append(f"-: standard input needs --input-format ({_formats()}).")
            else:
                found.append(InputFile(STDIN, STDIN_NAME, input_format))
            continue
        if os.path.isdir(path):
            inside = [f for f in _walk(path) if skip is None or Path(f).resolve() != skip]
            if not inside:
                known = ", ".join(sorted(EXTENSIONS))
                problems.append(f"{path}: a folder with no answer files (looked for {known}).")
            for file in inside:
                found.append(_input(file, input_format or EXTENSIONS[_extension(file)]))
        elif os.path.isfile(path):
            fmt = input_format or EXTENSIONS.get(_extension(path))
            if fmt is None:
                problems.append(
                    f"{path}: cannot tell the format from the name; use --input-format {_formats()}."
                )
            else:
                found.append(_input(path, fmt))
        elif os.path.exists(path):
            problems.append(f"{path}: not a file or a folder.")
        else:
            problems.append(f"{path}: no such file or folder.")
    return found, problems


def _formats() -> str:
    return ", ".join(INPUT_FORMATS[:-1]) + f" or {INPUT_FORMATS[-1]}"


def _walk(folder: str) -> Iterator[str]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and _extension(name) in EXTENSIONS:
                yield os.path.join(root, name)


def _extension(path: str) -> str:
    return os.path.splitext(path)[1].lower()


def _input(path: str, fmt: str) -> InputFile:
    try:
        size = os.path.getsize(path)
    except OSError:
        size = 0
    return InputFile(path, path, fmt, size)


def open_input(file: InputFile) -> BinaryIO:
    """The file's bytes (standard input for `-`); raises OSError when it cannot be opened."""
    if file.path == STDIN:
        return sys.stdin.buffer
    return open(file.path, "rb")


# -- JSON ---------------------------------------------------------------------------------------------


def read_json(data: bytes, name: str, pack: RulePack) -> Iterator[Item]:
    """The records of a JSON file: one object, or a list of them (FHIR resources too)."""
    text_problem = _text_problem(data, name)
    if text_problem is not None:
        yield name, text_problem
        return
    try:
        document = orjson.loads(data.removeprefix(_BOM))
    except orjson.JSONDecodeError as exc:
        yield name, Unreadable(_json_message(name, exc, data), whole_file=True)
        return
    if key_count(data) > _object_sizes(document):
        # Some key is written twice (or a key-like text is inside a value): the stdlib
        # parser sees every pair, so it tells which record repeats which key.
        with contextlib.suppress(ValueError, RecursionError):  # too deep for it: no records anyway
            document = json.loads(data.removeprefix(_BOM).decode("utf-8"), object_pairs_hook=_pairs)
    yield from records_from_json(document, name, pack)


def records_from_json(document: object, name: str, pack: RulePack) -> Iterator[Item]:
    """The records of a parsed JSON document: an object is one record, a list holds records.

    The one place that decides what a JSON document means. A FHIR resource (a
    QuestionnaireResponse, or a Bundle of them) gives the answer records it maps
    to, sourced `name` or `name#entry[2]`. Any other shape is passed on as a
    record, for its error entry to say what is wrong with it.
    """
    if isinstance(document, list):
        if not document:
            yield name, Unreadable(f"{name}: an empty list; there are no records in it.", whole_file=True)
        for index, record in enumerate(document):
            yield from _record_or_fhir(record, f"{name}#{index}", pack)
    else:
        yield from _record_or_fhir(document, name, pack)


def _record_or_fhir(document: object, source: str, pack: RulePack) -> Iterator[Item]:
    if isinstance(document, Repeated):
        yield source, document.rejected()
        return
    if not is_fhir_resource(document):
        yield source, document
        return
    for where, record in records_from_fhir(document, pack):
        if isinstance(record, InvalidAnswers):
            yield source + where, Rejected(record.problems, record.record_id)
        else:
            yield source + where, record


def _json_message(name: str, exc: json.JSONDecodeError, data: bytes) -> str:
    reason = exc.msg.split(": line ")[0]
    message = f"{name}: line {exc.lineno}, column {exc.colno}: not valid JSON: {reason}."
    if "after document" in reason and exc.lineno > 1:
        message += " One record per line is JSON Lines: name the file .jsonl or use --input-format jsonl."
    return message


def jsonl_problem(line: bytes, source: str) -> Unreadable | None:
    """Why one JSON Lines line could not be parsed, or None for a blank line (skipped)."""
    if line.startswith(_TOO_LONG):
        return Unreadable(_too_long(source, line))
    line = line.rstrip(b"\r\n")
    if not line.strip():
        return None
    problem = _line_problem(source, line)
    if problem is not None:
        return Unreadable(problem)
    text = line.decode("utf-8")
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return Unreadable(f"{source}: column {exc.colno}: not valid JSON: {exc.msg}.")
    except RecursionError:
        return Unreadable(f"{source}: nested too deeply to be an answer record.")
    # orjson refuses what the standard library reads (numbers beyond 64 bits): not a record either.
    return Unreadable(f"{source}: not valid JSON for this reader (a number too large?).")


# -- YAML ---------------------------------------------------------------------------------------------


def read_yaml(data: bytes, name: str) -> Iterator[Item]:
    """The records of a YAML file (safe loader): one mapping, or a list of them."""
    text_problem = _text_problem(data, name, "YAML", MAX_YAML_FILE_BYTES)
    if text_problem is not None:
        yield name, text_problem
        return
    try:
        document = _load_yaml(data.removeprefix(_BOM))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        yield (
            name,
            Unreadable(f"{name}: {where}not valid YAML: {exc.problem or exc.context}.", whole_file=True),
        )
        return
    except yaml.YAMLError as exc:
        yield name, Unreadable(f"{name}: not valid YAML: {exc}.", whole_file=True)
        return
    except RecursionError:  # only without libyaml, which has its own limit
        yield name, Unreadable(f"{name}: nested too deeply to hold answer records.", whole_file=True)
        return
    if document is None:
        yield name, Unreadable(f"{name}: the file holds no records.", whole_file=True)
        return
    if isinstance(document, list):
        if not document:
            yield name, Unreadable(f"{name}: an empty list; there are no records in it.", whole_file=True)
        for index, record in enumerate(document):
            yield f"{name}#{index}", record.rejected() if isinstance(record, Repeated) else record
    else:
        yield name, document.rejected() if isinstance(document, Repeated) else document


def _load_yaml(data: bytes) -> object:
    """One YAML document, built by the safe loader (plain data only: no tags run code)."""
    loader = _RecordLoader(data)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


class _RecordLoader(_YAML_LOADER):  # type: ignore[misc,valid-type]
    """The safe loader, noting the keys a mapping repeats (YAML would keep the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
        keys = [key.value for key, _ in node.value if isinstance(key, yaml.ScalarNode)]
        mapping: dict[object, object] = super().construct_mapping(node, deep=deep)
        repeated = [k for k, n in Counter(keys).items() if n > 1]
        return Repeated(mapping, repeated) if repeated else mapping


_RecordLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _RecordLoader.construct_mapping)


# -- repeated keys ------------------------------------------------------------------------------------


class Repeated(dict[object, object]):
    """A mapping read from a file that gives some key more than once.

    JSON and YAML parsers keep the last value without a word, so a record giving
    `red_flags` twice would be read as whichever came last: such a record is
    refused instead, naming the repeated keys.
    """

    def __init__(self, mapping: Mapping[object, object], repeated: Iterable[str]) -> None:
        super().__init__(mapping)
        self.repeated = tuple(repeated)

    def rejected(self) -> Rejected:
        record_id = self.get(ID_FIELD)
        return Rejected(
            tuple(
                Problem(
                    field=key,
                    message="given more than once in this record, so it is unclear which answer "
                    "counts; give each question once.",
                )
                for key in self.repeated
            ),
            record_id if isinstance(record_id, str) else None,
        )


_KEY = re.compile(rb'"[ \t\r\n]*:')


def repeats_keys(text: bytes, document: object) -> Rejected | None:
    """For a JSON record parsed from `text`: its refusal if it gives some key twice, else None.

    Cheap when no key repeats (a count of `":`), exact otherwise (the stdlib parser sees every pair).
    """
    if key_count(text) <= _object_sizes(document):
        return None
    try:
        reread = json.loads(text.removeprefix(_BOM).decode("utf-8", "replace"), object_pairs_hook=_pairs)
    except (ValueError, RecursionError):
        return None  # not a flat record at all: reading it as answers fails anyway
    return reread.rejected() if isinstance(reread, Repeated) else None


def key_count(data: bytes) -> int:
    """An upper bound on the keys written in JSON text: every key is a string followed by `:`."""
    return len(_KEY.findall(data))


def _object_sizes(document: object) -> int:
    """How many keys the parsed objects of a document hold, all told (iteratively: nesting may be deep)."""
    total = 0
    pending = [document]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            total += len(node)
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return total


def _pairs(pairs: list[tuple[str, object]]) -> dict[object, object]:
    mapping: dict[object, object] = dict(pairs)
    if len(mapping) == len(pairs):
        return mapping
    counts = Counter(key for key, _ in pairs)
    return Repeated(mapping, [key for key, n in counts.items() if n > 1])


# -- CSV ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CsvHeader:
    """The header row of a CSV file: column ids and the cell separator."""

    columns: tuple[str, ...]
    delimiter: str
    lines: int
    """How many lines the header takes (its data starts on the line after)."""


def read_csv_header(lines: Iterator[bytes], name: str) -> CsvHeader | Unreadable:
    """Read the header row: the question ids. The separator is `,`, or `;`/tab if the header uses that."""
    for number, raw in enumerate(lines, 1):
        if number == 1:
            raw = raw.removeprefix(_BOM)
            if raw.startswith(_UTF16_BOMS):
                return Unreadable(f"{name}: the file is UTF-16 text; {_SAVE_AS_UTF8}.", whole_file=True)
        if raw.startswith(_TOO_LONG):
            return Unreadable(_too_long(f"{name}:{number}", raw), whole_file=True)
        problem = _line_problem(f"{name}:{number}", raw)
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
            return Unreadable(message or f"{name}:{number}: not valid CSV: {exc}.", whole_file=True)
        named = [c for c in cells if c]
        duplicates = sorted({c for c in named if named.count(c) > 1})
        if duplicates:
            return Unreadable(
                f"{name}:{number}: the header row names {', '.join(duplicates)} more than once.",
                whole_file=True,
            )
        return CsvHeader(tuple(cells), delimiter, number)
    return Unreadable(
        f"{name}: the file is empty; a CSV needs a header row of question ids.", whole_file=True
    )


def read_csv_rows(lines: Iterable[bytes], header: CsvHeader, name: str, first_line: int) -> Iterator[Item]:
    """The records of CSV data lines (after the header); an empty cell is a missing answer.

    Rows of nothing but empty cells (as spreadsheets export) are skipped; a row
    with more or fewer cells than the header is an error entry.
    """
    bad: list[str] = []
    row_text: list[str] = []  # the lines of the row being read, to point at a quoting mistake
    line_number = first_line - 1

    def decoded() -> Iterator[str]:
        nonlocal line_number
        for raw in lines:
            line_number += 1
            if raw.startswith(_TOO_LONG):
                bad.append(_too_long(f"{name}:{line_number}", raw))
                raw = b"\n"
            problem = _line_problem(f"{name}:{line_number}", raw)
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
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            message = _quoting_mistake(name, start, "".join(row_text), header.delimiter)
            yield f"{name}:{start}", Unreadable(message or f"{name}:{start}: not valid CSV: {exc}.")
            continue
        source = f"{name}:{start}"
        if bad:
            yield source, Unreadable(bad[0])
            bad.clear()
            continue
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != width:
            yield (
                source,
                Unreadable(
                    f"{source}: this row has {len(row)} cells but the header row has {width}; "
                    "every row needs one cell per column (an empty cell for a missing answer)."
                ),
            )
            continue
        record: dict[str, str] = {}
        unnamed = 0
        for column, cell in zip(columns, row, strict=True):
            value = cell.strip()
            if value:
                if column:
                    record[column] = value
                else:
                    unnamed += 1
        if unnamed:
            yield source, Unreadable(f"{source}: a cell under a column with no name in the header row.")
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


def bounded_lines(stream: BinaryIO, limit: int = MAX_RECORD_BYTES) -> Iterator[bytes]:
    """The lines of a stream, as iterating gives them; one over `limit` bytes (end not counted) is dropped.

    In its place comes a short line that the JSON Lines and CSV readers report
    as too long (with its size); the rest of it is read in small pieces and dropped.
    """
    readline = stream.readline
    while line := readline(limit + 1):
        if len(line) > limit and line[-1:] != b"\n":
            size = len(line)
            while more := readline(1 << 20):
                size += len(more)
                if more[-1:] == b"\n":
                    size -= 1
                    break
            yield _TOO_LONG + b"%d\n" % size
        else:
            yield line


def _too_long(where: str, placeholder: bytes) -> str:
    size = int(placeholder[len(_TOO_LONG) :])
    return (
        f"{where}: this line is {size:,} bytes long, longer than the longest record allowed "
        f"({MAX_RECORD_BYTES >> 20} MiB); it was skipped unread."
    )
