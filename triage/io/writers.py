"""Results out: JSON Lines, JSON, CSV, text and Markdown (files are written by `triage.fs.files`).

Each writer turns one entry — a result or an error entry, with its source — into
bytes. `render(entry)` does so from the pydantic model and is the reference;
the batch's fast path (`prepare` once per distinct outcome, then `entry` per
record) must give the very same bytes, and the tests hold it to that.

Every entry starts with the writer's separator (`sep`); the sink drops the
first one, so entries written by several processes join up exactly.

Text, Markdown and CSV escape every id, source, field and message they put out
(`triage.present.escape`): a record or a file name can hold anything. JSON and JSON
Lines are data, written as they are (JSON escapes control characters itself),
but for a file name that is not UTF-8, written as text shows it (`escape.unicode_text`).
"""

from __future__ import annotations

import csv
import io
import select
from collections.abc import Sequence
from typing import Any, BinaryIO

import orjson
from pydantic_core import PydanticSerializationError

from triage.core.models import Problem, RecordError, Result
from triage.core.outcomes import Outcome
from triage.core.pack import RulePack
from triage.present import escape
from triage.present.render import render_markdown, render_text

CSV_COLUMNS = ("id", "source", "urgency", "prognosis", "suggestions", "warnings", "errors", "disclaimer")

COMPACT_EXCLUDE: dict[str, Any] = {
    "urgency_advice": True,
    "prognosis": {"label", "text", "citations"},
    "suggestions": {"__all__": {"text", "citations"}},
    "explanation": {"__all__": {"text"}},
}
"""What `--compact` leaves out of a result: the texts (ids and categories stay, and the disclaimer)."""


def compact_json(result: Result) -> bytes:
    """A result without its texts (`--compact`), suggestions and explanation as lists of their ids.

    `"suggestions": ["prompt_treatment", …]` and `"explanation": ["U4", "P3", …]`
    (rule ids) instead of lists of one-key objects: a large run writes a tenth less.
    """
    return orjson.dumps(_compacted(result.model_dump(mode="json", exclude=COMPACT_EXCLUDE)))


def _compacted(data: dict[str, Any]) -> dict[str, Any]:
    data["suggestions"] = [suggestion["id"] for suggestion in data["suggestions"]]
    data["explanation"] = [step["rule"] for step in data["explanation"]]
    return data


def json_string(text: str) -> bytes:
    """`text` as a JSON string (orjson's bytes); text that is not valid Unicode as `escape.unicode_text`
    makes it (a source naming a file whose name is not UTF-8)."""
    try:
        return orjson.dumps(text)
    except TypeError:
        return orjson.dumps(escape.unicode_text(text))


Entry = Result | RecordError


class Writer:
    """Turns entries into bytes. Subclasses render one format."""

    sep = b""
    splices_json = False

    def __init__(self, pack: RulePack) -> None:
        self.pack = pack

    def start(self) -> bytes:
        """What comes before the first entry."""
        return b""

    def end(self) -> bytes:
        """What comes after the last entry."""
        return b""

    def render(self, entry: Entry) -> bytes:
        """One entry from its model (the reference rendering), separator first."""
        raise NotImplementedError

    def prepare(self, outcome: Outcome) -> bytes:
        """What every record with this outcome shares, rendered once (empty if nothing)."""
        return b""

    def entry(self, record_id: str | None, source: str, outcome: Outcome, prepared: bytes) -> bytes:
        """One record's entry, from its outcome and what `prepare` gave for it."""
        return self.render(outcome.entry(self.pack, record_id, source))

    def error(self, record_id: str | None, source: str, problems: Sequence[Problem]) -> bytes:
        """An error entry for a record (or file) that could not be evaluated."""
        return self.render(RecordError(id=record_id, source=source, errors=tuple(problems)))


class JsonLinesWriter(Writer):
    """One JSON object per line (SPEC §6); `compact` leaves the texts out."""

    splices_json = True
    _HEAD = b'{"id":null,"source":""'

    def __init__(self, pack: RulePack, *, compact: bool = False) -> None:
        super().__init__(pack)
        self.compact = compact
        self.newline = b"\n"

    def dump(self, entry: Entry) -> bytes:
        try:
            if self.compact and isinstance(entry, Result):
                return compact_json(entry)
            return entry.model_dump_json().encode()
        except (TypeError, PydanticSerializationError):
            # Text that is not valid Unicode: a file name that is not UTF-8, in a source or a message.
            compact = self.compact and isinstance(entry, Result)
            data = entry.model_dump(mode="json", exclude=COMPACT_EXCLUDE if compact else None)
            return orjson.dumps(escape.unicode_data(_compacted(data) if compact else data))

    def render(self, entry: Entry) -> bytes:
        return self.sep + self.dump(entry) + self.newline

    def prepare(self, outcome: Outcome) -> bytes:
        # Everything after the source's value is the same for every record with this outcome.
        dumped = self.dump(outcome.entry(self.pack, None, ""))
        assert dumped.startswith(self._HEAD)
        # Starts with the quote that closes the source, so a batch can splice in a line number before it.
        return b'"' + dumped[len(self._HEAD) :] + self.newline

    def entry(self, record_id: str | None, source: str, outcome: Outcome, prepared: bytes) -> bytes:
        return b"".join(
            (self.sep, b'{"id":', orjson.dumps(record_id), b',"source":', json_string(source)[:-1], prepared)
        )


