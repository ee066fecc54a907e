"""Parquet and Arrow IPC (Feather) files for `triage evaluate`, read and written a batch of rows at a time.

In: a `.parquet` file, or an Arrow IPC file or stream (`.arrow`, `.feather`,
`.arrows`), each row an answer record as `triage.batch.columnar.records` reads it; a
record's source is the file and the row's index in it, from 0 (`data.parquet#17`),
as for the items of a JSON list. Out (`-o results.parquet`, `-o results.arrow`):
the columns of `triage.batch.columnar.result_schema` with the source after the id,
one row per record of every input, in order — from any input format.

Memory stays flat: rows are read, evaluated and written a batch at a time (the
Parquet reader reads a row group in pieces of `READ_ROWS` rows), and what is
remembered about distinct answers is bounded.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from triage.batch.columnar import AnyArray, Entry, TableEvaluator, rebatched, records, result_schema
from triage.batch.stream import Batch, Piece
from triage.batch.summary import Progress, Summary
from triage.core.answers import ID_FIELD
from triage.core.models import Problem
from triage.core.outcomes import MEMO_LIMIT, Outcome
from triage.core.pack import RulePack
from triage.io.formats import COLUMNAR_FORMATS
from triage.io.inputs import STDIN, InputFile, open_input
from triage.io.readers import FILE_FIELD, RECORD_FIELD, Ambiguous, Item, Unreadable, read_all, refuse_unclear
from triage.io.writers import Writer
from triage.present.escape import unicode_text

READ_ROWS = 1 << 17
"""Rows read from a file at a time."""
STREAM_BYTES = 1 << 30
"""The largest Parquet or Arrow file read from standard input or a pipe (held in memory whole)."""
WRITE_ROWS = 1 << 17
"""Rows of results gathered from the row formats before they are written as one batch."""


class ColumnarUnreadable(Exception):
    """A Parquet or Arrow file that cannot be read (at all, or any further); the message names it."""


# -- in ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """Some row groups of a Parquet file (in order), and the index in the file of their first row."""

    row_groups: tuple[int, ...]
    first_row: int


def open_batches(
    file: InputFile, part: Part | None = None, *, threads: bool = True
) -> Iterator[pa.RecordBatch]:
    """The record batches of a Parquet or Arrow IPC file (or of `part` of a Parquet file), each checked in
    full (text is UTF-8); raises `ColumnarUnreadable` with a message naming the file. `threads`: let the
    Parquet reader decode columns on Arrow's threads (not where a task is to use one core).

    A file is opened as the other formats are (`triage.io.inputs.open_input`): a file found as a regular
    file never makes the run wait on a pipe put in its place. Standard input, and a pipe or device named
    on the command line, cannot be read at random places as these formats need: such a stream is read
    whole into memory first, up to `STREAM_BYTES`.
    """
    name = file.name
    kind = "Parquet" if file.format == "parquet" else "Arrow IPC"
    try:
        handle = open_input(file)
    except OSError as exc:
        raise ColumnarUnreadable(f"{name}: cannot be read: {exc.strerror or exc}.") from exc
    try:
        source: Any
        if file.path == STDIN or file.stream:
            data = read_all(handle, STREAM_BYTES)
            if len(data) > STREAM_BYTES:
                raise ColumnarUnreadable(
                    f"{name}: more than {_size(STREAM_BYTES)} to read as {kind} from standard input or a "
                    "pipe, which is held in memory whole; save it as a file and name the file (a file is "
                    "read a batch of rows at a time)."
                )
            source = pa.BufferReader(data)
        else:
            source = _native(handle, file.path)
        for batch in _parquet(source, part, threads) if file.format == "parquet" else _ipc(source):
            _check(batch, name)
            yield batch
    except (pa.ArrowException, OSError) as exc:
        raise ColumnarUnreadable(f"{name}: cannot be read as {kind}: {_reason(exc)}") from exc
    except UnicodeDecodeError as exc:  # what pyarrow raises for a column name that is not UTF-8
        message = f"{name}: cannot be read as {kind}: a column name is not UTF-8 text."
        raise ColumnarUnreadable(message) from exc
    finally:
        if file.path != STDIN:
            handle.close()


def _native(handle: BinaryIO, path: str) -> str | BinaryIO:
    """What Arrow opens to read the file `handle` has open: a name for that very file where the system
    has one (`/dev/fd/N`), so that Arrow reads it natively, not whatever has the file's name now."""
    name = f"/dev/fd/{handle.fileno()}"
    return name if os.path.exists(name) else handle


