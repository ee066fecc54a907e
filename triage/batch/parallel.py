"""Batch evaluation over several processes taking turns: input order kept, the output written once.

The input is cut into turns of about `TURN_BYTES` (`plan`): a large JSON Lines
file, or CSV file without quotes, is cut at line ends; small files go together.
This process and N - 1 forked from it (they share the loaded rule pack) take
the turns in order, each the next one free as soon as it is done with one
(`_Claims`), so a faster process takes more of them. A process evaluates a turn
into memory and writes it, straight to the output that all of them share, once
the turn before it is written: the turns are written in input order, each
once, and nothing is copied from one process to another or joined at the end.

The processes tell each other, in shared memory (`_Board`), where each turn's
lines end (the next turn of the same file numbers its lines from there; told
before the turn is evaluated) and when it is written. A process that waits
looks at the board every fraction of a millisecond, and checks meanwhile that
the others are still there: a worker whose parent is gone stops, and the parent
stops the run, with a clear error, when a worker fails or dies.
"""

from __future__ import annotations

import contextlib
import io
import mmap
import os
import select
import signal
import struct
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from typing import NoReturn

import orjson

from triage.batch.stream import Batch, Piece, TableReader
from triage.batch.summary import Progress, Summary
from triage.core.errors import IncompleteRun
from triage.core.pack import RulePack
from triage.fs.files import open_regular
from triage.io.inputs import InputFile
from triage.io.readers import MAX_RECORD_BYTES, Unreadable, bounded_lines, read_csv_header
from triage.io.writers import Sink, Writer

TURN_BYTES = 1 << 20
"""About how much input makes a turn: a piece of a large file, or small files together."""
READ_AHEAD = 1 << 23
"""A piece up to this size is read whole (counting its lines) before it is evaluated. A larger one
(it holds a very long line) has its lines counted first, and is then read as it is evaluated."""

MOST_TURNS = (1 << 16) // 4
"""As many turns as a pipe holds by default (4 bytes each), so that it can be filled before the fork."""

Turn = tuple[Piece, ...]
_STOPPING = {signal.SIGINT, signal.SIGTERM}


