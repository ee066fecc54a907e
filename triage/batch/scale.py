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

import os
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
from triage.io.formats import format_named
from triage.io.inputs import InputFile
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


@dataclass(frozen=True)
class Task:
    """One Parquet file, or `part` of one, for one worker; its results go to `target`."""

    source: str
    target: str
    part: Part | None = None


def plan(source: str | Path, target: str | Path, rows: int = TASK_ROWS) -> list[Task]:
    """The tasks for the Parquet files under `source` (sorted, as `triage evaluate` finds them): a file in
    one task, or a large one in parts of whole row groups; results go to the same place under `target`."""
    tasks: list[Task] = []
    root = str(source)
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for file in sorted(files):
            if file.startswith(".") or format_named(file, "read") != "parquet":
                continue
            path = os.path.join(folder, file)
            tasks += _file_tasks(path, Path(target) / os.path.relpath(path, root), rows)
    return tasks


def _file_tasks(path: str, out: Path, rows: int) -> list[Task]:
    try:
        with pq.ParquetFile(path) as parquet:
            metadata = parquet.metadata
            sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    except (pa.ArrowException, OSError):
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
    """Evaluate one task's rows into its own Parquet file (complete, or not there); what it found."""
    pack = rulepack or load_rulepack()
    target = Path(task.target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.part")
    file = InputFile(task.source, task.source, "parquet")
    try:
        # One task, one core (the worker's other tasks and the other workers take the others); written to
        # the path by Arrow, not through Python's buffers (a worker's malloc trims its heap eagerly).
        if task.part is None:
            summary = evaluate_columnar([file], pack, str(temp), "parquet", texts=texts, threads=False)
        else:
            summary = evaluate_part(file, task.part, pack, str(temp), texts=texts, threads=False)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
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
