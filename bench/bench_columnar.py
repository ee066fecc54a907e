"""Benchmark of columnar evaluation (Arrow, Parquet, Dask) against floors of the same library, in one run.

    python bench/bench_columnar.py                   # 1,000,000 rows: a quick run
    python bench/bench_columnar.py -n 10000000       # the recorded figures (bench/README.md)

Needs `pip install -e '.[arrow,dask]'`. Generates N answer rows reproducibly
(typed columns as a survey export has them: text, a whole-number column with
nulls, `;` between choices; every branch of the questionnaire, about 5% invalid,
some answers to questions that were not asked, an unknown column), writes them
as Parquet, then measures, taking the best of --repeat runs:

(a) `evaluate_table` on the table in memory, against the floor: a hand-written
    pyarrow key (each column dictionary-encoded, the codes combined into one key,
    the distinct keys found) and `take` of decisions computed beforehand — once on
    text columns as `read_table` gives them, once on dictionary-encoded columns;
(b) `triage evaluate big.parquet -o out.parquet`, a process of its own, against
    `bench/floor_columnar.py copy`: the same columns read the same way and written
    back, no decision;
(c) the peak RSS of (b), against `bench/floor_columnar.py read` (the reader alone);
(d) `triage.scale.evaluate_parquet_folder` on a `distributed.LocalCluster` of two
    worker processes, against the same function on Dask's synchronous scheduler
    (one process);
and the JSON Lines path with glibc's malloc left to trim its heap (the default)
and told not to (MALLOC_TRIM_THRESHOLD_, MALLOC_TOP_PAD_, MALLOC_MMAP_THRESHOLD_),
beside a plain orjson pipeline that does pay for trimming (`--jsonl-records 0` skips it).

Wall seconds vary with what else runs on the machine; CPU seconds (user + system)
much less: both are printed, and the ratios of both.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import triage
from triage.batch import columnar

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_batch import generate as generate_jsonl  # noqa: E402
from bench_batch import record  # noqa: E402

COLUMNS = {
    "red_flags": pa.string(),
    "cause": pa.string(),
    "severity": pa.string(),
    "months_since_paralysis": pa.int64(),
    "treated_early": pa.string(),
    "worsening": pa.string(),
    "related_findings": pa.string(),
    "sevrity": pa.string(),
}
POOL = 50_000
ENVIRON = dict(os.environ)
"""The environment every command runs in: distributed changes this process's own when it starts a cluster."""
MALLOC = {
    "glibc defaults": {},
    "MALLOC_TRIM_THRESHOLD_=65536": {"MALLOC_TRIM_THRESHOLD_": "65536"},
}
"""The malloc settings the JSON Lines runs are measured with: glibc's own, and what distributed sets."""


# -- data ------------------------------------------------------------------------------------------


def typed(rec: dict[str, object]) -> dict[str, object]:
    """A record of `bench_batch.record` as a typed row: choices as text (";" between them), months as int."""
    row: dict[str, object] = {}
    for name in COLUMNS:
        value = rec.get(name)
        if isinstance(value, list):
            value = ";".join(value) if value else "none"
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        elif name == "months_since_paralysis" and value is not None:
            value = int(str(value))
        row[name] = value
    return row


def answers(rows: int, seed: int = 5) -> pa.Table:
    """`rows` answer rows, drawn from 50,000 generated records, the first far more often (a long tail)."""
    rng = random.Random(seed)
    pool = [typed(record(rng, i)) for i in range(POOL)]
    table = pa.table({name: pa.array([p[name] for p in pool], kind) for name, kind in COLUMNS.items()})
    draw = np.random.default_rng(seed)
    picked = table.take(pa.array((POOL * draw.random(rows) ** 3).astype(np.int64)))
    ids = pc.binary_join_element_wise("resp-", pa.array(np.arange(rows)).cast(pa.string()), "")
    return picked.add_column(0, "id", ids)


# -- measuring -------------------------------------------------------------------------------------


