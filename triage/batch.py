"""Batch evaluation: answer files in, one entry per record out, in order, streaming.

Speed comes from four things. Each distinct raw record (without its id) is read
and decided once (`triage.outcomes`), and the part of its entry that does not
depend on the id or source is rendered once (`Writer.prepare`): a record costs
a JSON parse, a dictionary look-up and a few joined bytes. A JSON Lines line
that begins with a plain text id and whose rest was seen before is not even
parsed again (`Batch._jsonl_known` says why that is exact). JSON Lines and CSV
are read and written a block at a time, so memory stays flat. And `jobs > 1`
shares the input out over processes that take turns (`triage.parallel`).
"""

from __future__ import annotations

import contextlib
import operator
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, islice, repeat
from typing import BinaryIO, Protocol

import orjson

from triage.answers import alarm_options, read_id
from triage.models import Problem
from triage.outcomes import MEMO_LIMIT, MEMO_RECORD_BYTES, Outcome, OutcomeMemo, record_key
from triage.readers import (
    STDIN,
    CsvHeader,
    InputFile,
    Item,
    Rejected,
    Unreadable,
    bounded_lines,
    exact_record,
    jsonl_problem,
    open_input,
    plain,
    read_all,
    read_csv_header,
    read_csv_rows,
    read_json,
    read_yaml,
)
from triage.rulepack import RulePack
from triage.writers import Sink, Writer, json_string

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
_BOM = b"\xef\xbb\xbf"
_POP_ID = operator.methodcaller("pop", "id", None)
_PLAIN_IDS = frozenset({str, type(None)})
_DATA = operator.attrgetter("data")
_NOT_PARSED = object()
_ID_PREFIXES = (b'{"id":"', b'{"id": "')
_FIRST = operator.itemgetter(0)
_LAST = operator.itemgetter(2)
_PLAIN = bytes(range(0x20, 0x7F)).replace(b"\\", b"")
"""The bytes a plain id may hold: printable ASCII but the backslash (the quote is counted apart)."""


@dataclass
class Summary:
    """What a run read and found: counts for the summary line."""

    files: int = 0
    unreadable_files: int = 0
    records: int = 0
    valid: int = 0
    invalid: int = 0
    urgency: Counter[str] = field(default_factory=Counter)
    prognosis: Counter[str] = field(default_factory=Counter)

    def add(self, other: Summary) -> None:
        self.files += other.files
        self.unreadable_files += other.unreadable_files
        self.records += other.records
        self.valid += other.valid
        self.invalid += other.invalid
        self.urgency.update(other.urgency)
        self.prognosis.update(other.prognosis)

    def lines(self, pack: RulePack) -> list[str]:
        """The summary in words, urgencies and prognoses in the pack's order."""
        files = f"{self.files} file{'s' if self.files != 1 else ''}"
        if self.unreadable_files:
            files += f" ({self.unreadable_files} could not be read)"
        records = f"{self.records} record{'s' if self.records != 1 else ''}"
        out = [f"{files}, {records}: {self.valid} valid, {self.invalid} invalid."]
        out.append("  urgency:   " + ", ".join(f"{u} {self.urgency[u]}" for u in pack.levels))
        out.append("  prognosis: " + ", ".join(f"{p} {self.prognosis[p]}" for p in pack.categories))
        return out


def _until(lines: Iterator[bytes], stream: BinaryIO, end: int) -> Iterator[bytes]:
    """The lines up to byte `end` of the stream (a line end)."""
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


def _numbers(first: int, count: int) -> list[bytes]:
    """Line numbers `first`… as bytes: formatting one text and splitting it is quicker than one by one."""
    return " ".join(map(str, range(first, first + count))).encode().split()


class _Seen:
    """A distinct raw record: its outcome and its prepared bytes."""

    __slots__ = ("data", "outcome")

    def __init__(self, outcome: Outcome, data: bytes) -> None:
        self.outcome = outcome
        self.data = data


