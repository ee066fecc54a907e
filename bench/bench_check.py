"""How long the full check of the bundled rule pack takes (it must stay well under a second).

Run: python bench/bench_check.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from triage.core.answerspace import answer_space
from triage.packs.loading import default_pack_path, read_pack
from triage.packs.verify import verify


def main() -> None:
    path = default_pack_path()
    pack = read_pack(path)
    sets = sum(1 for _ in answer_space(pack))
    timings = []
    for _ in range(20):
        fresh = read_pack(path)
        start = time.perf_counter()
        problems = verify(fresh)
        timings.append(time.perf_counter() - start)
        assert not problems, problems
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "triage", "rules", "check"], check=True, capture_output=True)
    command = time.perf_counter() - start
    print(f"answer sets in the whole answer space: {sets}")
    median, worst = statistics.median(timings) * 1000, max(timings) * 1000
    print(f"verify(), every check: median {median:.1f} ms, max {worst:.1f} ms")
    print(f"`triage rules check`, whole process (start-up included): {command * 1000:.0f} ms")


if __name__ == "__main__":
    main()
