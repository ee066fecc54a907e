"""Benchmark of batch evaluation: records/s and peak memory, against a floor, in one run.

    python bench/bench_batch.py                 # 100,000 records, a quick run
    python bench/bench_batch.py -n 1000000      # the recorded figures (bench/README.md)

Generates N realistic answer records (every branch of the questionnaire, the
answer forms people write, about 5% invalid, some answers to questions that
were not asked), then runs each command below as its own process, measuring
its wall time and peak RSS (`os.wait4`); with --repeat, the best of the runs.
The triage package is byte-compiled first, as an installed package is:

* floor       — bench/floor.py: parse every line with orjson, write a fixed result per line
* floor2      — the floor run twice at once, each on one half of the input (from a line end): what
                two processes gain on this machine for the simplest work on these records
* compact     — triage evaluate big.jsonl --format jsonl --compact -o out.jsonl
* jobs2       — the compact run with --jobs 2
* full        — the compact run without --compact
* csv         — triage evaluate big.jsonl --format csv -o out.csv (every cell escaped: no formula)
* lib-floor   — bench/library.py floor: parse, and copy one fixed Result per record
* lib         — bench/library.py evaluate_many: parse, and triage.evaluate_many

Targets (at 1,000,000 records): compact at least 40% of the floor's records/s;
peak RSS under 100 MB; jobs2 faster than compact. jobs2 / compact is printed
next to floor2 / floor, which shows how near two processes can come to twice
the speed on the machine at hand (two real cores: near 2).
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
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
CAUSES = ["peripheral_facial_paralysis", "central_facial_paralysis", "fshd", "opmd", "other", "unknown"]
PARALYSIS = CAUSES[:2]


def record(rng: random.Random, number: int) -> dict[str, object]:
    """One answer record as survey tools export them; about 5% are invalid."""
    out: dict[str, object] = {"id": f"resp-{number}"}
    roll = rng.random()
    if roll < 0.04:
        out["red_flags"] = rng.choice(
            [["stroke_signs"], ["sudden_face_droop"], ["sudden_onset"], "stroke_signs;sudden_onset"]
        )
        return out
    out["red_flags"] = rng.choice([[], [], "none", ["none"]])
    cause = rng.choice(CAUSES)
    out["cause"] = cause
    out["severity"] = rng.choice(["mild", "moderate", "severe"])
    if cause in PARALYSIS:
        months = rng.choice([0, 0, 1, 2, 3, 5, 6, 8, 12, 24, 36, 60, 120])
        out["months_since_paralysis"] = rng.choice([months, months, str(months)])
        out["treated_early"] = rng.choice(["yes", "no", "not_sure", True, False])
        out["eye_problems"] = rng.choice([[], [], "none", ["cannot_close"], "cannot_close;painful_or_red"])
    elif cause in ("other", "unknown"):
        out["worsening"] = rng.choice(["yes", "no", "no", "not_sure"])
        out["related_findings"] = rng.choice(
            [[], [], "none", ["family_history"], "shoulder_arm_weakness;eyelid_or_swallowing"]
        )
    elif rng.random() < 0.1:
        out["worsening"] = "no"  # not asked for this cause: a warning
    if rng.random() < 0.05:
        spoil = rng.choice(["typo", "missing", "range", "unknown_key", "none_and_flag"])
        if spoil == "typo":
            out["severity"] = "sever"
        elif spoil == "missing":
            del out["severity"]
        elif spoil == "range":
            out["months_since_paralysis"] = 1500
        elif spoil == "unknown_key":
            out["sevrity"] = "mild"
        else:
            out["red_flags"] = ["none", "sudden_onset"]
    return out


def generate(count: int, path: Path, seed: int = 5) -> int:
    """Write `count` records as JSON Lines; return where the second half of them starts (in bytes)."""
    rng = random.Random(seed)
    half = 0
    with path.open("wb") as out:
        for number in range(1, count + 1):
            if number == count // 2 + 1:
                half = out.tell()
            out.write(orjson.dumps(record(rng, number)) + b"\n")
    return half


def measure(command: list[str], cwd: Path) -> tuple[float, float]:
    """Run a command; its wall time (s) and peak RSS (MB) — of it or its largest worker."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    assert process.stderr is not None
    errors = process.stderr.read().decode()
    process.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed ({code}):\n{errors}")
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--records", type=int, default=100_000)
    parser.add_argument(
        "--repeat", type=int, default=1, help="run each command this many times; keep the best"
    )
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="triage-bench-"))
    try:
        half = generate(args.records, work / "big.jsonl")
        run(args, work, half)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path, half: int) -> None:
    """Run each command in `work`, where big.jsonl's second half starts at byte `half`; print the figures."""
    python = sys.executable
    triage = [python, "-m", "triage", "evaluate", "big.jsonl", "--format", "jsonl"]
    first, second = f"0 {args.records // 2}", f"{half} {args.records - args.records // 2}"
    commands = {
        "floor": [python, str(HERE / "floor.py"), "big.jsonl", "out.jsonl"],
        "floor2": [
            "/bin/sh",
            "-c",
            f'"$0" "$1" big.jsonl out1.jsonl {first} & "$0" "$1" big.jsonl out2.jsonl {second}; wait',
            python,
            str(HERE / "floor.py"),
        ],
        "compact": [*triage, "--compact", "-o", "out.jsonl"],
        "jobs2": [*triage, "--compact", "--jobs", "2", "-o", "out.jsonl"],
        "full": [*triage, "-o", "out.jsonl"],
        "csv": [python, "-m", "triage", "evaluate", "big.jsonl", "--format", "csv", "-o", "out.csv"],
        "lib-floor": [python, str(HERE / "library.py"), "floor", "big.jsonl"],
        "lib": [python, str(HERE / "library.py"), "evaluate_many", "big.jsonl"],
    }
    # Every run starts from compiled modules, as an installed package does (`pip install` compiles
    # them), even where PYTHONDONTWRITEBYTECODE keeps Python from writing them itself.
    spec = importlib.util.find_spec("triage")
    if spec is not None and spec.submodule_search_locations:
        compileall.compile_dir(spec.submodule_search_locations[0], quiet=1)
    size = (work / "big.jsonl").stat().st_size
    print(f"{args.records:,} records ({size / 1e6:.0f} MB) in {work}; {os.cpu_count()} CPUs")
    best: dict[str, tuple[float, float]] = {}
    for _ in range(args.repeat):
        for name, command in commands.items():
            for old in ("out.jsonl", "out1.jsonl", "out2.jsonl", "out.csv"):
                (work / old).unlink(missing_ok=True)
            os.sync()  # no run pays for writing back the previous run's output
            time.sleep(1)  # nor for the file system freeing it
            seconds, rss = measure(command, work)
            old = best.get(name)
            best[name] = (min(seconds, old[0]), max(rss, old[1])) if old else (seconds, rss)
    print(f"\n{'run':<10} {'seconds':>8} {'records/s':>11} {'peak RSS':>9}")
    for name, (seconds, rss) in best.items():
        print(f"{name:<10} {seconds:8.2f} {args.records / seconds:11,.0f} {rss:7.0f} MB")
    rate = {name: args.records / seconds for name, (seconds, _) in best.items()}
    peak = max(rss for name, (_, rss) in best.items() if not name.startswith(("floor", "lib-floor")))
    checks = [
        (
            "compact / floor",
            rate["compact"] / rate["floor"],
            ">= 0.40",
            rate["compact"] / rate["floor"] >= 0.40,
        ),
        ("full / floor", rate["full"] / rate["floor"], "", True),
        ("csv / floor", rate["csv"] / rate["floor"], "", True),
        ("floor2 / floor", rate["floor2"] / rate["floor"], "", True),
        ("jobs2 / compact", rate["jobs2"] / rate["compact"], "> 1.00", rate["jobs2"] > rate["compact"]),
        (
            "lib / lib-floor",
            rate["lib"] / rate["lib-floor"],
            ">= 0.40",
            rate["lib"] / rate["lib-floor"] >= 0.40,
        ),
        ("peak RSS (MB)", peak, "< 100", peak < 100),
    ]
    print()
    for label, value, target, ok in checks:
        verdict = "" if not target else ("ok" if ok else "MISSED")
        print(f"{label:<16} {value:7.2f}  {target:>8}  {verdict}")


if __name__ == "__main__":
    main()
