"""The floor for `triage evaluate`: parse every line with orjson and write one fixed result per line.

No evaluator can do less and still read each record; `bench_batch.py` compares against it.

    python bench/floor.py big.jsonl out.jsonl
"""

from __future__ import annotations

import sys

import orjson

FIXED = b'{"id":null,"source":"big.jsonl:1","urgency":"routine","prognosis":{"category":"uncertain"}}\n'


def main(source: str, target: str) -> None:
    loads = orjson.loads
    with open(source, "rb") as lines, open(target, "wb", buffering=1 << 20) as out:
        write = out.write
        for line in lines:
            loads(line)
            write(FIXED)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
