"""Evaluating answer files into one output: one process, or several taking turns (`--jobs`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import BinaryIO

from triage.batch import parallel
from triage.batch.stream import Batch, Piece, TableReader
from triage.batch.summary import Progress, Summary
from triage.core.pack import RulePack
from triage.io.inputs import InputFile
from triage.io.writers import Sink, Writer


def evaluate_files(
    files: Sequence[InputFile],
    pack: RulePack,
    writer: Writer,
    out: BinaryIO,
    *,
    jobs: int = 1,
    progress: Progress | None = None,
    tables: TableReader | None = None,
) -> Summary:
    """Evaluate every record of `files` into `out`, in order; return what was found.

    With `jobs` > 1, the input is shared out over that many processes taking
    turns (`triage.batch.parallel`), when it is large enough to be shared and `out`
    is a file, pipe or terminal that they can all write to. Parquet and Arrow
    files are read by `tables` (`triage.batch.arrowfiles.items`).
    """
    sink = Sink(out, writer)
    summary: Summary | None = None
    if jobs > 1 and _descriptor(out) is not None and hasattr(os, "fork"):
        turns = parallel.plan(files)
        if 1 < len(turns) <= parallel.MOST_TURNS:
            # None: not shared out after all
            summary = parallel.run_parallel(pack, writer, turns, sink, jobs, progress, tables)
    if summary is None:
        summary = Batch(pack, writer, progress, tables=tables).run((Piece(f) for f in files), sink)
    sink.close()
    if progress is not None:
        progress.clear()
    return summary


def _descriptor(stream: BinaryIO) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None
