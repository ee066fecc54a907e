"""Scaling out on Dask: answer tables evaluated partition by partition on Dask workers.

Every worker runs the same function as one process does (`triage.batch.columnar`),
on its own partitions, so the results are those of the single-process path,
row for row. Needs `pip install 'triage[dask]'`; programs import it from
`triage.scale`, with Spark's (`triage.batch.spark`), which needs no Dask.

    import dask.dataframe as dd
    from distributed import Client, LocalCluster
    from triage.scale import evaluate_dask, evaluate_parquet_folder

    with LocalCluster(n_workers=2) as cluster, Client(cluster):
        # A Dask DataFrame of answers in, a Dask DataFrame of results out (lazy):
        evaluate_dask(dd.read_parquet("answers/", dtype_backend="pyarrow")).to_parquet("results/")
        # Or a folder of Parquet files, one task per file (or per slice of a large file), Arrow only:
        evaluate_parquet_folder("answers/", "results/")

A rule pack given as a `RulePack` travels to the workers with the tasks; with
none, each worker loads the bundled pack.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from dask.base import compute
from dask.delayed import delayed

from triage.batch.arrowfiles import Part, evaluate_columnar, evaluate_part
from triage.batch.columnar import evaluate_table, result_schema
from triage.batch.summary import Summary
from triage.core.pack import RulePack
from triage.fs.files import FileId, OutputError, atomic_path, open_regular, output_target, refuse_reading
from triage.io.formats import format_named
from triage.io.inputs import InputFile, find_inputs
from triage.packs.loading import load_rulepack

if TYPE_CHECKING:
    import dask.dataframe as dd

TASK_ROWS = 1 << 20
"""Rows of a Parquet file evaluated by one task at most (whole row groups): a large file is shared out."""


# -- Dask: a DataFrame -----------------------------------------------------------------------------------


def evaluate_dask(
    frame: dd.DataFrame, *, rulepack: RulePack | None = None, texts: bool = False
) -> dd.DataFrame:
    """A Dask DataFrame of answer rows → a Dask DataFrame of results, a partition for each partition.

    Lazy, as Dask is: compute it, or write it (`.to_parquet(...)`). The columns are
    those of `triage.batch.columnar.result_schema`, as pandas columns backed by Arrow
    (`pandas.ArrowDtype`); the index is each partition's own. A partition is read
    as `evaluate_table` reads a pandas DataFrame: where pandas marks a missing
    value with NaN, the answer is missing (read the Parquet files with
    `dtype_backend="pyarrow"` to keep numbers and nulls apart).
    """
    meta = result_schema(texts=texts).empty_table().to_pandas(types_mapper=pd.ArrowDtype)
    # dask: map_partitions is not typed.
    results: dd.DataFrame = frame.map_partitions(  # type: ignore[no-untyped-call]
        evaluate_partition, rulepack=rulepack, texts=texts, meta=meta
    )
    return results


def evaluate_partition(
    frame: pd.DataFrame, *, rulepack: RulePack | None = None, texts: bool = False
) -> pd.DataFrame:
    """One pandas partition of answer rows → its results, with the partition's index."""
    results = evaluate_table(frame, rulepack=rulepack, texts=texts).to_pandas(types_mapper=pd.ArrowDtype)
    results.index = frame.index
    return results


# -- Dask: a folder of Parquet files ---------------------------------------------------------------------


UNREAD = "unread.parquet"
"""The result file, in the folder of results a folder that cannot be read would have had, that says so."""


@dataclass(frozen=True)
class Task:
    """One Parquet file, or `part` of one, for one worker; its results go to `target`.

    `problem`, when set, says why `source` (found by the folder walk) is not read
    at all: the task writes that error entry to `target` in its place.
    """

    source: str
    target: str
    part: Part | None = None
    problem: str | None = None


