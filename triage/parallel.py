"""Batch evaluation over several processes taking turns: input order kept, the output written once.

The input is cut into turns of about `TURN_BYTES` (`plan`): a large JSON Lines
file, or CSV file without quotes, is cut at line ends; small files go together.
Of N processes (this one, and N - 1 forked from it that share the loaded rule
pack), process k takes turns k, k + N, k + 2N… in order. It holds a turn's
entries until the process before it in the ring has written the turn before,
then writes them, and the rest of the turn as it goes, straight to the output,
which all the processes share. Nothing is copied from one process to another,
nor joined at the end, and memory stays at about a turn per process.

Two messages of 16 bytes go round the ring, through pipes, for every turn but
the last:

1. the line number the next turn starts from (when it goes on with the same
   file), sent as soon as the turn's lines are read, before they are evaluated;
2. that the turn is written, with how much of the separator is still owed
   before the first entry of the whole output, and how many records its file
   has had so far (a file cut apart with no records at all is an error).

A process that stops breaks the ring: the one after it finds its pipe closed and
stops too, so this process learns of it rather than waiting forever.
"""

from __future__ import annotations

import contextlib
import io
import mmap
import os
import select
import signal
import struct
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import NoReturn

import orjson

from triage.batch import Batch, Piece, Progress, Summary
from triage.errors import TriageError
from triage.readers import MAX_RECORD_BYTES, STDIN, InputFile, Unreadable, bounded_lines, read_csv_header
from triage.rulepack import RulePack
from triage.writers import Sink, Writer

TURN_BYTES = 1 << 20
"""About how much input makes a turn: a piece of a large file, or small files together."""
READ_AHEAD = 1 << 23
"""A piece up to this size is read whole (counting its lines) before it is evaluated. A larger one
(it holds a very long line) has its lines counted first, and is then read as it is evaluated."""

Turn = tuple[Piece, ...]
_STOPPING = {signal.SIGINT, signal.SIGTERM}
_MESSAGE = struct.Struct("<qq")


def plan(files: Sequence[InputFile], size: int | None = None) -> list[Turn]:
    """The turns, in input order, of about `size` bytes (`TURN_BYTES`): each piece of a large file
    alone, small files together."""
    size = size or TURN_BYTES
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
    if file.path == STDIN or file.format not in ("jsonl", "csv"):
        return whole
    try:
        with open(file.path, "rb") as stream, mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as view:
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


# -- the ring -----------------------------------------------------------------------------------------


class _Broken(Exception):
    """The ring is broken: the process before or after this one stopped."""


class _Link:
    """One process's place in the ring: a pipe from the process before it, one to the process after it."""

    def __init__(self, before: int, after: int) -> None:
        self.before = before
        self.after = after

    def receive(self) -> tuple[int, int]:
        data = b""
        while len(data) < _MESSAGE.size:
            more = os.read(self.before, _MESSAGE.size - len(data))
            if not more:
                raise _Broken
            data += more
        first, second = _MESSAGE.unpack(data)
        return first, second

    def send(self, first: int, second: int = 0) -> None:
        try:
            os.write(self.after, _MESSAGE.pack(first, second))  # 16 bytes: written whole, or not at all
        except BrokenPipeError:
            raise _Broken from None


class _Output:
    """Where a turn's entries go: held until the process before says it has written, then straight out.

    Whether it has said so is looked at (without waiting) with every block of
    entries, so that much of a turn is written as it is evaluated. Entries are held
    as the parts they are joined from (most of them shared), and joined only when
    written: a block is written while its bytes are fresh in the processor's cache,
    and the memory for it is used again for the next one.
    """

    def __init__(self, link: _Link, out: Sink) -> None:
        self.link = link
        self.out = out
        self.held: list[list[bytes]] = []
        self.mine = True
        self.records_before = 0
        """How many records the turns before held of the file this turn goes on with."""
        self._ready = select.poll()
        self._ready.register(link.before, select.POLLIN)

    def wait(self) -> None:
        """The next turn must wait until the process before has written."""
        self.mine = False
        self.records_before = 0

    def write(self, parts: list[bytes]) -> None:
        if not self.mine and self._ready.poll(0):
            self.take()
        if self.mine:
            self.out.write(parts)
        else:
            self.held.append(parts)

    def take(self) -> None:
        """It is this process's turn to write (waiting until it is): write what is held."""
        if not self.mine:
            self.out.pending_sep, self.records_before = self.link.receive()
            self.mine = True
        for parts in self.held:
            self.out.write(parts)
        self.held.clear()


def _lines(data: bytes) -> list[bytes]:
    """The lines of `data`, as `bounded_lines` gives them; cut apart in C unless one is too long."""
    lines = io.BytesIO(data).readlines()
    if len(data) > MAX_RECORD_BYTES and max(map(len, lines)) > MAX_RECORD_BYTES:
        return list(bounded_lines(io.BytesIO(data)))
    return lines


def _read_ahead(piece: Piece, first_line: int) -> tuple[list[bytes] | None, int]:
    """A piece's lines, read whole when it is not too large, and the line number after them."""
    try:
        with open(piece.file.path, "rb") as stream:
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


