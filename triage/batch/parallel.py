"""`--jobs`: a pool of processes evaluates large JSON Lines files by ranges; this one writes in order.

Workers forked from this process evaluate ranges, each with a `Batch` of its own: one process's code,
so one process's bytes, which come back through shared memory, a slot per range in flight (at most
`AHEAD` per worker beyond the one awaited). Any other file (small, not JSON Lines, a stream) this
process evaluates itself, in its place.
"""

from __future__ import annotations

import mmap
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context

from triage.batch.stream import Batch, Piece
from triage.batch.summary import Summary
from triage.core.errors import IncompleteRun
from triage.fs.files import open_regular
from triage.io.inputs import InputFile
from triage.io.writers import Sink

CHUNK_BYTES = 1 << 18  # the most input in a range (but for a longer line); a file of 4 or more is cut
SLOT_BYTES = 32 << 20  # for a range's entries (in any format, unless its lines are very short)
AHEAD = 2
_STOPPING = {signal.SIGINT, signal.SIGTERM}
_batch: Batch | None = None  # a worker's own, as is its view of the slots
_slots = memoryview(b"")
Done = tuple[int, bytes, Summary]  # a range's entries (their length in its slot, and any more), and counts


def cut(file: InputFile) -> bool:
    """Whether a file is cut into ranges and shared out."""
    return file.format == "jsonl" and file.size > 4 * CHUNK_BYTES and not file.stream and not file.problem


def ranges(file: InputFile, size: int) -> Iterator[tuple[Piece, int]]:
    """A JSON Lines file's pieces of up to `size` bytes (or one longer line), each ending at a line end,
    with the number of its first line (counted here). What cannot be read goes as one piece: reading
    it says what is wrong."""
    start, line, length = 0, 1, 0
    try:
        with open_regular(file.path) as stream:
            fd, length = stream.fileno(), os.fstat(stream.fileno()).st_size
            while start < length and (block := os.pread(fd, size, start)):
                end = len(block) if start + len(block) >= length else block.rfind(b"\n") + 1
                lines = block.count(b"\n", 0, end)
                if not end:  # a line longer than `size`: the piece is that line
                    end, lines = len(block), 1
                    while (more := os.pread(fd, size, start + end)) and b"\n" not in more:
                        end += len(more)
                    end += more.find(b"\n") + 1
                yield Piece(file, start, start + end if start + end < length else None), line
                start, line = start + end, line + lines
    except OSError:
        pass
    if start == 0 or start < length:  # empty, cut short, or not read to the end
        yield Piece(file, start), line


def run_parallel(files: Sequence[InputFile], here: Batch, sink: Sink, jobs: int) -> Summary:
    """Evaluate `files` into `sink` with `jobs` processes and `here` (see the module's description)."""
    here.begin(sink)
    counts = Summary()
    waiting: deque[tuple[Future[Done], Piece, int]] = deque()
    had = 0  # entries so far from the file cut apart that is being written

    def write_next() -> None:
        nonlocal had
        future, piece, slot = waiting.popleft()
        try:
            length, more, summary = future.result()
        except Exception as exc:  # a worker's own, or one that stops the pool
            raise _incomplete(exc) from None
        sink.write((slots[slot : slot + length],))
        sink.write((more,))
        counts.add(summary)
        had = (had if piece.start else 0) + summary.records + summary.unreadable_files
        if piece.start and piece.end is None and not had:  # no range of the file had an entry
            sink.write((here.nothing_in(piece),))
        here.done_bytes += (piece.end or piece.file.size) - piece.start
        if here.progress is not None:
            here.progress.update(here.done_bytes, counts.records + here.summary.records)

    in_flight = AHEAD * jobs + 1
    slots = memoryview(mmap.mmap(-1, in_flight * SLOT_BYTES))  # shared with the processes forked
    worker = Batch(here.pack, here.writer, tables=here.tables)
    pool = ProcessPoolExecutor(jobs, get_context("fork"), initializer=_start, initargs=(worker, slots))
    try:
        planned = (ranges(f, CHUNK_BYTES) if cut(f) else [(Piece(f), None)] for f in files)
        for number, (piece, line) in enumerate(each for pieces in planned for each in pieces):
            while waiting and (line is None or len(waiting) == in_flight):
                write_next()
            if line is None:
                here.take(piece)
                continue
            slot = number % in_flight * SLOT_BYTES  # free: the range it last held is written
            # Ctrl-C and SIGTERM wait until a worker forked here has its own handlers (ours would unwind it).
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPPING)
            try:
                waiting.append((pool.submit(_evaluate, piece, line, slot), piece, slot))
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        while waiting:
            write_next()
    except BrokenProcessPool as exc:  # before a range could be submitted
        raise _incomplete(exc) from None
    finally:
        pool.shutdown(cancel_futures=True)  # a range being evaluated still ends
    counts.add(here.finish())
    return counts


def _incomplete(exc: Exception) -> IncompleteRun:
    how = "stopped" if isinstance(exc, BrokenProcessPool) else f"failed ({type(exc).__name__}: {exc})"
    return IncompleteRun(
        f"a worker process {how} before its share of the records was done, so the output is incomplete "
        "(a file named by -o is left as it was). Run again, or with --jobs 1."
    )


def _start(batch: Batch, slots: memoryview) -> None:
    """A worker's start: Ctrl-C is for the parent, which stops the pool; the parent gone, it stops."""
    global _batch, _slots
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPPING)
    threading.Thread(target=_orphaned, args=(os.getppid(),), daemon=True).start()
    _batch, _slots = batch, slots


def _orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(1)


class _Slot(list[bytes]):
    """A worker's entries: into its slot as they come (each block joined in the processor's cache)
    while they fit; any more held."""

    def __init__(self, view: memoryview) -> None:
        super().__init__()
        self.view, self.end = view, 0

    def write(self, parts: list[bytes]) -> None:
        data = b"".join(parts)
        if self or self.end + len(data) > len(self.view):
            self.append(data)
        else:
            self.view[self.end : self.end + len(data)] = data
            self.end += len(data)


def _evaluate(piece: Piece, line: int, slot: int) -> Done:
    assert _batch is not None
    out = _Slot(_slots[slot : slot + SLOT_BYTES])
    _batch.begin(out)
    _batch.take(piece, line)
    return out.end, b"".join(out), _batch.finish()
