"""Scaling out: the same results on a Dask cluster of two worker processes (and on Spark) as in one process."""

from __future__ import annotations

import os
import random
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pd = pytest.importorskip("pandas")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import triage  # noqa: E402
import triage.batch.scale  # noqa: E402
from triage import scale  # noqa: E402
from triage.batch.arrowfiles import evaluate_columnar  # noqa: E402
from triage.fs.files import OutputError  # noqa: E402
from triage.io.inputs import find_inputs  # noqa: E402

PACK = triage.load_rulepack()
CAUSES = [
    "peripheral_facial_paralysis",
    "central_facial_paralysis",
    "fshd",
    "opmd",
    "other",
    "unknown",
    "sever",
]


def answers(count: int, seed: int) -> dict[str, list[Any]]:
    """Answer columns as a survey exports them: every branch, some invalid, some missing."""
    rng = random.Random(seed)
    pick = rng.choice
    return {
        "id": [f"r{seed}-{i}" for i in range(count)],
        "red_flags": [
            pick(["none", "none", "stroke_signs", "sudden_onset", None, "none;stroke_signs"])
            for _ in range(count)
        ],
        "cause": [pick(CAUSES) for _ in range(count)],
        "severity": [pick(["mild", "moderate", "severe", None]) for _ in range(count)],
        "months_since_paralysis": [pick([0, 3, 6, 12, 1500, None]) for _ in range(count)],
        "treated_early": [pick(["yes", "no", "not_sure", None]) for _ in range(count)],
        "worsening": [pick(["yes", "no", None]) for _ in range(count)],
        "related_findings": [pick(["none", "family_history", None]) for _ in range(count)],
    }


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """A cluster of two worker processes, on loopback only."""
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        worker_dashboard_address="127.0.0.1:0",
    )
    with cluster, distributed.Client(cluster) as connected:
        assert len(connected.scheduler_info()["workers"]) == 2
        yield connected


def test_a_dask_dataframe_gives_the_results_of_one_process(client: Any) -> None:
    frame = pd.DataFrame(answers(300, 1)).astype({"months_since_paralysis": "Int64"})
    single = triage.evaluate_table(frame, rulepack=PACK)
    parallel = scale.evaluate_dask(dd.from_pandas(frame, npartitions=4), rulepack=PACK)
    with distributed.get_task_stream(client) as stream:
        computed = parallel.compute()
    assert list(computed.index) == list(frame.index)
    assert pa.Table.from_pandas(computed, preserve_index=False).to_pylist() == single.to_pylist()
    workers = {task["worker"] for task in stream.data}
    assert workers
    assert workers <= set(client.scheduler_info()["workers"])


def test_a_folder_of_parquet_files_gives_what_triage_evaluate_gives(client: Any, tmp_path: Path) -> None:
    source = tmp_path / "answers"
    (source / "wave2").mkdir(parents=True)
    pq.write_table(pa.table(answers(120, 2)), source / "a.parquet", row_group_size=25)  # in parts of 50 rows
    pq.write_table(pa.table(answers(30, 3)), source / "wave2" / "b.parquet")
    (source / "wave2" / "junk.parquet").write_bytes(b"not parquet")
    summary = scale.evaluate_parquet_folder(str(source), tmp_path / "results", rows=50)
    written = sorted((tmp_path / "results").rglob("*.parquet"))
    assert [p.relative_to(tmp_path / "results").as_posix() for p in written] == [
        "a.part0000.parquet",
        "a.part0001.parquet",
        "a.part0002.parquet",
        "wave2/b.parquet",
        "wave2/junk.parquet",
    ]
    parallel = pa.concat_tables(pq.read_table(p) for p in written)
    inputs = find_inputs([str(source)])
    assert not inputs.problems
    with open(tmp_path / "one.parquet", "wb") as out:
        reference = evaluate_columnar(inputs.files, PACK, out, "parquet")
    assert parallel.to_pylist() == pq.read_table(tmp_path / "one.parquet").to_pylist()
    assert summary.lines(PACK) == reference.lines(PACK)
    assert summary.records == 150
    assert summary.unreadable_files == 1


def test_a_task_that_fails_leaves_no_half_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pq.write_table(pa.table(answers(10, 4)), tmp_path / "a.parquet")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError("disk full")

    monkeypatch.setattr(triage.batch.scale, "evaluate_columnar", broken)
    with pytest.raises(OSError, match="disk full"):
        scale.run_task(scale.Task(str(tmp_path / "a.parquet"), str(tmp_path / "out" / "a.parquet")))
    assert list((tmp_path / "out").iterdir()) == []