class JsonWriter(JsonLinesWriter):
    """A JSON list of entries, one per line."""

    sep = b",\n"

    def __init__(self, pack: RulePack, *, compact: bool = False) -> None:
        super().__init__(pack, compact=compact)
        self.newline = b""

    def start(self) -> bytes:
        return b"[\n"

    def end(self) -> bytes:
        return b"\n]\n"


class CsvWriter(Writer):
    """One row per entry: id, source, urgency, prognosis, suggestion ids, warnings, errors, disclaimer.

    Every result row carries the disclaimer in full (an error row gives no advice, so has none).
    """

    def start(self) -> bytes:
        return self._row(CSV_COLUMNS)

    def render(self, entry: Entry) -> bytes:
        if isinstance(entry, RecordError):
            return self._row(
                (entry.id or "", entry.source or "", "", "", "", "", _problems(entry.errors), "")
            )
        return self._row(
            (
                entry.id or "",
                entry.source or "",
                entry.urgency,
                entry.prognosis.category,
                ";".join(s.id for s in entry.suggestions),
                _problems(entry.warnings),
                "",
                entry.disclaimer,
            )
        )

    @staticmethod
    def _row(cells: Sequence[str]) -> bytes:
        # Every cell is one line, and none starts a spreadsheet formula (`escape.csv_cell`).
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow(map(escape.csv_cell, cells))
        return out.getvalue().encode()


class TextWriter(Writer):
    """Each result as text for a terminal, under a line naming its source and id."""

    sep = b"\n"

    def __init__(self, pack: RulePack, *, width: int = 80, color: bool = False) -> None:
        super().__init__(pack)
        self.width = width
        self.color = color

    def render(self, entry: Entry) -> bytes:
        heading = escape.text(str(entry.source))
        if entry.id is not None:
            heading += f"  (id {escape.text(entry.id)})"
        if isinstance(entry, RecordError):
            lines = [
                heading,
                "Not evaluated: the answers have problems.",
                *(f"  - {escape.text(p.field)}: {escape.text(p.message)}" for p in entry.errors),
            ]
            body = "\n".join(lines) + "\n"
        else:
            body = heading + "\n" + render_text(entry, width=self.width, color=self.color)
        return self.sep + body.encode()


class MarkdownWriter(Writer):
    """Each result as a Markdown section headed by its source and id."""

    sep = b"\n"

    def render(self, entry: Entry) -> bytes:
        heading = f"# {escape.markdown(str(entry.source))}"
        if entry.id is not None:
            heading += f" (id {escape.markdown(entry.id)})"
        if isinstance(entry, RecordError):
            lines = [heading, "", "**Not evaluated: the answers have problems.**", ""]
            md, code = escape.markdown, escape.markdown_code
            lines += [f"- {code(p.field)}: {md(p.message)}" for p in entry.errors]
            body = "\n".join(lines) + "\n"
        else:
            body = heading + "\n\n" + render_markdown(entry)
        return self.sep + body.encode()


def make_writer(
    fmt: str, pack: RulePack, *, compact: bool = False, width: int = 80, color: bool = False
) -> Writer:
    """The writer for an output format (one of `triage.io.formats.OUTPUT_FORMATS`)."""
    if fmt == "jsonl":
        return JsonLinesWriter(pack, compact=compact)
    if fmt == "json":
        return JsonWriter(pack, compact=compact)
    if fmt == "csv":
        return CsvWriter(pack)
    if fmt == "text":
        return TextWriter(pack, width=width, color=color)
    if fmt == "markdown":
        return MarkdownWriter(pack)
    raise ValueError(f"unknown output format {fmt!r}")


def _problems(problems: Sequence[Problem]) -> str:
    return " | ".join(f"{p.field}: {p.message}" for p in problems)


class Sink:
    """Where entries go: a binary stream; drops the separator before the very first entry."""

    def __init__(self, stream: BinaryIO, writer: Writer, *, start: bool = True) -> None:
        self.stream = stream
        self.writer = writer
        self.pending_sep = len(writer.sep)
        if start:
            write_all(stream, writer.start())

    def write(self, parts: Sequence[bytes | memoryview]) -> None:
        """Write entries (each starting with the separator), given as parts to be joined."""
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        if self.pending_sep and data:
            dropped = min(self.pending_sep, len(data))
            data = data[dropped:]
            self.pending_sep -= dropped
        write_all(self.stream, data)

    def close(self) -> None:
        write_all(self.stream, self.writer.end())
        self.stream.flush()


def write_all(stream: BinaryIO, data: bytes | memoryview) -> None:
    """Write every byte: an unbuffered file may take only part of a large write at once, and an
    output left non-blocking by another program (a full pipe) may take none for now."""
    view = memoryview(data)
    while view:
        try:
            written = stream.write(view)
        except BlockingIOError as exc:
            written = exc.characters_written
        if written is None or written < len(view):
            select.select([], [stream], [])  # wait until it can take more
        view = view[written or 0 :]
