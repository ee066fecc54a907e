"""The floor for `triage evaluate`: parse every line with orjson and write one fixed result per line.

No evaluator can do less and still read each record; `bench_batch.py` compares against it.

    python bench/floor.py big.jsonl out.jsonl                # every line
    python bench/floor.py big.jsonl out.jsonl START LINES    # LINES lines from byte START

`bench_batch.py` runs the second form twice at once, on the two halves of the
input (cut at a line end), as `--jobs 2` shares a file out: floor2.
"""

from __future__ import annotations

import sys
from itertools import islice

import orjson

FIXED = b'{"id":null,"source":"big.jsonl:1","urgency":"routine","prognosis":{"category":"uncertain"}}\n'


def main(source: str, target: str, start: int = 0, count: int | None = None) -> None:
    loads = orjson.loads
    with open(source, "rb") as lines, open(target, "wb", buffering=1 << 20) as out:
        write = out.write
        lines.seek(start)
        for line in islice(lines, count):
            loads(line)
            write(FIXED)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *(int(arg) for arg in sys.argv[3:5]))