def plan(source: str | Path, target: str | Path, rows: int = TASK_ROWS) -> list[Task]:
    """The tasks for the Parquet files under `source`, found as `triage evaluate` finds answer files
    (`triage.io.inputs.find_inputs`); results go to the same place under `target`.

    A file is one task, or a large one several, in parts of whole row groups.
    Links are followed, and each folder is read once however many lead to it.
    Nothing is skipped silently: a pipe or device named `.parquet` (never opened),
    a broken link or a folder that cannot be read is a task that writes its error
    entry — in the file of that name, or, for a folder, in `unread.parquet` in the
    folder its results would have gone to. Other answer files are left out.

    Raises `OSError` when `source` is not a folder that can be looked at, and
    `OutputError` when a result file would be written over a Parquet file being
    read, over a folder, or twice.
    """
    root = str(source)
    status = os.stat(root)
    if not stat.S_ISDIR(status.st_mode):
        raise NotADirectoryError(errno.ENOTDIR, "not a folder of Parquet files", root)
    inputs = find_inputs([root])  # its only problem: a folder with no answer files, so no tasks
    tasks: list[Task] = []
    for file in inputs.files:
        named = format_named(file.path, "read")
        out = Path(target) / os.path.relpath(file.path, root)
        if file.problem is not None:
            if named is None:  # a folder, or a link that may have led to one
                tasks.append(Task(file.path, str(out / UNREAD), problem=file.problem))
            elif named == "parquet":
                tasks.append(Task(file.path, str(out), problem=file.problem))
        elif file.format == "parquet":
            tasks += _file_tasks(file.path, out, rows)
    _refuse_clashes(tasks, inputs.reads())
    return tasks


def _refuse_clashes(tasks: list[Task], reads: dict[FileId, str]) -> None:
    """Refuse a plan whose tasks would write over a file read, over a folder, or twice to one file."""
    first: dict[str, str] = {}
    for task in tasks:
        where = os.path.normpath(task.target)
        if where in first:
            raise OutputError(
                f"cannot write {task.target}: the results of {first[where]} go there too; "
                "rename one of the two answer files."
            )
        first[where] = task.source
        refuse_reading(output_target(Path(task.target)), reads)


def _file_tasks(path: str, out: Path, rows: int) -> list[Task]:
    try:
        with open_regular(path) as handle, pq.ParquetFile(handle) as parquet:
            metadata = parquet.metadata
            sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    except (pa.ArrowException, OSError, UnicodeDecodeError):
        return [Task(path, str(out))]  # one task, which reports the file as unreadable
    parts: list[Part] = []
    groups: list[int] = []
    first = count = 0
    for index, size in enumerate(sizes):
        if groups and count + size > rows:
            parts.append(Part(tuple(groups), first))
            first += count
            groups, count = [], 0
        groups.append(index)
        count += size
    if len(parts) == 0:
        return [Task(path, str(out))]
    parts.append(Part(tuple(groups), first))
    stem = out.with_suffix("")
    return [Task(path, f"{stem}.part{number:04d}.parquet", part) for number, part in enumerate(parts)]


def run_task(task: Task, rulepack: RulePack | None = None, texts: bool = False) -> Summary:
    """Evaluate one task's rows into its own Parquet file, written whole or not at all
    (`triage.fs.files.atomic_path`: an existing file stays as it was until the new one is complete, and
    keeps its permissions); what it found."""
    pack = rulepack or load_rulepack()
    Path(task.target).parent.mkdir(parents=True, exist_ok=True)
    target = output_target(Path(task.target))
    fmt = "parquet" if task.problem is None else ""
    file = InputFile(task.source, task.source, fmt, problem=task.problem)
    # One task, one core (the worker's other tasks and the other workers take the others); written to
    # the path by Arrow, not through Python's buffers (a worker's malloc trims its heap eagerly).
    with atomic_path(target) as temp:
        if task.part is None:
            summary = evaluate_columnar([file], pack, temp, "parquet", texts=texts, threads=False)
        else:
            summary = evaluate_part(file, task.part, pack, temp, texts=texts, threads=False)
    return summary


def evaluate_parquet_folder(
    source: str | Path,
    target: str | Path,
    *,
    rulepack: RulePack | None = None,
    texts: bool = False,
    rows: int = TASK_ROWS,
) -> Summary:
    """Evaluate every Parquet file under `source` on the Dask scheduler in use (a `distributed`
    client's cluster, if one is open), a task per file or per `rows` rows of whole row groups.

    Each task writes its results to the same place under `target` (a file evaluated
    in parts gives `name.part0000.parquet`, `name.part0001.parquet`, …, in order),
    with the columns and sources `triage evaluate FILE -o FILE.parquet` gives.
    Returns what was found, as `triage evaluate` sums it up.
    """
    tasks = plan(source, target, rows)
    run = delayed(run_task, pure=False)
    summaries: tuple[Summary, ...] = compute(  # type: ignore[no-untyped-call]  # dask: compute is not typed
        *(run(task, rulepack, texts) for task in tasks)
    )
    total = Summary()
    for summary in summaries:
        total.add(summary)
    return total
