"""The streaming run: pieces of answer files in, one entry per record out, in order.

Speed comes from four things. Each distinct raw record (without its id) is read
and decided once (`triage.core.outcomes`), and the part of its entry that does not
depend on the id or source is rendered once (`Writer.prepare`): a record costs
a JSON parse, a dictionary look-up and a few joined bytes. Blocks of plain JSON
Lines go through the fast path (`triage.batch.jsonl`), and a line that begins
with a plain text id and whose rest was seen before is not even parsed again.
JSON Lines and CSV are read and written a block at a time, so memory stays flat.
And `jobs > 1` shares the input out over a pool of processes, each with a
batch of its own (`triage.batch.parallel`, driven by `triage.batch.run`).

Parquet and Arrow files are read by the table reader the batch is given
(`tables`: `triage.batch.arrowfiles.items`, which needs pyarrow), so that
pyarrow is loaded only by a run that has such a file.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import BinaryIO, Protocol

import orjson

from triage.batch.jsonl import Block, JsonLines, Seen
from triage.batch.summary import Progress, Summary
from triage.core.answers import alarm_options, read_id
from triage.core.models import Problem
from triage.core.outcomes import MEMO_LIMIT, MEMO_RECORD_BYTES, Outcome, OutcomeMemo, record_key
from triage.core.pack import RulePack
from triage.io.formats import COLUMNAR_FORMATS
from triage.io.inputs import STDIN, InputFile, open_input
from triage.io.readers import (
    MAX_RECORD_BYTES,
    Item,
    Rejected,
    Unreadable,
    bounded_lines,
    exact_record,
    jsonl_problem,
    read_all,
    read_csv_header,
    read_csv_rows,
    read_json,
    read_yaml,
)
from triage.io.writers import Writer

PROGRESS_LINES = 1 << 16
"""JSON Lines between two looks at the clock for the progress bar."""
ITEMS_FLUSH = 4096
"""Single entries gathered before one write (`FLUSH_BYTES` at most)."""
FLUSH_BYTES = 1 << 20
"""Bytes of single entries gathered before one write: memory stays flat whatever the entries hold."""
CHUNK_LINES = 1024
"""JSON Lines read and evaluated as one block (`CHUNK_BYTES` at most, about)."""
CHUNK_BYTES = 1 << 21
"""Bytes of JSON Lines read as one block: a block of long lines (up to `MAX_RECORD_BYTES` each) holds
fewer of them, so that memory stays flat. Lines are read `CHUNK_STEP` at a time until either limit."""
CHUNK_STEP = 16
PARSED_LINES = 128
"""JSON Lines parsed as one block when they must be parsed."""
MEMO_BYTES = 16 << 20
"""About how much what is remembered of distinct records may hold (their keys and rendered entries)
before it is forgotten and learnt afresh, besides `MEMO_LIMIT` of them: so memory stays flat."""
_HELD_PER_BYTE = 4
"""About how many bytes the outcome of a refused record holds (its problems as objects, and its
rendered entry) for each byte of its rendered entry."""
READ_AT_ONCE = 8 << 20
"""A piece up to this size, with an end, is read at once."""
_BOM = b"\xef\xbb\xbf"
_NOT_PARSED = object()

TableReader = Callable[[InputFile, RulePack], Iterable[Item]]
"""Reads the records of a Parquet or Arrow file, each with its source (`triage.batch.arrowfiles.items`)."""
NO_TABLE_READER = "Parquet and Arrow files are read with pyarrow, and this run was given no table reader."


def _lines_to(stream: BinaryIO, end: int, watch: re.Pattern[bytes] | None) -> Iterator[bytes]:
    """The lines from here up to byte `end` of the stream (a line end), as `bounded_lines` gives them
    (`watch`: the words looked for in a line too long to read): read at once, and cut apart in C unless
    one is too long, when they are not many."""
    length = end - stream.tell()
    if length > READ_AT_ONCE:
        return _until(bounded_lines(stream, watch=watch), stream, end)
    data = stream.read(length)
    lines = io.BytesIO(data).readlines()
    if length > MAX_RECORD_BYTES and max(map(len, lines), default=0) > MAX_RECORD_BYTES:
        return bounded_lines(io.BytesIO(data), watch=watch)
    return iter(lines)


def _until(lines: Iterator[bytes], stream: BinaryIO, end: int) -> Iterator[bytes]:
    if stream.tell() >= end:
        return
    for line in lines:
        yield line
        if stream.tell() >= end:
            return


def _chunks(lines: Iterator[bytes]) -> Iterator[list[bytes]]:
    """The lines in blocks of `CHUNK_LINES`, or fewer making `CHUNK_BYTES` (and one step more at most)."""
    while chunk := list(islice(lines, CHUNK_STEP)):
        size = sum(map(len, chunk))
        while size < CHUNK_BYTES and len(chunk) < CHUNK_LINES and (step := list(islice(lines, CHUNK_STEP))):
            chunk += step
            size += sum(map(len, step))
        yield chunk


@dataclass(frozen=True)
class Piece:
    """Part of an input file: its lines from byte `start` up to byte `end` (None: to the end), both
    line ends of a JSON Lines file (another format is read whole)."""

    file: InputFile
    start: int = 0
    end: int | None = None

    @property
    def whole(self) -> bool:
        """Whether this is the whole file."""
        return self.start == 0 and self.end is None


class Output(Protocol):
    """Where a batch writes its entries (each starting with the separator), in parts to be joined."""

    def write(self, parts: list[bytes]) -> None: ...


class Batch:
    """Evaluates pieces of answer files into a sink; one per process."""

    def __init__(
        self,
        pack: RulePack,
        writer: Writer,
        progress: Progress | None = None,
        *,
        tables: TableReader | None = None,
    ) -> None:
        self.pack = pack
        self.writer = writer
        self.summary = Summary()
        self.progress = progress
        self.tables = tables
        self.done_bytes = 0
        self._outcomes = OutcomeMemo(pack)
        self.watch = alarm_options(pack).words
        """What to look for in a line too long to read (`bounded_lines`)."""
        self._memo: dict[Hashable, Seen] = {}
        self._by_outcome: dict[Outcome, Seen] = {}
        self._fast = JsonLines(writer.sep, self._memo, self._seen)
        self._prepared: dict[Hashable, bytes] = {}
        self._counts: Counter[Seen] = Counter()
        self._held = 0
        """About the bytes the memos hold, the fast path's lines apart (`MEMO_BYTES`)."""
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._output: Output | None = None

    # -- driving ------------------------------------------------------------------------------------

    def run(self, pieces: Iterable[Piece], output: Output) -> Summary:
        """Evaluate every piece in order, writing entries to `output`.

        What was learnt about raw records is kept for the next run of the same batch.
        """
        self.begin(output)
        for piece in pieces:
            self.take(piece)
        return self.finish()

    def begin(self, output: Output) -> None:
        """Start a run that writes to `output`: counts start from nothing."""
        self.summary = Summary()
        self._output = output

    def take(self, piece: Piece, first_line: int = 1) -> int:
        """Evaluate one piece, its lines numbered from `first_line`. How many entries it gave: records,
        or an error about the whole file."""
        file = piece.file
        if piece.start == 0:
            self.summary.files += 1
        before = self.summary.records + self.summary.unreadable_files
        self._read(piece, first_line)
        self._flush()
        if piece.end is not None:
            self.done_bytes += piece.end - piece.start
        elif not file.stream:
            self.done_bytes += file.size - piece.start
        return self.summary.records + self.summary.unreadable_files - before

    def nothing_in(self, piece: Piece) -> bytes:
        """The error entry saying that the file `piece` ends has no records (when the pieces of a file
        cut apart had none), counted in the summary."""
        self.summary.unreadable_files += 1
        return self._error(piece.file.name, self._nothing(piece.file))

    @staticmethod
    def _nothing(file: InputFile) -> Unreadable:
        name = file.name
        if file.format == "csv":
            return Unreadable(f"{name}: a header row but no records.", whole_file=True)
        return Unreadable(f"{name}: the file is empty; there are no records.", whole_file=True)

    def finish(self) -> Summary:
        """End the run: write what is held, and add up the counts."""
        self._flush()
        self._fold(forget=False)
        return self.summary

    def _read(self, piece: Piece, first_line: int) -> None:
        file = piece.file
        if file.problem is not None:  # found in a folder, and not to be opened
            self._unreadable(file.name, Unreadable(file.problem, whole_file=True))
            return
        if file.format in COLUMNAR_FORMATS:
            if self.tables is None:
                self._unreadable(file.name, Unreadable(f"{file.name}: {NO_TABLE_READER}", whole_file=True))
            else:
                self._items(self.tables(file, self.pack))
            return
        try:
            stream = open_input(file)
        except OSError as exc:
            self._unreadable(file.name, Unreadable(f"{file.name}: cannot be read: {exc.strerror}.", True))
            return
        try:
            if piece.start:
                stream.seek(piece.start)
            if file.format == "jsonl":
                if piece.end is None:
                    lines = bounded_lines(stream, watch=self.watch)
                else:
                    lines = _lines_to(stream, piece.end, self.watch)
                where = None if file.stream else (lambda: stream.tell() - piece.start)
                self._jsonl(lines, piece, first_line, where)
            elif file.format == "csv":
                self._items(self._csv(bounded_lines(stream, watch=self.watch), file))
            else:
                data = read_all(stream)
                if file.format == "json":
                    self._items(read_json(data, file.name, self.pack))
                else:
                    self._items(read_yaml(data, file.name, self.pack))
        except OSError as exc:
            self._unreadable(file.name, Unreadable(f"{file.name}: reading stopped: {exc.strerror}.", True))
        finally:
            if file.path != STDIN:
                stream.close()

    def _csv(self, lines: Iterator[bytes], file: InputFile) -> Iterator[Item]:
        header = read_csv_header(lines, file.name, self.pack)
        if isinstance(header, Unreadable):
            yield file.name, header
            return
        any_rows = False
        for item in read_csv_rows(lines, header, file.name, header.lines + 1, self.pack):
            any_rows = True
            yield item
        if not any_rows:
            yield file.name, self._nothing(file)

    # -- the fast path: JSON Lines ------------------------------------------------------------------

    def _jsonl(
        self, lines: Iterator[bytes], piece: Piece, first_line: int, where: Callable[[], int] | None
    ) -> None:
        """Evaluate JSON Lines a block of lines at a time.

        A block whose lines are all plain records (objects with a text id or none)
        goes through C-level maps: parse, take out the id, key, look up, join.
        Any other block (a blank or malformed line, a BOM, a record that is not
        an object, an id that is not text) is done line by line by `_jsonl_lines`,
        which is the reference; both give the same bytes.
        """
        name = piece.file.name
        number = first_line
        records = 0
        fast = self.writer.splices_json
        for chunk in _chunks(lines):
            if len(self._memo) + len(self._fast) >= MEMO_LIMIT or self._full():
                self._fold()
            if fast and self._took(self._fast.known_block(chunk, name, number)):
                records += len(chunk)
            else:
                # Parsed records are kept only a small block at a time: fresh memory is slow to come by.
                for start in range(0, len(chunk), PARSED_LINES):
                    block = chunk[start : start + PARSED_LINES]
                    if fast and self._took(self._fast.parsed_block(block, name, number + start)):
                        records += len(block)
                    else:
                        records -= self.summary.records
                        self._jsonl_lines(block, name, number + start)
                        records += self.summary.records
            number += len(chunk)
            # A block is written as it is (no copy into a buffer): the output is opened unbuffered.
            self._flush()
            if self.progress is not None and where is not None and number % PROGRESS_LINES < CHUNK_LINES:
                self.progress.update(self.done_bytes + where(), self.summary.records)
        if records == 0 and piece.whole:
            self._unreadable(name, self._nothing(piece.file))

    def _took(self, block: Block | None) -> bool:
        """Count and hold the entries of a block the fast path took; whether it took one."""
        if block is None:
            return False
        seen, parts = block
        self._counts.update(seen)
        self.summary.records += len(seen)
        self._buffer += parts
        return True

    def _jsonl_lines(self, chunk: list[bytes], name: str, first: int) -> None:
        loads = orjson.loads
        for number, line in enumerate(chunk, first):
            source = f"{name}:{number}"
            try:
                record = loads(line)
            except orjson.JSONDecodeError:
                record = _NOT_PARSED
                if number == 1 and line.startswith(_BOM):
                    with contextlib.suppress(orjson.JSONDecodeError):
                        record = loads(line[len(_BOM) :])
                if record is _NOT_PARSED:
                    problem = jsonl_problem(
                        line.removeprefix(_BOM) if number == 1 else line, source, self.pack
                    )
                    if problem is not None:
                        self.summary.records += 1
                        self._unreadable(source, problem)
                    continue
            self._items(((source, exact_record(line, record, source, self.pack)),))

    # -- the general path: records with their sources -----------------------------------------------

    def _items(self, items: Iterable[Item]) -> None:
        memo = self._memo
        writer = self.writer
        for source, record in items:
            if isinstance(record, Unreadable):
                if not record.whole_file:
                    self.summary.records += 1
                self._unreadable(source, record)
                continue
            if isinstance(record, Rejected):
                self.summary.records += 1
                self.summary.invalid += 1
                self._put(writer.error(record.record_id, source, record.problems))
                continue
            self.summary.records += 1
            if len(memo) >= MEMO_LIMIT or self._full():
                self._fold()
            key = record_key(record)
            seen = memo.get(key) if key is not None else None
            if seen is None:
                seen = self._seen(key, record)
            self._counts[seen] += 1
            record_id = read_id(record.get("id")) if isinstance(record, dict) else None
            if isinstance(record_id, Problem):
                self._invalid_id(source, record_id, seen)
            else:
                self._put(writer.entry(record_id, source, seen.outcome, seen.data))

    # -- shared -------------------------------------------------------------------------------------

    def _seen(self, key: Hashable | None, record: object) -> Seen:
        outcome = self._outcomes.read(record)  # shared by the raw forms that read alike
        seen = self._by_outcome.get(outcome)
        if seen is None:
            # Outcomes share a decision (decisions are shared by the engine) and warnings: render once.
            shared: Hashable = (
                (id(outcome.decision), outcome.warnings) if outcome.decision is not None else outcome.problems
            )
            data = self._prepared.get(shared)
            if data is None:
                data = self._prepared[shared] = self.writer.prepare(outcome)
                # A refused record's problems are its own objects; a decision is the engine's, shared.
                self._held += len(data) * (_HELD_PER_BYTE if outcome.decision is None else 1)
            seen = self._by_outcome[outcome] = Seen(outcome, data)
        if isinstance(key, bytes):
            if len(key) <= MEMO_RECORD_BYTES:
                # A copy: orjson's bytes keep a block of 4 KiB however short they are.
                self._memo[bytes(memoryview(key))] = seen
                self._held += len(key)
        elif key is not None:
            self._memo[key] = seen
            self._held += MEMO_RECORD_BYTES // 4
        return seen

    def _fold(self, *, forget: bool = True) -> None:
        """Add up the records counted per outcome into the summary; `forget` the memo too."""
        summary = self.summary
        for seen, count in self._counts.items():
            decision = seen.outcome.decision
            if decision is None:
                summary.invalid += count
            else:
                summary.valid += count
                summary.urgency[decision.urgency] += count
                summary.prognosis[decision.prognosis.category] += count
        self._counts.clear()
        if forget:
            self._memo.clear()
            self._by_outcome.clear()
            self._fast.forget()
            self._prepared.clear()
            self._outcomes.clear()
            self._held = 0

    def _full(self) -> bool:
        """Whether what is remembered holds `MEMO_BYTES` or more, the fast path's lines too."""
        return self._held + self._fast.held >= MEMO_BYTES

    def _invalid_id(self, source: str, problem: Problem, seen: Seen) -> None:
        # The record counts as invalid whatever its answers gave; take it back out of the outcome's count.
        self._counts[seen] -= 1
        self.summary.invalid += 1
        self._put(self.writer.error(None, source, seen.outcome.refused_for_id(problem, self.pack)))

    def _unreadable(self, source: str, problem: Unreadable) -> None:
        if problem.whole_file:
            self.summary.unreadable_files += 1
        else:
            self.summary.invalid += 1
        self._put(self._error(source, problem))

    def _error(self, source: str, problem: Unreadable) -> bytes:
        """The error entry for what could not be read."""
        first = Problem(field=problem.field, message=problem.message)
        return self.writer.error(None, source, (first, *problem.notes))

    def _put(self, entry: bytes) -> None:
        """Hold one entry for the next write: entries are written a few thousand, or a MiB, at a time."""
        self._buffer.append(entry)
        self._buffered += len(entry)
        if self._buffered >= FLUSH_BYTES or len(self._buffer) >= ITEMS_FLUSH:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        self._buffered = 0
        parts, self._buffer = self._buffer, []
        if self._output is not None:
            self._output.write(parts)