def _size(count: int) -> str:
    """A number of bytes in words: `1 GiB`, `64 KiB`, `1,000 bytes`."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if count >= 1 << shift and count % (1 << shift) == 0:
            return f"{count >> shift:,} {unit}"
    return f"{count:,} bytes"


def _check(batch: pa.RecordBatch, name: str) -> None:
    """Check a batch in full (readers do not check, for one, that text is UTF-8), naming a bad column."""
    batch.schema.names  # noqa: B018  # raises UnicodeDecodeError for a name that is not UTF-8
    try:
        batch.validate(full=True)
    except pa.ArrowInvalid:
        for field, column in zip(batch.schema, batch.columns, strict=True):
            try:
                column.validate(full=True)
            except pa.ArrowInvalid as exc:
                message = f"{name}: column {field.name!r} does not hold valid data: {_reason(exc)}"
                raise ColumnarUnreadable(message) from exc
        raise


def _parquet(source: Any, part: Part | None, threads: bool) -> Iterator[pa.RecordBatch]:
    # Answer columns come as dictionaries where the file stores them so: no text is decoded row by row.
    schema = pq.read_schema(source)
    text = [f.name for f in schema if f.name != ID_FIELD and pa.types.is_string(f.type)]
    with pq.ParquetFile(source, read_dictionary=text) as parquet:
        groups = None if part is None else list(part.row_groups)
        yield from parquet.iter_batches(batch_size=READ_ROWS, row_groups=groups, use_threads=threads)


def _ipc(source: Any) -> Iterator[pa.RecordBatch]:
    if isinstance(source, str):
        source = pa.memory_map(source)
    try:
        reader: Any = pa.ipc.open_file(source)
    except pa.ArrowInvalid:
        source.seek(0)
        yield from pa.ipc.open_stream(source)
        return
    for index in range(reader.num_record_batches):
        yield reader.get_batch(index)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.rstrip(".") + "."


def items(file: InputFile, pack: RulePack) -> Iterator[Item]:
    """The records of a Parquet or Arrow file for the row-by-row batch, each with its source.

    A file that cannot be read is an error entry for the file; one that stops
    being readable after some rows, an error entry for the row where reading
    stopped (as in a Parquet or Arrow results file: `evaluate_columnar`).
    """
    name = file.name
    number = 0
    try:
        for batch in open_batches(file):
            for record in records(batch):
                source = f"{name}#{number}"
                number += 1
                refused = refuse_unclear(record, pack) if isinstance(record, Ambiguous) else None
                yield source, refused or record
    except ColumnarUnreadable as exc:
        if number == 0:
            yield name, Unreadable(str(exc), whole_file=True)
        else:
            yield f"{name}#{number}", Unreadable(f"{exc} Reading stopped at row {number:,}.")
        return
    if number == 0:
        yield name, Unreadable(f"{name}: the file has no rows; there are no records.", whole_file=True)


# -- out -----------------------------------------------------------------------------------------------------


def output_schema(*, texts: bool = False) -> pa.Schema:
    """The columns of a Parquet or Arrow results file: those of `evaluate_table`, the source after the id."""
    schema = result_schema(texts=texts)
    return schema.insert(1, pa.field("source", pa.string()))


class ColumnarOutput:
    """A Parquet or Arrow IPC file of results, written a batch at a time: to a file object, or to a path
    (written by Arrow itself, with no Python buffer in between)."""

    def __init__(self, out: BinaryIO | str, fmt: str, *, texts: bool = False) -> None:
        self.schema = output_schema(texts=texts)
        self._out = out
        self._buffer: io.BufferedWriter | None = None
        self._sink: Any
        if isinstance(out, str):
            self._sink = pa.OSFile(out, "wb")
        else:
            # The writers write many small pieces: an unbuffered file gets a buffer.
            self._buffer = io.BufferedWriter(out, 1 << 20) if isinstance(out, io.RawIOBase) else None
            # pyarrow-stubs: PythonFile takes any file object, typed as io.IOBase only.
            self._sink = pa.PythonFile(self._buffer or out, mode="w")  # type: ignore[arg-type]
        self._writer: Any
        if fmt == "parquet":
            # Statistics only where a reader filters row groups by them (urgency, prognosis): for unique
            # text (id, source) and lists they cost a sixth of the writing and serve nothing. zstd costs
            # about what the default (snappy) does here, and the file is a third of the size.
            self._writer = pq.ParquetWriter(
                self._sink,
                self.schema,
                compression="zstd" if pa.Codec.is_available("zstd") else "snappy",
                write_statistics=["urgency", "prognosis"],
            )
        else:
            self._writer = pa.ipc.new_file(self._sink, self.schema)

    def write(self, results: pa.RecordBatch, sources: AnyArray) -> None:
        """Results as `evaluate_table` gives them, with each row's source."""
        columns = list(results.columns)
        columns.insert(1, sources)
        self._writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=self.schema))

    def close(self) -> None:
        """Finish the file (its footer); a file object stays open."""
        self._writer.close()
        if isinstance(self._out, str):
            self._sink.close()
        elif self._buffer is not None:
            self._buffer.flush()
            self._buffer.detach()  # closing the buffer would close `out`
        else:
            self._out.flush()


