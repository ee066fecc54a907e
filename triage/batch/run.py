"""Evaluating answer files into one output: in this process, or with a pool of them (`--jobs`)."""

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

    With `jobs` > 1, a pool of that many processes evaluates the input
    (`triage.batch.parallel`) when it holds enough for two of them: the same
    bytes, sooner. Parquet and Arrow files are read by `tables`
    (`triage.batch.arrowfiles.items`).
    """
    sink = Sink(out, writer)
    batch = Batch(pack, writer, progress, tables=tables)
    if jobs > 1 and hasattr(os, "fork") and any(map(parallel.cut, files)):
        summary = parallel.run_parallel(files, batch, sink, jobs)
    else:
        summary = batch.run((Piece(f) for f in files), sink)
    sink.close()
    if progress is not None:
        progress.clear()
    return summary