def _take_turns(
    batch: Batch, turns: Sequence[Turn], index: int, jobs: int, link: _Link, out: Sink
) -> Summary:
    """Take turns `index`, `index + jobs`…: read, tell the line number, evaluate and write, tell."""
    output = _Output(link, out)
    batch.begin(output)
    last = len(turns) - 1
    for number in range(index, len(turns), jobs):
        turn = turns[number]
        first_line = 1
        if number:
            told, _ = link.receive()
            if turn[0].start:  # it goes on with the file the turn before ended in
                first_line = told
            output.wait()
        lines: list[bytes] | None = None
        next_line = 0
        if turn[-1].end is not None:  # a piece of a file that the next turn goes on with
            lines, next_line = _read_ahead(turn[-1], first_line)
        if number < last:
            link.send(next_line)
        for piece in turn:
            batch.take(piece, first_line if piece.start else None, lines if piece is turn[-1] else None)
        output.take()
        piece = turn[-1]
        records = (output.records_before if piece.start else 0) + batch.piece_records
        if piece.start and piece.end is None and not records:  # a file cut apart, and no piece had records
            batch.nothing_in(piece)
        if number < last:
            link.send(out.pending_sep, records)
        if batch.progress is not None:
            batch.progress.update(batch.done_bytes, batch.summary.records)
    return batch.finish()


# -- the processes ------------------------------------------------------------------------------------


def run_parallel(
    pack: RulePack,
    writer: Writer,
    turns: Sequence[Turn],
    sink: Sink,
    jobs: int,
    progress: Progress | None = None,
) -> Summary:
    """Take the turns with `jobs` processes, this one first; entries go to `sink`'s file descriptor."""
    jobs = max(1, min(jobs, len(turns)))
    sink.stream.flush()
    # Every process writes with the same file descriptor (so at the same offset), unbuffered.
    with open(sink.stream.fileno(), "wb", buffering=0, closefd=False) as raw:
        out = Sink(raw, writer, start=False)
        out.pending_sep = sink.pending_sep
        return _run(pack, writer, turns, out, jobs, progress)


def _run(
    pack: RulePack, writer: Writer, turns: Sequence[Turn], out: Sink, jobs: int, progress: Progress | None
) -> Summary:
    ring = [os.pipe() for _ in range(jobs)]  # ring[k]: from process k to process k + 1 (mod jobs)
    reports = [os.pipe() for _ in range(jobs - 1)]  # from each worker: its summary, or what stopped it
    pipes = [fd for pair in ring + reports for fd in pair]
    workers: dict[int, int] = {}  # pid: the end its report is read from
    if progress is not None:
        progress.total = max(progress.total // jobs, 1)  # this process shows its own share
    try:
        for index in range(1, jobs):
            # No Ctrl-C or SIGTERM between the fork and the worker setting its own handlers (the
            # parent's would unwind it into the caller's code), nor before the parent knows its pid.
            mask = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPPING)
            try:
                pid = os.fork()
                if pid == 0:
                    ends = (ring[index - 1][0], ring[index][1], reports[index - 1][1])
                    _work(pack, writer, turns, index, jobs, ends, out, pipes, mask)
                workers[pid] = reports[index - 1][0]
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        link = _Link(ring[-1][0], ring[0][1])
        _close(fd for fd in pipes if fd not in (link.before, link.after, *workers.values()))
        pipes = [link.before, link.after, *workers.values()]
        summary: Summary | None
        try:
            summary = _take_turns(Batch(pack, writer, progress), turns, 0, jobs, link, out)
        except _Broken:
            summary = None
        _close((link.before, link.after))  # a worker still waiting for this process stops
        failures: list[tuple[dict[str, object], int]] = []
        for pid, fd in list(workers.items()):
            report = _read_report(fd)
            _, status = os.waitpid(pid, 0)
            del workers[pid]
            if not isinstance(report, Summary):
                failures.append((report, status))
            elif summary is not None:
                summary.add(report)
        if summary is None or failures:
            _fail(failures)
        return summary
    finally:
        _close(pipes)
        for pid in workers:  # stopped early (Ctrl-C, or the output failed): the workers stop too
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)


def _work(
    pack: RulePack,
    writer: Writer,
    turns: Sequence[Turn],
    index: int,
    jobs: int,
    ends: tuple[int, int, int],
    out: Sink,
    pipes: list[int],
    mask: set[int | signal.Signals],
) -> NoReturn:
    """A worker process: take its turns, report, and exit (never returning into the caller's code).

    `ends`: of the pipes from the process before, to the process after, and for the report.
    """
    code = 1
    message = b"{}"
    before, after, report = ends
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which stops the workers
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        _close(fd for fd in pipes if fd not in ends)
        summary = _take_turns(Batch(pack, writer), turns, index, jobs, _Link(before, after), out)
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


def _fail(failures: list[tuple[dict[str, object], int]]) -> NoReturn:
    """Raise what stopped the run: an output error first, then a worker's error, then a worker killed."""
    for report, _ in failures:
        number = report.get("errno")
        if isinstance(number, int):  # writing the output failed (EPIPE: its reader went away)
            raise OSError(number, str(report["error"]))
    for report, _ in failures:
        if "error" in report:
            raise TriageError(f"a worker process failed ({report['error']}); run again with --jobs 1.")
    killed = [status for report, status in failures if not report.get("stopped")]
    how = f" (signal {os.WTERMSIG(killed[0])})" if killed and os.WIFSIGNALED(killed[0]) else ""
    raise TriageError(
        f"a worker process stopped{how} before its share of the records was done, so the output is "
        "incomplete (a file named by -o is left as it was). Run again, or with --jobs 1."
    )


def _close(fds: Iterable[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