TIMEOUT = 60


def _in_time(work: Callable[[], Any]) -> Any:
    """What `work` gives, or a failure if it has not finished within TIMEOUT seconds (it would hang
    on opening a pipe that has no writer)."""
    done: list[Any] = []
    worker = threading.Thread(target=lambda: done.append(work()), daemon=True)
    worker.start()
    worker.join(TIMEOUT)
    if worker.is_alive():
        pytest.fail(f"still running after {TIMEOUT} s")
    assert done, "failed (see the thread's exception above)"
    return done[0]



def test_a_pipe_and_an_unreadable_folder_in_a_parquet_folder_are_reported(
    client: Any, tmp_path: Path, refused_folders: set[str]
) -> None:
    """The folder is walked as `triage evaluate` walks it: a pipe named like a Parquet file is never
    opened (the run would wait for ever for a writer), and it, a broken link and a folder that cannot be
    read are each an error entry in a result file of their own; the other answer files are left out."""
    source = tmp_path / "answers"
    (source / "locked").mkdir(parents=True)
    pq.write_table(pa.table(answers(20, 7)), source / "a.parquet")
    pq.write_table(pa.table(answers(5, 8)), source / "locked" / "hidden.parquet")
    refused_folders.add(str(source / "locked"))
    os.mkfifo(source / "pipe.parquet")
    os.mkfifo(source / "pipe.jsonl")  # not a Parquet file: left out, and never opened either
    (source / "gone.parquet").symlink_to(tmp_path / "nowhere.parquet")
    (source / "notes.jsonl").write_text('{"red_flags": "none"}\n')
    results = tmp_path / "results"

    tasks = _in_time(lambda: scale.plan(source, results))
    assert [(t.source, t.target, t.problem is not None) for t in tasks] == [
        (str(source / "a.parquet"), str(results / "a.parquet"), False),
        (str(source / "gone.parquet"), str(results / "gone.parquet"), True),
        (str(source / "pipe.parquet"), str(results / "pipe.parquet"), True),
        (str(source / "locked"), str(results / "locked" / "unread.parquet"), True),
    ]
    summary = scale.evaluate_parquet_folder(source, results)
    errors = {
        path.relative_to(results).as_posix(): pq.read_table(path).to_pylist()
        for path in sorted(results.rglob("*.parquet"))
    }
    assert sorted(errors) == ["a.parquet", "gone.parquet", "locked/unread.parquet", "pipe.parquet"]
    assert len(errors.pop("a.parquet")) == 20
    expected = {
        "gone.parquet": f"{source}/gone.parquet: a link to {tmp_path}/nowhere.parquet, which does not exist; "
        "nothing was read.",
        "pipe.parquet": f"{source}/pipe.parquet: a named pipe, not a regular file; pipes and devices found "
        "in a folder are never opened (name one on the command line to read it).",
        "locked/unread.parquet": f"{source}/locked: a folder that cannot be read (Permission denied); "
        "the answer files in it were not evaluated.",
    }
    for name, rows in errors.items():
        assert [(r["source"], r["urgency"], r["errors"]) for r in rows] == [
            (
                tasks[[t.target for t in tasks].index(str(results / name))].source,
                None,
                [{"field": "(file)", "message": expected[name]}],
            )
        ]
    assert (summary.files, summary.unreadable_files, summary.records) == (4, 3, 20)
    assert stat.S_ISFIFO((source / "pipe.parquet").lstat().st_mode)