@dataclass(frozen=True)
class Piece:
    """Part of an input file: its lines from byte `start` up to byte `end` (None: to the end).

    A piece cut out of a CSV file after its start carries the file's `header`.
    """

    file: InputFile
    start: int = 0
    end: int | None = None
    header: CsvHeader | None = None

    @property
    def whole(self) -> bool:
        """Whether this is the whole file."""
        return self.start == 0 and self.end is None


class Output(Protocol):
    """Where a batch writes its entries (each starting with the separator), in parts to be joined."""

    def write(self, parts: list[bytes]) -> None: ...


class Progress:
    """A one-line progress report on stderr, refreshed a few times a second."""

    def __init__(self, total_bytes: int) -> None:
        self.total = max(total_bytes, 1)
        self.started = time.monotonic()
        self.shown = self.started
        self.visible = False

    def update(self, done_bytes: int, records: int) -> None:
        now = time.monotonic()
        if now - self.shown < 0.25 or now - self.started < 0.5:
            return
        self.shown = now
        rate = records / (now - self.started)
        share = min(done_bytes / self.total, 1.0)
        bar = "#" * int(share * 30)
        sys.stderr.write(f"\r[{bar:<30}] {share:4.0%}  {records:,} records  {rate:,.0f}/s ")
        sys.stderr.flush()
        self.visible = True

    def clear(self) -> None:
        if self.visible:
            sys.stderr.write("\r" + " " * 79 + "\r")
            sys.stderr.flush()