def timed(run: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds of a call in this process."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(
    command: list[str], cwd: Path, extra: dict[str, str] | None = None
) -> tuple[float, float, float, int]:
    """Run a command: wall seconds, CPU seconds, peak RSS (MB) and minor page faults.

    Through GNU time: a child forked from this (large) process would count its pages in its peak RSS.
    """
    env = {k: v for k, v in ENVIRON.items() if not k.startswith("MALLOC_")} | (extra or {})
    report = cwd / "time.txt"
    timed_command = ["/usr/bin/time", "-o", str(report), "-f", "%e %U %S %M %R", *command]
    done = subprocess.run(timed_command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr.decode()}")
    wall, user, system, rss, faults = report.read_text().split()[-5:]
    return float(wall), float(user) + float(system), int(rss) / 1024, int(faults)


def fresh(work: Path, *names: str) -> None:
    """Delete the previous outputs and let the kernel write them back, so no run pays for another."""
    for name in names:
        path = work / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    os.sync()
    time.sleep(1)


# -- (a) the key-and-take floor --------------------------------------------------------------------


class KeyTakeFloor:
    """Each answer column dictionary-encoded, the codes combined into one key per row, the distinct keys
    found, and the results of each key (decided beforehand, by `prepare`) taken for every row."""

    def __init__(self, table: pa.Table) -> None:
        self.batches = list(columnar.rebatched(table.to_batches()))
        self.evaluator = columnar.TableEvaluator(triage.load_rulepack())
        self.decided: list[list[columnar.Entry]] = []

    @staticmethod
    def keys(batch: pa.RecordBatch) -> Any:
        key = None
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            if name == "id":
                continue
            encoded = (
                column if isinstance(column, pa.DictionaryArray) else pc.dictionary_encode(column, "encode")
            )
            indices = encoded.indices.cast(pa.int64())
            if encoded.null_count:
                indices = indices.fill_null(len(encoded.dictionary))
            key = indices if key is None else pc.add(pc.multiply(key, len(encoded.dictionary) + 1), indices)
        return pc.dictionary_encode(key)

    def prepare(self) -> None:
        """Decide every distinct key of every batch (not timed): the decisions the floor takes from."""
        for batch in self.batches:
            combos = self.keys(batch)
            rows = pa.Table.from_batches([batch])
            index = pa.table({"key": combos.indices, "row": pa.array(range(len(combos.indices)))})
            firsts = index.group_by("key").aggregate([("row", "min")]).sort_by("key")
            sample = rows.take(firsts.column("row_min"))
            self.decided.append([self.evaluator.entry_of(e) for e in _outcomes(sample)])

    def run(self) -> list[pa.RecordBatch]:
        out = []
        for batch, entries in zip(self.batches, self.decided, strict=True):
            combos = self.keys(batch)
            assert len(combos.dictionary) == len(entries)
            out.append(self.evaluator.results(batch.column(0), combos.indices, entries))
        return out


def _outcomes(sample: pa.Table) -> Iterator[Any]:
    """The outcome of each row of `sample` (one row per distinct key), as `triage.evaluate` reads it."""
    from triage.core.outcomes import read_outcome

    pack = triage.load_rulepack()
    for rec in columnar.records(sample):
        yield read_outcome(rec, pack)


# -- (d) Dask --------------------------------------------------------------------------------------


def spin(_: object = None) -> float:
    """Pure Python work of about a second: how much CPU a process gets."""
    total = 0
    for number in range(30_000_000):
        total += number
    return float(total)


def machine_parallelism() -> float:
    """How much faster two processes do 4 pieces of pure Python work than one does, right now: on two free
    CPUs about 2; on a machine whose other CPU is busy with other work, about 1."""
    import multiprocessing

    started = time.perf_counter()
    for _ in range(4):
        spin()
    one = time.perf_counter() - started
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(spin, range(2))  # started and warm
        started = time.perf_counter()
        pool.map(spin, range(4), chunksize=1)
        two = time.perf_counter() - started
    return one / two