def plan(files: Sequence[InputFile], size: int | None = None) -> list[Turn]:
    """The turns, in input order, of about `size` bytes (`TURN_BYTES`): each piece of a large file
    alone, small files together."""
    # Very large inputs take larger turns, to stay within `MOST_TURNS` (there are fewer than three turns
    # for every `size` bytes: a turn smaller than `size` is followed by a larger one, or a file's end).
    size = max(size or TURN_BYTES, sum(f.size for f in files) // (MOST_TURNS // 4) + 1)
    turns: list[Turn] = []
    group: list[Piece] = []
    grouped = 0
    for file in files:
        pieces = cut(file, size) if file.size > size else [Piece(file)]
        if group and (len(pieces) > 1 or grouped + file.size > size):
            turns.append(tuple(group))
            group, grouped = [], 0
        if len(pieces) > 1:
            turns.extend((piece,) for piece in pieces)
        else:
            group.append(pieces[0])
            grouped += file.size
    if group:
        turns.append(tuple(group))
    return turns


def cut(file: InputFile, size: int) -> list[Piece]:
    """Cut a JSON Lines file, or a CSV file without quotes, at the first line end after every `size`
    bytes; in such a file every line end is a record's end. Any other file is one piece.

    A CSV file with a quote stays whole: a line end inside a quoted cell cannot be
    told from a row end without reading every row from the start (and a stray quote
    in an unquoted cell throws counting off).
    """
    whole = [Piece(file)]
    if file.stream or file.problem is not None or file.format not in ("jsonl", "csv"):
        return whole
    try:
        with (
            open_regular(file.path) as stream,
            mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as view,
        ):
            header = None
            begin = 0
            if file.format == "csv":
                if view.find(b'"') >= 0:
                    return whole
                read = read_csv_header(bounded_lines(stream), file.name)
                if isinstance(read, Unreadable):
                    return whole
                header, begin = read, stream.tell()
            starts = [0]
            while (target := max(starts[-1] + size, begin)) < len(view):
                newline = view.find(b"\n", target - 1)
                if newline < 0 or newline + 1 >= len(view):
                    break
                starts.append(newline + 1)
    except (OSError, ValueError):  # gone, or empty (nothing to map) since it was listed
        return whole
    ends: list[int | None] = [*starts[1:], None]
    return [
        Piece(file, start, end, header if start else None) for start, end in zip(starts, ends, strict=True)
    ]


# -- what the processes share --------------------------------------------------------------------------


class _Broken(Exception):
    """Another process stopped: the run cannot be completed."""


class _Board:
    """What the processes tell each other about each turn, in memory they share (a zero is "not yet").

    Per turn: the line number the next turn starts from (when it goes on with the same
    file), told as soon as the turn's lines are read; and that the turn is written, with
    the separator still owed before the first entry of the whole output and whether its
    file has given entries so far. Each is one aligned 8-byte number, so it is never seen
    half written.
    """

    def __init__(self, turns: int) -> None:
        self._memory = mmap.mmap(-1, 16 * max(turns, 1))  # shared with the processes forked later
        self._cells = memoryview(self._memory).cast("q")

    def tell_line(self, turn: int, line: int) -> None:
        self._cells[2 * turn] = line + 1

    def line(self, turn: int) -> int | None:
        told: int = self._cells[2 * turn]
        return told - 1 if told else None

    def tell_written(self, turn: int, pending_sep: int, had_entries: bool) -> None:
        assert 0 <= pending_sep < 4  # two bits: no separator is longer than 3 bytes
        self._cells[2 * turn + 1] = 1 | pending_sep << 1 | had_entries << 3

    def written(self, turn: int) -> tuple[int, bool] | None:
        """If `turn` is written: the separator still owed after it, and whether its file has given entries."""
        if turn < 0:
            return None
        told: int = self._cells[2 * turn + 1]
        return ((told >> 1) & 3, bool(told >> 3)) if told else None


class _Claims:
    """The turns not yet taken, in order: a pipe holding their numbers, filled before the fork.

    Reading a number takes that turn; a pipe read is one at a time, so no two
    processes take the same turn, and the turns are taken in order.
    """

    _NUMBER = struct.Struct("=I")

    def __init__(self, turns: int, opened: list[int]) -> None:
        """Fill the pipe (its ends go to `opened`); raise `_Unshared` when it cannot hold them all."""
        self.read_end, write_end = os.pipe()
        opened += (self.read_end, write_end)
        numbers = b"".join(self._NUMBER.pack(n) for n in range(turns))
        os.set_blocking(write_end, False)  # a pipe made small (the user has many) must not block us
        try:
            written = os.write(write_end, numbers)
        except BlockingIOError:
            written = 0
        if written < len(numbers):
            raise _Unshared
        os.close(write_end)
        opened.remove(write_end)

    def take(self) -> int | None:
        data = os.read(self.read_end, self._NUMBER.size)
        return self._NUMBER.unpack(data)[0] if data else None


class _Unshared(Exception):
    """The turns cannot be handed out here: the run goes on in one process."""


_PAUSE = 0.0002
"""Seconds between two looks at the board while waiting."""


class _Turns:
    """One process taking turns: evaluate each into memory, write it once the turn before is written.

    A turn is held as the parts its entries are joined from (most of them shared),
    and joined only when written: its bytes are fresh in the processor's cache, and
    the memory for them is used again for the next block. While a turn is
    evaluated, whether the turn before it is written is looked at with every block
    of entries, so that most of it goes straight out. A process takes its next turn
    as soon as it is done with one, so a faster one takes more of them; it holds at
    most `HELD` turns evaluated but not written.
    """

    HELD = 3

    def __init__(
        self, batch: Batch, turns: Sequence[Turn], board: _Board, out: Sink, alive: Callable[[], None]
    ) -> None:
        self.batch = batch
        self.turns = turns
        self.board = board
        self.out = out
        self.alive = alive
        self.first_sep = out.pending_sep
        self.held: deque[tuple[int, list[list[bytes]], int]] = deque()  # turn, parts, entries
        self.turn = -1
        self.parts: list[list[bytes]] = []
        self.direct = False

    def run(self, claims: _Claims) -> Summary:
        batch = self.batch
        batch.begin(self)
        while (number := claims.take()) is not None:
            self._evaluate(number)
            self._write_ready()
            while len(self.held) >= self.HELD:
                self._wait(lambda: self._written_before(self.held[0][0]))
                self._write_ready()
            if batch.progress is not None:
                batch.progress.update(batch.done_bytes, batch.summary.records)
        while self.held:
            self._wait(lambda: self._written_before(self.held[0][0]))
            self._write_ready()
        return batch.finish()

    def _evaluate(self, number: int) -> None:
        turn = self.turns[number]
        piece = turn[-1]
        first_line: int | None = 1
        if turn[0].start:  # it goes on with the file the turn before ends in: wait to hear where
            while (first_line := self.board.line(number - 1)) is None:
                self.alive()
        assert first_line is not None
        lines: list[bytes] | None = None
        if piece.end is not None:  # the next turn goes on with this file: tell it where its lines start
            lines, next_line = _read_ahead(piece, first_line)
            self.board.tell_line(number, next_line)
        self.turn, self.parts, self.direct = number, [], False
        for each in turn:  # only the last piece's entries count below: a file cut apart is a turn alone
            entries = self.batch.take(each, first_line if each.start else 1, lines if each is piece else None)
        if self.direct:
            self._written(number, entries)
        else:
            self.held.append((number, self.parts, entries))
        self.turn, self.parts = -1, []

    def write(self, parts: list[bytes]) -> None:
        """The entries of the turn being evaluated (`Batch` writes here)."""
        if not self.direct:
            self._write_ready()
            if not self.held and self._written_before(self.turn):
                self.direct = True
                for earlier in self.parts:
                    self.out.write(earlier)
                self.parts = []
        if self.direct:
            self.out.write(parts)
        else:
            self.parts.append(parts)

    def _write_ready(self) -> None:
        """Write the held turns whose turn before is written, oldest first."""
        while self.held and self._written_before(self.held[0][0]):
            number, parts, entries = self.held.popleft()
            for each in parts:
                self.out.write(each)
            self._written(number, entries)

    def _written_before(self, number: int) -> bool:
        """Whether the turn before `number` is written; if so, the output goes on from where it ended."""
        if number == 0:
            self.out.pending_sep = self.first_sep
            return True
        told = self.board.written(number - 1)
        if told is None:
            return False
        self.out.pending_sep = told[0]
        return True

    def _written(self, number: int, entries: int) -> None:
        """Turn `number` is written (its own entries): end its file's entries, and say so."""
        piece = self.turns[number][-1]
        had = self.board.written(number - 1)
        entries += bool(piece.start and had and had[1])
        if piece.start and piece.end is None and not entries:  # a file cut apart, and no piece had entries
            self.out.write([self.batch.nothing_in(piece)])
        self.board.tell_written(number, self.out.pending_sep, entries > 0)

    def _wait(self, done: Callable[[], bool]) -> None:
        while not done():
            self.alive()


def _lines(data: bytes) -> list[bytes]:
    """The lines of `data`, as `bounded_lines` gives them; cut apart in C unless one is too long."""
    lines = io.BytesIO(data).readlines()
    if len(data) > MAX_RECORD_BYTES and max(map(len, lines)) > MAX_RECORD_BYTES:
        return list(bounded_lines(io.BytesIO(data)))
    return lines


def _read_ahead(piece: Piece, first_line: int) -> tuple[list[bytes] | None, int]:
    """A piece's lines, read whole when it is not too large, and the line number after them."""
    try:
        with open_regular(piece.file.path) as stream:
            assert piece.end is not None
            length = piece.end - piece.start
            if length <= READ_AHEAD:
                lines = _lines(os.pread(stream.fileno(), length, piece.start))
                return lines, first_line + len(lines)
            stream.seek(piece.start)
            count = 0
            while length > 0 and (block := stream.read(min(length, 1 << 22))):
                count += block.count(b"\n")
                length -= len(block)
            return None, first_line + count
    except OSError:
        return None, first_line  # reading it again tells what went wrong, in its place in the output


# -- the processes ------------------------------------------------------------------------------------


def run_parallel(
    pack: RulePack,
    writer: Writer,
    turns: Sequence[Turn],
    sink: Sink,
    jobs: int,
    progress: Progress | None = None,
    tables: TableReader | None = None,
) -> Summary | None:
    """Take the turns with `jobs` processes, this one among them; entries go to `sink`'s file
    descriptor. None, having written nothing, when they cannot be shared out here. `tables` reads
    Parquet and Arrow files (see `Batch`)."""
    jobs = max(1, min(jobs, len(turns)))
    sink.stream.flush()
    # Every process writes with the same file descriptor (so at the same offset), unbuffered.
    with open(sink.stream.fileno(), "wb", buffering=0, closefd=False) as raw:
        out = Sink(raw, writer, start=False)
        out.pending_sep = sink.pending_sep
        try:
            return _run(pack, writer, turns, out, jobs, progress, tables)
        except _Unshared:
            return None


def _run(
    pack: RulePack,
    writer: Writer,
    turns: Sequence[Turn],
    out: Sink,
    jobs: int,
    progress: Progress | None,
    tables: TableReader | None,
) -> Summary:
    board = _Board(len(turns))
    pipes: list[int] = []  # closed at the end, whatever happens
    workers: dict[int, int] = {}  # pid: the end its report is read from; a pid leaves once reaped
    try:
        claims = _Claims(len(turns), pipes)
        life, alive_end = (
            os.pipe()
        )  # only this process holds `alive_end`: workers see `life` close if it dies
        pipes += (life, alive_end)
        reports = []  # from each worker: its summary, or what stopped it
        for _ in range(jobs - 1):
            reports.append(os.pipe())
            pipes += reports[-1]
        if progress is not None:
            progress.total = max(progress.total // jobs, 1)  # about this process's share
        for index in range(1, jobs):
            # No Ctrl-C or SIGTERM between the fork and the worker setting its own handlers (the
            # parent's would unwind it into the caller's code), nor before the parent knows its pid.
            mask = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPPING)
            try:
                pid = os.fork()
                if pid == 0:
                    ends = (life, reports[index - 1][1])
                    _work(pack, writer, turns, board, claims, ends, out, pipes, mask, tables)
                workers[pid] = reports[index - 1][0]
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        kept = (claims.read_end, alive_end, *workers.values())
        _close(fd for fd in pipes if fd not in kept)
        pipes = list(kept)
        watch = _Watch(workers)
        try:
            batch = Batch(pack, writer, progress, tables=tables)
            summary = _Turns(batch, turns, board, out, watch.look).run(claims)
            for report in watch.finish():
                summary.add(report)
        except _Failed as failed:
            _fail(failed.report, failed.status)
        return summary
    finally:
        _close(pipes)
        for pid in workers:  # stopped early (Ctrl-C, a failure): the workers still running stop too
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)