def test_a_result_file_is_replaced_whole_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task writes its results beside the old file under a name of its own, and puts them in place only
    once complete: a task that fails half way leaves the old results exactly as they were, and a task that
    succeeds keeps their permissions."""
    pq.write_table(pa.table(answers(10, 9)), tmp_path / "a.parquet")
    old = tmp_path / "out" / "a.parquet"
    old.parent.mkdir()
    old.write_bytes(b"the results of an earlier run")
    old.chmod(0o640)
    task = scale.Task(str(tmp_path / "a.parquet"), str(old))
    written: list[str] = []

    def half_then_broken(files: Any, pack: Any, out: str, *args: Any, **kwargs: Any) -> Any:
        written.append(out)
        with open(out, "wb") as half:
            half.write(b"PAR1 half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(triage.batch.scale, "evaluate_columnar", half_then_broken)
    for _ in range(2):
        with pytest.raises(OSError, match="No space left"):
            scale.run_task(task, PACK)
    assert old.read_bytes() == b"the results of an earlier run"
    assert sorted(p.name for p in old.parent.iterdir()) == ["a.parquet"]
    # Each attempt wrote a file of its own beside the target, never the target nor a name shared by runs.
    assert len(set(written)) == 2
    assert all(Path(w).parent == old.parent and Path(w).name.startswith(".a.parquet.") for w in written)
    monkeypatch.undo()
    summary = scale.run_task(task, PACK)
    assert summary.records == 10
    assert pq.read_table(old).num_rows == 10
    assert stat.S_IMODE(old.stat().st_mode) == 0o640
    assert sorted(p.name for p in old.parent.iterdir()) == ["a.parquet"]


def test_a_plan_that_would_write_over_an_input_or_twice_is_refused(tmp_path: Path) -> None:
    """Results are never written over the answers (the same folder for both), nor two tasks' results to
    one file; a source that is not a folder is an error, not an empty run."""
    source = tmp_path / "answers"
    source.mkdir()
    pq.write_table(pa.table(answers(4, 10)), source / "a.parquet")
    with pytest.raises(
        OutputError, match=r"a\.parquet: that is the answer file .*a\.parquet, which this run reads"
    ):
        scale.plan(source, source)
    assert pq.read_table(source / "a.parquet").num_rows == 4
    pq.write_table(pa.table(answers(4, 11)), source / "b.parquet", row_group_size=2)
    pq.write_table(pa.table(answers(4, 12)), source / "b.part0001.parquet")
    with pytest.raises(OutputError, match=r"b\.part0001\.parquet: the results of .*b\.parquet go there too"):
        scale.plan(source, tmp_path / "results", rows=2)
    with pytest.raises(FileNotFoundError):
        scale.plan(tmp_path / "no such folder", tmp_path / "results")
    with pytest.raises(NotADirectoryError):
        scale.plan(source / "a.parquet", tmp_path / "results")


def test_the_spark_schema_is_the_plain_result_schema() -> None:
    assert scale.spark_schema().startswith(
        "id string, urgency string, prognosis string, suggestions array<string>"
    )
    assert "errors array<struct<field: string, message: string>>" in scale.spark_schema()
    table = pa.table(answers(20, 5))
    plain = pa.Table.from_batches(scale.spark_function(PACK)(table.to_batches(max_chunksize=7)))
    assert plain.schema == scale.plain_schema()
    assert plain.to_pylist() == triage.evaluate_table(table, rulepack=PACK).to_pylist()


def _spark_missing() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (it is optional: pip install pyspark)"
    if shutil.which("java") is None:
        return "pyspark needs Java, and there is no java on PATH"
    return None


@pytest.mark.skipif(_spark_missing() is not None, reason=str(_spark_missing()))
def test_spark_map_in_arrow_gives_the_results_of_one_process(tmp_path: Path) -> None:
    """Spark in local mode, on loopback, in a process of its own (a JVM and its Python workers)."""
    script = tmp_path / "spark_run.py"
    script.write_text(
        "import sys, pyarrow as pa, pyarrow.parquet as pq\n"
        "from pyspark.sql import SparkSession\n"
        "from triage.scale import spark_function, spark_schema\n"
        "spark = (SparkSession.builder.master('local[2]').appName('triage-test')\n"
        "    .config('spark.driver.host', '127.0.0.1').config('spark.driver.bindAddress', '127.0.0.1')\n"
        "    .config('spark.ui.enabled', 'false').config('spark.sql.shuffle.partitions', '2')\n"
        "    .getOrCreate())\n"
        "frame = spark.read.parquet(sys.argv[1]).repartition(3, 'id').sortWithinPartitions('id')\n"
        "out = frame.mapInArrow(spark_function(), spark_schema())\n"
        "pq.write_table(pa.Table.from_pylist([row.asDict(recursive=True) for row in out.collect()]), sys.argv[2])\n"
        "spark.stop()\n"
    )
    table = pa.table(answers(200, 6))
    pq.write_table(table, tmp_path / "answers.parquet")
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "answers.parquet"), str(tmp_path / "spark.parquet")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    spark_rows = sorted(pq.read_table(tmp_path / "spark.parquet").to_pylist(), key=lambda r: r["id"])
    single = sorted(triage.evaluate_table(table).to_pylist(), key=lambda r: r["id"])
    assert spark_rows == single