def dask_runs(work: Path, repeat: int) -> dict[str, tuple[float, float]]:
    """evaluate_parquet_folder on Dask's synchronous scheduler, and on a LocalCluster of two processes."""
    import dask
    from distributed import Client, LocalCluster

    from triage.scale import evaluate_parquet_folder

    folder = work / "folder"
    folder.mkdir(exist_ok=True)
    (folder / "big.parquet").unlink(missing_ok=True)
    (folder / "big.parquet").symlink_to(work / "big.parquet")
    best: dict[str, tuple[float, float]] = {}

    def keep(name: str, seconds: tuple[float, float]) -> None:
        old = best.get(name)
        best[name] = seconds if old is None or seconds[0] < old[0] else old

    for _ in range(repeat):
        fresh(work, "results")
        with dask.config.set(scheduler="synchronous"):
            keep("one process", timed(lambda: evaluate_parquet_folder(folder, work / "results")))
    started = time.perf_counter()
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        worker_dashboard_address="127.0.0.1:0",
    )
    with cluster, Client(cluster) as client:
        client.run(lambda: __import__("triage.scale"))  # workers load the modules before the clock starts
        best["cluster start"] = (time.perf_counter() - started, 0.0)
        for _ in range(repeat):
            fresh(work, "results")
            best["two processes / one, pure Python"] = (machine_parallelism(), 0.0)
            keep("LocalCluster(2)", timed(lambda: evaluate_parquet_folder(folder, work / "results")))
    return best