class _Failed(Exception):
    """A worker stopped without doing its share: its report (empty if it was killed) and exit status."""

    def __init__(self, report: dict[str, object], status: int) -> None:
        super().__init__(report)
        self.report = report
        self.status = status


class _Watch:
    """This process's eye on the workers: their reports are read as they come, and a failure raised."""

    def __init__(self, workers: dict[int, int]) -> None:
        self.workers = workers  # shared with `_run`: a worker leaves it once reaped
        self.reports: list[Summary] = []
        self._pids = {fd: pid for pid, fd in workers.items()}
        self._ready = select.poll()
        for fd in self._pids:
            self._ready.register(fd, select.POLLIN)

    def look(self) -> None:
        """Between two looks at the board: read what workers have reported, then pause."""
        self._read(0)
        time.sleep(_PAUSE)

    def finish(self) -> list[Summary]:
        """Every worker's summary, once each has reported."""
        while self._pids:
            self._read(None)
        return self.reports

    def _read(self, timeout: int | None) -> None:
        for fd, _ in self._ready.poll(timeout):
            self._ready.unregister(fd)
            pid = self._pids.pop(fd)
            report = _read_report(fd)
            _, status = os.waitpid(pid, 0)
            del self.workers[pid]
            if not isinstance(report, Summary):
                raise _Failed(report, status)
            self.reports.append(report)


