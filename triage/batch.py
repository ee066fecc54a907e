"""Batch evaluation: answer files in, one entry per record out, in order, streaming.

Speed comes from four things. Each distinct raw record (without its id) is read
and decided once (`triage.outcomes`), and the part of its entry that does not
depend on the id or source is rendered once (`Writer.prepare`): a record costs
a JSON parse, a dictionary look-up and a few joined bytes. A JSON Lines line
that begins with a plain text id and whose rest was seen before is not even
parsed again (`Batch._jsonl_known` says why that is exact). JSON Lines and CSV
are read and written a block at a time, so memory stays flat. And `jobs > 1`
shares large inputs out over processes (cut at line ends; workers are given
only file names and byte offsets) and joins their output in order.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import operator
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Hashable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from itertools import chain, islice, repeat
from typing import BinaryIO

import orjson

from triage.answers import read_id
from triage.errors import TriageError
from triage.models import Problem
from triage.outcomes import MEMO_LIMIT, Outcome, read_outcome, record_key
from triage.readers import (
    STDIN,
    CsvHeader,
    InputFile,
    Item,
    Rejected,
    Unreadable,
    bounded_lines,
    jsonl_problem,
    open_input,
    read_all,
    read_csv_header,
    read_csv_rows,
    read_json,
    read_yaml,
    repeats_keys,
)
from triage.rulepack import RulePack
from triage.writers import Sink, Writer, write_all

PROGRESS_LINES = 1 << 16
"""JSON Lines between two looks at the clock for the progress bar."""
ITEMS_FLUSH = 4096
"""Single entries gathered before one write."""
CHUNK_LINES = 1024
"""JSON Lines read and evaluated as one block."""
OWN_SHARE = 0.9
"""With several jobs: this process's share, against 1 for a worker's (it also joins their output)."""
PARSED_LINES = 128
"""JSON Lines parsed as one block when they must be parsed."""
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
    """Part of an input file: from byte `start`, `lines` lines (None: to the end)."""

    file: InputFile
    start: int = 0
    lines: int | None = None
    first_line: int = 1
    header: CsvHeader | None = None


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
        self._memo: dict[Hashable, _Seen] = {}
        self._known: dict[bytes, _Seen] = {}
        self._prepared: dict[Hashable, bytes] = {}
        self._counts: Counter[_Seen] = Counter()
        self._buffer: list[bytes] = []
        self._sink: Sink | None = None
        self._out: BinaryIO | None = None

    # -- driving ------------------------------------------------------------------------------------

    def run(self, pieces: Iterable[Piece], out: BinaryIO, sink: Sink | None = None) -> Summary:
        """Evaluate every piece in order, writing entries to `out` (through `sink` if given).

        What was learnt about raw records is kept for the next run of the same batch.
        """
        self.summary = Summary()
        self._sink = sink
        self._out = out
        for piece in pieces:
            self._piece(piece)
        self._flush()
        self._fold(forget=False)
        return self.summary

    def _piece(self, piece: Piece) -> None:
        file = piece.file
        if piece.start == 0:
            self.summary.files += 1
        try:
            stream = open_input(file)
        except OSError as exc:
            self._unreadable(file.name, Unreadable(f"{file.name}: cannot be read: {exc.strerror}.", True))
            return
        try:
            if piece.start:
                stream.seek(piece.start)
            if file.format == "jsonl":
                self._jsonl(stream, piece)
            elif file.format == "csv":
                self._items(self._csv(stream, piece))
            else:
                data = read_all(stream)
                if file.format == "json":
                    self._items(read_json(data, file.name, self.pack))
                else:
                    self._items(read_yaml(data, file.name))
        except OSError as exc:
            self._unreadable(file.name, Unreadable(f"{file.name}: reading stopped: {exc.strerror}.", True))
        finally:
            if file.path != STDIN:
                stream.close()
        if file.path != STDIN and piece.lines is None:
            self.done_bytes += file.size - piece.start

    def _csv(self, stream: BinaryIO, piece: Piece) -> Iterator[Item]:
        name = piece.file.name
        lines: Iterator[bytes] = bounded_lines(stream)
        if piece.lines is not None:
            lines = islice(lines, piece.lines)
        header = piece.header
        first_line = piece.first_line
        if header is None:
            read = read_csv_header(lines, name)
            if isinstance(read, Unreadable):
                yield name, read
                return
            header = read
            first_line = header.lines + 1
        any_rows = False
        for item in read_csv_rows(lines, header, name, first_line):
            any_rows = True
            yield item
        if not any_rows and piece.header is None and piece.lines is None:
            yield name, Unreadable(f"{name}: a header row but no records.", whole_file=True)

    # -- the fast path: JSON Lines ------------------------------------------------------------------

    def _jsonl(self, stream: BinaryIO, piece: Piece) -> None:
        """Evaluate JSON Lines a block of lines at a time.

        A block whose lines are all plain records (objects with a text id or none)
        goes through C-level maps: parse, take out the id, key, look up, join.
        Any other block (a blank or malformed line, a BOM, a record that is not
        an object, an id that is not text) is done line by line by `_jsonl_lines`,
        which is the reference; both give the same bytes.
        """
        name = piece.file.name
        lines: Iterator[bytes] = bounded_lines(stream)
        if piece.lines is not None:
            lines = islice(lines, piece.lines)
        number = piece.first_line
        records = 0
        fast = self.writer.splices_json
        while chunk := list(islice(lines, CHUNK_LINES)):
            if len(self._memo) + len(self._known) >= MEMO_LIMIT:
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
            if (
                self.progress is not None
                and number % PROGRESS_LINES < CHUNK_LINES
                and piece.file.path != STDIN
            ):
                self.progress.update(self.done_bytes + stream.tell() - piece.start, self.summary.records)
        if records == 0 and piece.start == 0 and piece.lines is None:
            self._unreadable(name, Unreadable(f"{name}: the file is empty; there are no records.", True))

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
        if any(map(repeats_keys, chunk, records)):
            return False  # the line-by-line path refuses the records that give a key twice
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
        middle = b',"source":' + dumps(f"{name}:")[:-1]
        count = len(chunk)
        parts = zip(
            repeat(head),
            map(dumps, ids),
            repeat(middle),
            _numbers(first, count),
            map(_DATA, seen),
        )
        self._buffer.append(b"".join(list(chain.from_iterable(parts))))
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
        middle = b'","source":' + orjson.dumps(f"{name}:")[:-1]
        numbers = _numbers(first, len(chunk))
        if tight and not sep:
            parts: Iterator[tuple[bytes, ...]] = zip(heads, repeat(middle), numbers, map(_DATA, seen))
        else:
            starts = heads if tight else [_ID_PREFIXES[0] + head[len(prefix) :] for head in heads]
            parts = zip(repeat(sep), starts, repeat(middle), numbers, map(_DATA, seen))
        self._buffer.append(b"".join(list(chain.from_iterable(parts))))
        return True

    def _learn(self, line: bytes, ident: bytes, rest: bytes) -> _Seen | None:
        """Parse a line of `_jsonl_known`'s shape with id `ident`, remembering its rest when safe.

        None if the line is not of that shape after all.
        """
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            return None
        if type(record) is not dict or repeats_keys(line, record) is not None:
            return None
        if orjson.dumps(record.pop("id", None)) != b'"' + ident + b'"':
            return None
        key = orjson.dumps(record)
        seen = self._memo.get(key) or self._seen(key, record)
        # No escape and no "id" in the rest (which follows a quote): no later key of it can be another id.
        if b"\\" not in rest and b'"id"' not in b'"' + rest:
            self._known[rest] = seen
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
                    problem = jsonl_problem(line.removeprefix(_BOM) if number == 1 else line, source)
                    if problem is not None:
                        self.summary.records += 1
                        self._unreadable(source, problem)
                    continue
            self._items(((source, repeats_keys(line, record) or record),))

    # -- the general path: records with their sources -----------------------------------------------

    def _items(self, items: Iterable[Item]) -> None:
        memo = self._memo
        buffer = self._buffer
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
                buffer.append(writer.error(record.record_id, source, record.problems))
                continue
            self.summary.records += 1
            if len(memo) >= MEMO_LIMIT:
                self._fold()
            key = record_key(record)
            seen = memo.get(key) if key is not None else None
            if seen is None:
                seen = self._seen(key, record)
            self._counts[seen] += 1
            record_id = read_id(record.get("id")) if isinstance(record, dict) else None
            if isinstance(record_id, Problem):
                self._invalid_id(source, record_id, seen)
                continue
            buffer.append(writer.entry(record_id, source, seen.outcome, seen.data))
            if len(buffer) >= ITEMS_FLUSH:
                self._flush()

    # -- shared -------------------------------------------------------------------------------------

    def _seen(self, key: Hashable | None, record: object) -> _Seen:
        outcome = read_outcome(record, self.pack)
        # Many raw forms share a decision (decisions are shared by the engine) and warnings: render once.
        shared: Hashable = (
            (id(outcome.decision), outcome.warnings) if outcome.decision is not None else outcome.problems
        )
        data = self._prepared.get(shared)
        if data is None:
            data = self._prepared[shared] = self.writer.prepare(outcome)
        seen = _Seen(outcome, data)
        if key is not None:
            self._memo[key] = seen
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
            self._known.clear()
            self._prepared.clear()

    def _invalid_id(self, source: str, problem: Problem, seen: _Seen) -> None:
        # The record counts as invalid whatever its answers gave; take it back out of the outcome's count.
        self._counts[seen] -= 1
        self.summary.invalid += 1
        self._buffer.append(self.writer.error(None, source, seen.outcome.refused_for_id(problem, self.pack)))

    def _unreadable(self, source: str, problem: Unreadable) -> None:
        if problem.whole_file:
            self.summary.unreadable_files += 1
        else:
            self.summary.invalid += 1
        self._buffer.append(
            self.writer.error(None, source, (Problem(field=problem.field, message=problem.message),))
        )

    def _flush(self) -> None:
        if not self._buffer:
            return
        data = self._buffer[0] if len(self._buffer) == 1 else b"".join(self._buffer)
        self._buffer.clear()
        if self._sink is not None:
            self._sink.write(data)
        elif self._out is not None:
            write_all(self._out, data)


# -- several processes ------------------------------------------------------------------------------


def plan(files: Sequence[InputFile], jobs: int) -> list[list[Piece]]:
    """Cut the input into `jobs` shares of about equal size, in input order.

    Large JSON Lines and CSV files are cut at line (row) ends where a share
    ends; other files stay whole. Empty shares are left out.
    """
    total = sum(f.size for f in files)
    # This process's own share is a little smaller: it also joins the others' output when done.
    weights = [OWN_SHARE] + [(jobs - OWN_SHARE) / (jobs - 1)] * (jobs - 1)
    bounds = [int(total * sum(weights[:k]) / jobs) for k in range(1, jobs)]
    shares: list[list[Piece]] = [[] for _ in range(jobs)]
    offset = 0
    for file in files:
        inside = [b - offset for b in bounds if offset < b < offset + file.size]
        splittable = file.path != STDIN and (
            file.format == "jsonl" or (file.format == "csv" and bool(inside) and _without_quotes(file))
        )
        pieces = _split(file, inside) if inside and splittable else [Piece(file)]
        for piece in pieces:
            position = offset + piece.start
            shares[sum(1 for b in bounds if b <= position)].append(piece)
        offset += file.size
    return [share for share in shares if share]


def _without_quotes(file: InputFile) -> bool:
    """Whether a CSV file has no `"` at all, so that every line end is a row end.

    With quotes, a row end cannot be told from a line end inside a cell without
    reading every row from the start (a stray `"` in an unquoted cell throws
    counting off): such a file is read whole, by one process.
    """
    with open(file.path, "rb") as stream:
        while block := stream.read(1 << 22):
            if b'"' in block:
                return False
    return True


def _split(file: InputFile, targets: list[int]) -> list[Piece]:
    """Cut a JSON Lines file, or a CSV file without quotes, at the first line end after each
    byte offset in `targets` (in such a file every line end is a record's end)."""
    is_csv = file.format == "csv"
    header: CsvHeader | None = None
    if is_csv:
        with open(file.path, "rb") as stream:
            read = read_csv_header(bounded_lines(stream), file.name)
        if isinstance(read, Unreadable):
            return [Piece(file)]
        header = read
    targets = sorted(targets)
    bounds: list[tuple[int, int]] = [(0, 1)]
    offset = lines = 0
    index = 0
    with open(file.path, "rb") as stream:
        while index < len(targets) and (block := stream.read(1 << 22)):
            end = offset + len(block)
            position = 0
            while index < len(targets) and targets[index] < end:
                newline = block.find(b"\n", max(targets[index] - offset, position))
                if newline < 0:
                    targets[index] = end
                    break
                cut = newline + 1
                if offset + cut < file.size and offset + cut > bounds[-1][0]:
                    bounds.append((offset + cut, lines + block.count(b"\n", 0, cut) + 1))
                position = cut
                index += 1
            lines += block.count(b"\n")
            offset = end
    pieces = []
    for number, (start, first_line) in enumerate(bounds):
        count = bounds[number + 1][1] - first_line if number + 1 < len(bounds) else None
        pieces.append(Piece(file, start, count, first_line, header if start else None))
    return pieces


_worker: tuple[RulePack, Writer] | None = None
_worker_batch: Batch | None = None


def _default_signals() -> None:
    # Workers die quietly when the pool is stopped; the parent cleans up.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _work(task: tuple[list[Piece], str]) -> Summary:
    global _worker_batch
    pieces, part = task
    if _worker_batch is None:
        assert _worker is not None
        _worker_batch = Batch(*_worker)
    # Appended to, not truncated (the parent made it empty): on ext4, a truncated file is forced to
    # disk when closed, which the short-lived part file never needs.
    with open(part, "ab", buffering=0) as out:
        return _worker_batch.run(pieces, out)


def run_parallel(
    pack: RulePack,
    writer: Writer,
    shares: list[list[Piece]],
    sink: Sink,
    progress: Progress | None = None,
    scratch: str | None = None,
) -> Summary:
    """Evaluate the first share here and the others in worker processes; join the output in order.

    Workers write their entries to files in `scratch` (a temporary folder by
    default), appended to the sink once this process is done with its own share.
    """
    global _worker
    _worker = (pack, writer)
    context = multiprocessing.get_context("fork")
    try:
        with tempfile.TemporaryDirectory(prefix=".triage-", dir=scratch) as folder:
            parts = [os.path.join(folder, f"part-{n}") for n in range(1, len(shares))]
            for part in parts:  # there before a worker starts, so it can be followed at once
                open(part, "wb").close()
            with ProcessPoolExecutor(len(parts), mp_context=context, initializer=_default_signals) as pool:
                pending = [
                    pool.submit(_work, (share, part)) for share, part in zip(shares[1:], parts, strict=True)
                ]
                summary = Batch(pack, writer, progress).run(shares[0], sink.stream, sink)
                for result, part in zip(pending, parts, strict=True):
                    sink.follow(part, result.done)
                    summary.add(result.result())
                    os.unlink(part)
    except BrokenProcessPool:
        # A worker was killed (out of memory, a signal): say so rather than wait for it forever.
        raise TriageError(
            "a worker process stopped before its share of the records was done, so the output is "
            "incomplete (a file named by -o is left as it was). Run again, or with --jobs 1."
        ) from None
    finally:
        _worker = None
    return summary


def can_fork() -> bool:
    """Whether worker processes can be started by forking (they share the loaded pack)."""
    return "fork" in multiprocessing.get_all_start_methods()


def evaluate_files(
    files: Sequence[InputFile],
    pack: RulePack,
    writer: Writer,
    out: BinaryIO,
    *,
    jobs: int = 1,
    progress: Progress | None = None,
    scratch: str | None = None,
) -> Summary:
    """Evaluate every record of `files` into `out`, in order; return what was found.

    With `jobs` > 1, the input is shared out over that many processes (see `plan`);
    `scratch` is where worker output waits to be joined (by default a temporary folder).
    """
    sink = Sink(out, writer)
    shares = plan(files, jobs) if jobs > 1 and can_fork() else []
    if len(shares) > 1:
        if progress is not None:
            progress.total = max(progress.total // len(shares), 1)  # this process shows its own share
        summary = run_parallel(pack, writer, shares, sink, progress, scratch)
    else:
        summary = Batch(pack, writer, progress).run((Piece(f) for f in files), out, sink)
    sink.close()
    if progress is not None:
        progress.clear()
    return summary