@dataclass
class _Rows:
    """Results of the row-by-row batch, gathered for a columnar output."""

    ids: list[str | None]
    sources: list[str]
    entries: list[Entry]


class ColumnarWriter(Writer):
    """Takes the entries of the row-by-row batch (CSV, JSON Lines, JSON, YAML, FHIR inputs) and writes
    them to a `ColumnarOutput` as batches of rows; it gives the batch no bytes."""

    def __init__(self, pack: RulePack, evaluator: TableEvaluator, output: ColumnarOutput) -> None:
        super().__init__(pack)
        self.evaluator = evaluator
        self.output = output
        self._rows = _Rows([], [], [])
        self._entries: dict[object, Entry] = {}

    def entry(self, record_id: str | None, source: str, outcome: Outcome, prepared: bytes) -> bytes:
        entry = self._entries.get(outcome)
        if entry is None:
            entry = self._entries[outcome] = self.evaluator.entry_of(outcome)
        self._add(record_id, source, entry)
        return b""

    def error(self, record_id: str | None, source: str, problems: Sequence[Problem]) -> bytes:
        key = tuple(problems)
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = self.evaluator.entry_of(Outcome(None, problems=key))
        self._add(record_id, source, entry)
        return b""

    def _add(self, record_id: str | None, source: str, entry: Entry) -> None:
        rows = self._rows
        rows.ids.append(record_id)
        rows.sources.append(source)
        rows.entries.append(entry)
        if len(rows.ids) >= WRITE_ROWS:
            self.flush()

    def flush(self) -> None:
        """Write the rows gathered so far."""
        rows, self._rows = self._rows, _Rows([], [], [])
        if not rows.ids:
            return
        numbers: dict[int, int] = {}
        distinct: list[Entry] = []
        codes = []
        for entry in rows.entries:
            code = numbers.get(id(entry))
            if code is None:
                code = numbers[id(entry)] = len(distinct)
                distinct.append(entry)
            codes.append(code)
        results = self.evaluator.results(
            pa.array(rows.ids, pa.string()), pa.array(codes, pa.int32()), distinct
        )
        try:
            sources = pa.array(rows.sources, pa.string())
        except UnicodeEncodeError:  # a file name that is not UTF-8: written as JSON writes it
            sources = pa.array([unicode_text(source) for source in rows.sources], pa.string())
        self.output.write(results, sources)
        if len(self._entries) > MEMO_LIMIT:
            self._entries.clear()