def _work(
    pack: RulePack,
    writer: Writer,
    turns: Sequence[Turn],
    board: _Board,
    claims: _Claims,
    ends: tuple[int, int],
    out: Sink,
    pipes: list[int],
    mask: set[int | signal.Signals],
    tables: TableReader | None,
) -> NoReturn:
    """A worker process: take turns, report, and exit (never returning into the caller's code).

    `ends`: of the pipe closed when the parent is gone, and of the one for its report.
    """
    code = 1
    message = b"{}"
    life, report = ends
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which stops the workers
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        _close(fd for fd in pipes if fd not in (claims.read_end, *ends))

        parent = select.poll()
        parent.register(life, select.POLLIN)

        def parent_alive() -> None:
            if parent.poll(0):  # closed: the parent is gone
                raise _Broken
            time.sleep(_PAUSE)

        summary = _Turns(Batch(pack, writer, tables=tables), turns, board, out, parent_alive).run(claims)
        message = orjson.dumps(vars(summary))
        code = 0
    except _Broken:
        message = orjson.dumps({"stopped": True})
    except OSError as exc:
        message = orjson.dumps({"error": exc.strerror or str(exc), "errno": exc.errno})
    except BaseException as exc:  # told to the parent: a worker never unwinds into the caller's code
        message = orjson.dumps({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        with contextlib.suppress(BaseException):
            os.write(report, message)
        os._exit(code)


def _read_report(fd: int) -> Summary | dict[str, object]:
    """A worker's report: its summary, or what stopped it (nothing: it was killed)."""
    data = b""
    while more := os.read(fd, 1 << 16):
        data += more
    try:
        report = orjson.loads(data) if data else {}
    except orjson.JSONDecodeError:
        report = {}
    if not isinstance(report, dict):
        return {}
    if "records" not in report:
        return report
    urgency: Counter[str] = Counter(report.pop("urgency"))
    prognosis: Counter[str] = Counter(report.pop("prognosis"))
    return Summary(**report, urgency=urgency, prognosis=prognosis)


def _fail(report: dict[str, object], status: int) -> NoReturn:
    """Raise what stopped a worker: an output error, an error of its own, or a signal."""
    number = report.get("errno")
    if isinstance(number, int):  # writing the output failed (EPIPE: its reader went away)
        raise OSError(number, str(report["error"]))
    if "error" in report:
        raise IncompleteRun(f"a worker process failed ({report['error']}); run again with --jobs 1.")
    how = f" (signal {os.WTERMSIG(status)})" if os.WIFSIGNALED(status) else ""
    raise IncompleteRun(
        f"a worker process stopped{how} before its share of the records was done, so the output is "
        "incomplete (a file named by -o is left as it was). Run again, or with --jobs 1."
    )


def _close(fds: Iterable[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