class Batch:
    """Evaluates pieces of answer files into a sink; one per process."""

    def __init__(self, pack: RulePack, writer: Writer, progress: Progress | None = None) -> None:
        self.pack = pack
        self.writer = writer
        self.summary = Summary()
        self.progress = progress
        self.done_bytes = 0
        self._outcomes = OutcomeMemo(pack)
        self.watch = alarm_options(pack).words
        """What to look for in a line too long to read (`bounded_lines`)."""
        self._memo: dict[Hashable, _Seen] = {}
        self._by_outcome: dict[Outcome, _Seen] = {}
        self._known: dict[bytes, _Seen] = {}
        self._prepared: dict[Hashable, bytes] = {}
        self._counts: Counter[_Seen] = Counter()
        self._held = 0
        """About the bytes the memos hold (`MEMO_BYTES`)."""
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

    def take(self, piece: Piece, first_line: int = 1, lines: Sequence[bytes] | None = None) -> int:
        """Evaluate one piece, its lines numbered from `first_line`; `lines`: the piece's lines, when
        already read. How many entries it gave: records, or an error about the whole file."""
        file = piece.file
        if piece.start == 0:
            self.summary.files += 1
        before = self.summary.records + self.summary.unreadable_files
        if lines is not None:
            self._lines(iter(lines), piece, first_line, None)
        else:
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
        return self._error(piece.file.name, self._nothing(piece))

    @staticmethod
    def _nothing(piece: Piece) -> Unreadable:
        name = piece.file.name
        if piece.file.format == "csv":
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
        try:
            stream = open_input(file)
        except OSError as exc:
            self._unreadable(file.name, Unreadable(f"{file.name}: cannot be read: {exc.strerror}.", True))
            return
        try:
            if piece.start:
                stream.seek(piece.start)
            if file.format in ("jsonl", "csv"):
                lines = bounded_lines(stream, watch=self.watch)
                if piece.end is not None:
                    lines = _until(lines, stream, piece.end)
                where = None if file.stream else (lambda: stream.tell() - piece.start)
                self._lines(lines, piece, first_line, where)
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

    def _lines(
        self, lines: Iterator[bytes], piece: Piece, first_line: int, where: Callable[[], int] | None
    ) -> None:
        """The lines of a JSON Lines or CSV piece; `where` tells how far into the piece reading is."""
        if piece.file.format == "jsonl":
            self._jsonl(lines, piece, first_line, where)
        else:
            self._items(self._csv(lines, piece, first_line))

    def _csv(self, lines: Iterator[bytes], piece: Piece, first_line: int) -> Iterator[Item]:
        name = piece.file.name
        header = piece.header
        if header is None:
            read = read_csv_header(lines, name, self.pack)
            if isinstance(read, Unreadable):
                yield name, read
                return
            header = read
            first_line = header.lines + 1
        any_rows = False
        for item in read_csv_rows(lines, header, name, first_line, self.pack):
            any_rows = True
            yield item
        if not any_rows and piece.whole:
            yield name, self._nothing(piece)

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
            if len(self._memo) + len(self._known) >= MEMO_LIMIT or self._held >= MEMO_BYTES:
                self._fold()
            if fast and self._jsonl_known_block(chunk, name, number):
                records += len(chunk)
            else:
                # Parsed records are kept only a small block at a time: fresh memory is slow to come by.
                for start in range(0, len(chunk), PARSED_LINES):
                    block = chunk[start : start + PARSED_LINES]
                    if fast and self._jsonl_block(block, name, number + start):
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
            self._unreadable(name, self._nothing(piece))

    def _jsonl_known_block(self, chunk: list[bytes], name: str, first: int) -> bool:
        prefix = chunk[0][:8]
        return prefix.startswith(_ID_PREFIXES) and self._jsonl_known(
            chunk, name, first, prefix.startswith(_ID_PREFIXES[0])
        )

    def _jsonl_block(self, chunk: list[bytes], name: str, first: int) -> bool:
        loads, dumps = orjson.loads, orjson.dumps
        try:
            records = list(map(loads, chunk))
        except orjson.JSONDecodeError:
            return False
        if not all(map(plain, chunk, records)):
            return False  # the line-by-line path reads these again exactly (a key given twice, a float)
        try:
            ids = list(map(_POP_ID, records))
        except (AttributeError, TypeError):
            return False
        if not _PLAIN_IDS.issuperset(map(type, ids)):
            return False
        try:
            keys = list(map(dumps, records))
        except orjson.JSONEncodeError:
            return False
        memo = self._memo
        looked_up = list(map(memo.get, keys))
        seen: list[_Seen] = looked_up  # type: ignore[assignment] # every None is filled in below
        if not all(looked_up):
            for index, found in enumerate(looked_up):
                if found is None:
                    seen[index] = memo.get(keys[index]) or self._seen(keys[index], records[index])
        self._counts.update(seen)
        self.summary.records += len(chunk)
        # entry = head, id, middle (source up to the line number), line number, outcome's bytes
        writer = self.writer
        head = writer.sep + b'{"id":'
        middle = b',"source":' + json_string(f"{name}:")[:-1]
        count = len(chunk)
        parts = zip(
            repeat(head),
            map(dumps, ids),
            repeat(middle),
            _numbers(first, count),
            map(_DATA, seen),
        )
        self._buffer += chain.from_iterable(parts)
        return True

    def _jsonl_known(self, chunk: list[bytes], name: str, first: int, tight: bool) -> bool:
        """Lines that begin with a plain text id: look the rest of the line up, unparsed, once it is known.

        Each line is cut (`bytes.partition`) at the first `","` (`", "` when
        spaced): `{"id":"<id>` before it, the rest after it. When the part before
        holds no quote past the prefix, no backslash, control or non-ASCII byte,
        the id is a complete plain JSON string closed by the cut, and a line whose
        rest was seen before (and parsed then, see `_learn`) is the same record
        under another id: valid JSON exactly when the earlier one was, its id's
        JSON being its text as written. Lines of any other shape go to the
        parsing paths.
        """
        prefix, cut = (_ID_PREFIXES[0], b'","') if tight else (_ID_PREFIXES[1], b'", "')
        if not all(map(bytes.startswith, chunk, repeat(prefix))):
            return False
        cuts = list(map(bytes.partition, chunk, repeat(cut)))
        heads = list(map(_FIRST, cuts))
        joined = b"".join(heads)
        # Each head starts with the prefix (3 quotes); another quote is in an id, or there was no cut.
        # Deleting every plain byte must leave nothing (`translate` is many times quicker than a regex).
        if joined.count(b'"') != 3 * len(chunk) or joined.translate(None, _PLAIN):
            return False
        rests = list(map(_LAST, cuts))
        known = self._known
        looked_up = list(map(known.get, rests))
        seen: list[_Seen] = looked_up  # type: ignore[assignment] # every None is filled in below
        if not all(looked_up):
            for index, found in enumerate(looked_up):
                if found is None:
                    learnt = self._learn(chunk[index], heads[index][len(prefix) :], rests[index])
                    if learnt is None:
                        return False
                    seen[index] = learnt
        self._counts.update(seen)
        self.summary.records += len(chunk)
        sep = self.writer.sep
        # An entry: `{"id":"<id>`, then `","source":"<name>:`, the line number, and the outcome's bytes.
        middle = b'","source":' + json_string(f"{name}:")[:-1]
        numbers = _numbers(first, len(chunk))
        if tight and not sep:
            parts: Iterator[tuple[bytes, ...]] = zip(heads, repeat(middle), numbers, map(_DATA, seen))
        else:
            starts = heads if tight else [_ID_PREFIXES[0] + head[len(prefix) :] for head in heads]
            parts = zip(repeat(sep), starts, repeat(middle), numbers, map(_DATA, seen))
        self._buffer += chain.from_iterable(parts)
        return True

    def _learn(self, line: bytes, ident: bytes, rest: bytes) -> _Seen | None:
        """Parse a line of `_jsonl_known`'s shape with id `ident`, remembering its rest when safe.

        None if the line is not of that shape after all.
        """
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            return None
        if type(record) is not dict or not plain(line, record):
            return None
        if record.pop("id", None) != ident.decode():  # a plain id: its JSON text is the text itself
            return None
        try:
            key = orjson.dumps(record)
        except orjson.JSONEncodeError:  # nested deeper than orjson writes: the parsing paths read it
            return None
        seen = self._memo.get(key) or self._seen(key, record)
        # No escape and no "id" in the rest (which follows a quote): no later key of it can be another id.
        if b"\\" not in rest and b'"id"' not in b'"' + rest and len(rest) <= MEMO_RECORD_BYTES:
            self._known[rest] = seen
            self._held += len(rest)
        return seen

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
            if len(memo) >= MEMO_LIMIT or self._held >= MEMO_BYTES:
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

    def _seen(self, key: Hashable | None, record: object) -> _Seen:
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
            seen = self._by_outcome[outcome] = _Seen(outcome, data)
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
            self._known.clear()
            self._prepared.clear()
            self._outcomes.clear()
            self._held = 0

    def _invalid_id(self, source: str, problem: Problem, seen: _Seen) -> None:
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


# -- the run ---------------------------------------------------------------------------------------


def evaluate_files(
    files: Sequence[InputFile],
    pack: RulePack,
    writer: Writer,
    out: BinaryIO,
    *,
    jobs: int = 1,
    progress: Progress | None = None,
) -> Summary:
    """Evaluate every record of `files` into `out`, in order; return what was found.

    With `jobs` > 1, the input is shared out over that many processes taking
    turns (`triage.parallel`), when it is large enough to be shared and `out`
    is a file, pipe or terminal that they can all write to.
    """
    sink = Sink(out, writer)
    summary: Summary | None = None
    if jobs > 1 and _descriptor(out) is not None and hasattr(os, "fork"):
        from triage.parallel import MOST_TURNS, plan, run_parallel

        turns = plan(files)
        if 1 < len(turns) <= MOST_TURNS:
            summary = run_parallel(pack, writer, turns, sink, jobs, progress)  # None: not shared out
    if summary is None:
        summary = Batch(pack, writer, progress).run((Piece(f) for f in files), sink)
    sink.close()
    if progress is not None:
        progress.clear()
    return summary


def _descriptor(stream: BinaryIO) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None