def evaluate_columnar(
    files: list[InputFile],
    pack: RulePack,
    out: BinaryIO | str,
    fmt: str,
    *,
    texts: bool = False,
    progress: Progress | None = None,
    threads: bool = True,
) -> Summary:
    """Evaluate every record of `files` into a Parquet or Arrow file written to `out`, in order.

    Parquet and Arrow inputs go through `TableEvaluator` a batch at a time; any
    other input through the row-by-row batch, its entries gathered into batches.
    `threads`: see `open_batches`.
    """
    summary = Summary()
    evaluator = TableEvaluator(pack, texts=texts, summary=summary)
    output = ColumnarOutput(out, fmt, texts=texts)
    rows = ColumnarWriter(pack, evaluator, output)
    batch = Batch(pack, rows, progress)
    done = 0
    for file in files:
        if file.format in COLUMNAR_FORMATS:
            _evaluate_file(file, evaluator, output, rows, progress, done, threads=threads)
        else:
            batch.run([Piece(file)], _NoBytes())
            rows.flush()
            summary.add(batch.summary)
        done += file.size
    rows.flush()
    output.close()
    return summary


class _NoBytes:
    """The batch's output when its writer writes elsewhere: the (empty) bytes it gives are dropped."""

    def write(self, parts: list[bytes]) -> None:
        pass


def evaluate_part(
    file: InputFile,
    part: Part,
    pack: RulePack,
    out: BinaryIO | str,
    *,
    texts: bool = False,
    threads: bool = True,
) -> Summary:
    """Evaluate `part` of a Parquet file into a Parquet file of its own (as `evaluate_columnar` would
    evaluate those rows of the whole file, with the same sources); what was found. The part that begins
    the file counts the file."""
    summary = Summary()
    evaluator = TableEvaluator(pack, texts=texts, summary=summary)
    output = ColumnarOutput(out, "parquet", texts=texts)
    rows = ColumnarWriter(pack, evaluator, output)
    _evaluate_file(file, evaluator, output, rows, None, 0, part, threads=threads)
    rows.flush()
    output.close()
    return summary


def _evaluate_file(
    file: InputFile,
    evaluator: TableEvaluator,
    output: ColumnarOutput,
    rows: ColumnarWriter,
    progress: Progress | None,
    done: int,
    part: Part | None = None,
    *,
    threads: bool = True,
) -> None:
    summary = evaluator.summary
    assert summary is not None
    first = start = 0 if part is None else part.first_row
    if first == 0:
        summary.files += 1
    name = file.name
    try:
        for batch in rebatched(open_batches(file, part, threads=threads), READ_ROWS):
            results = evaluator.evaluate(batch)
            output.write(results, _sources(name, first, batch.num_rows))
            first += batch.num_rows
            if progress is not None:
                progress.update(done, summary.records)
    except ColumnarUnreadable as exc:
        if first == 0:
            summary.unreadable_files += 1
            rows.error(None, name, (Problem(field=FILE_FIELD, message=str(exc)),))
        else:
            summary.records += 1
            summary.invalid += 1
            message = f"{exc} Reading stopped at row {first:,}."
            rows.error(None, f"{name}#{first}", (Problem(field=RECORD_FIELD, message=message),))
        rows.flush()
        return
    if first == start == 0:
        summary.unreadable_files += 1
        message = f"{name}: the file has no rows; there are no records."
        rows.error(None, name, (Problem(field=FILE_FIELD, message=message),))
        rows.flush()


def _sources(name: str, first: int, count: int) -> AnyArray:
    """`name#first`, `name#first+1`, … built in Arrow (a record's source: its file and row)."""
    numbers = pc.cumulative_sum(pa.repeat(pa.scalar(1, pa.int64()), count), start=pa.scalar(first - 1))
    texts = numbers.cast(pa.string())
    head = f"{unicode_text(name)}#"  # a file name that is not UTF-8 as JSON writes it: Arrow text is UTF-8
    # pyarrow-stubs: the function takes scalars and arrays mixed, typed as taking one kind only.
    joined: AnyArray = pc.binary_join_element_wise(head, texts, "")  # type: ignore[call-overload]
    return joined