# -- the run ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--repeat", type=int, default=3, help="run each measure this many times; keep the best"
    )
    parser.add_argument("--jsonl-records", type=int, default=1_000_000, help="JSON Lines records (0: skip)")
    parser.add_argument("--skip-dask", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    args = parser.parse_args()

    spec = importlib.util.find_spec("triage")
    if spec is not None and spec.submodule_search_locations:
        compileall.compile_dir(spec.submodule_search_locations[0], quiet=1)
    work = Path(tempfile.mkdtemp(prefix="triage-bench-columnar-"))
    python = sys.executable
    try:
        started = time.perf_counter()
        table = answers(args.rows)
        pq.write_table(table, work / "big.parquet")
        size = (work / "big.parquet").stat().st_size
        made = time.perf_counter() - started
        print(
            f"{args.rows:,} rows ({size / 1e6:.0f} MB of Parquet, made in {made:.0f} s) in {work}; "
            f"{os.cpu_count()} CPUs, pyarrow {pa.__version__}"
        )
        results: dict[str, tuple[float, float]] = {}
        rss: dict[str, float] = {}

        def keep(name: str, wall: float, cpu: float) -> None:
            old = results.get(name)
            results[name] = (wall, cpu) if old is None or wall < old[0] else old

        # Start-up: pyarrow is loaded only when a table or file needs it.
        for _ in range(10):
            wall, cpu, _rss, _faults = measure([python, "-m", "triage", "--version"], work)
            keep("triage --version", wall, cpu)

        # (a) in memory, text columns and dictionary-encoded columns
        text = pq.read_table(work / "big.parquet")
        coded = pq.read_table(
            work / "big.parquet", read_dictionary=[n for n in COLUMNS if n != "months_since_paralysis"]
        )
        for label, data in (("text", text), ("dictionary", coded)):
            floor = KeyTakeFloor(data)
            floor.prepare()
            check = pa.Table.from_batches(floor.run())
            assert check.equals(columnar.evaluate_table(data)), "the floor must give the same results"
            del check
            for _ in range(args.repeat):
                keep(f"floor ({label})", *timed(floor.run))
                keep(f"evaluate_table ({label})", *timed(lambda data=data: columnar.evaluate_table(data)))
            del floor
        del text, coded

        # (b), (c) Parquet to Parquet, each a process of its own
        commands = {
            "read": [python, str(HERE / "floor_columnar.py"), "read", "big.parquet"],
            "copy": [python, str(HERE / "floor_columnar.py"), "copy", "big.parquet", "out.parquet"],
            "triage": [python, "-m", "triage", "evaluate", "big.parquet", "-o", "out.parquet"],
        }
        for _ in range(args.repeat):
            for name, command in commands.items():
                fresh(work, "out.parquet")
                wall, cpu, peak, _faults = measure(command, work)
                keep(f"parquet {name}", wall, cpu)
                rss[name] = max(rss.get(name, 0.0), peak)

        # (d) Dask
        if not args.skip_dask:
            for name, seconds in dask_runs(work, args.repeat).items():
                results[f"dask {name}"] = seconds

        print(f"\n{'run':<30} {'wall s':>8} {'CPU s':>8} {'rows/s (wall)':>14}")
        for name, (wall, cpu) in results.items():
            if name.endswith("pure Python"):
                print(f"{name:<30} {wall:8.2f}  (machine's parallelism during the last Dask run)")
                continue
            rate = f"{args.rows / wall:14,.0f}" if not name.endswith(("start", "--version")) else ""
            print(f"{name:<30} {wall:8.2f} {cpu:8.2f} {rate}")
        print(
            f"\npeak RSS: triage {rss['triage']:.0f} MB, copy {rss['copy']:.0f} MB, "
            f"reader {rss['read']:.0f} MB"
        )

        def ratio(fast: str, slow: str, index: int) -> float:
            return results[fast][index] / results[slow][index]

        checks = [
            (
                "(a) evaluate_table / floor, text",
                ratio("floor (text)", "evaluate_table (text)", 0),
                ratio("floor (text)", "evaluate_table (text)", 1),
                ">= 0.50",
            ),
            (
                "(a) evaluate_table / floor, dict",
                ratio("floor (dictionary)", "evaluate_table (dictionary)", 0),
                ratio("floor (dictionary)", "evaluate_table (dictionary)", 1),
                ">= 0.50",
            ),
            (
                "(b) parquet triage / copy",
                ratio("parquet copy", "parquet triage", 0),
                ratio("parquet copy", "parquet triage", 1),
                ">= 0.50",
            ),
        ]
        if not args.skip_dask:
            checks.append(
                (
                    "(d) LocalCluster(2) / one process",
                    ratio("dask one process", "dask LocalCluster(2)", 0),
                    ratio("dask one process", "dask LocalCluster(2)", 1),
                    "speed-up",
                )
            )
        print(f"\n{'ratio (speed, as rows/s)':<36} {'wall':>6} {'CPU':>6}  target")
        for label, wall, cpu, target in checks:
            print(f"{label:<36} {wall:6.2f} {cpu:6.2f}  {target}")
        print(f"{'(c) peak RSS triage / reader':<36} {rss['triage'] / rss['read']:6.2f} {'':>6}  < 2")

        if args.jsonl_records:
            malloc_runs(work, args.jsonl_records, args.repeat, python)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


NAIVE = """
import sys, orjson
with open(sys.argv[1], "rb") as lines, open(sys.argv[2], "wb", buffering=0) as out:
    while block := lines.readlines(1 << 18):
        out.write(b"".join([orjson.dumps(orjson.loads(line)) + b"\\n" for line in block]))
"""


def malloc_runs(work: Path, records: int, repeat: int, python: str) -> None:
    """The JSON Lines path with glibc's malloc settings left alone, and as distributed sets them."""
    generate_jsonl(records, work / "big.jsonl")
    (work / "naive.py").write_text(NAIVE)
    triage_run = [python, "-m", "triage", "evaluate", "big.jsonl", "--format", "jsonl"]
    commands = {
        "compact": [*triage_run, "--compact", "-o", "out.jsonl"],
        "compact --jobs 2": [*triage_run, "--compact", "--jobs", "2", "-o", "out.jsonl"],
        "full": [*triage_run, "-o", "out.jsonl"],
        "plain orjson, 256 KiB blocks": [python, "naive.py", "big.jsonl", "out.jsonl"],
    }
    best: dict[tuple[str, str], tuple[float, float, float, int]] = {}
    for _ in range(repeat):
        for name, command in commands.items():
            for mode, extra in MALLOC.items():
                fresh(work, "out.jsonl")
                wall, cpu, rss, faults = measure(command, work, extra)
                old = best.get((name, mode))
                if old is None or cpu < old[1]:
                    best[name, mode] = (wall, cpu, rss, faults)
    print(f"\nJSON Lines, {records:,} records; malloc settings: {' | '.join(MALLOC)}")
    print(f"{'run':<30}" + f"{'wall s':>8} {'CPU s':>6} {'RSS MB':>6} {'faults':>8}  |" * len(MALLOC))
    for name in commands:
        cells = [best[name, mode] for mode in MALLOC]
        print(f"{name:<30}" + "".join(f"{w:8.2f} {c:6.2f} {r:6.0f} {f:8,}  |" for w, c, r, f in cells))


if __name__ == "__main__":
    main()
