"""The library path, `triage.evaluate_many` over parsed records, and its floor.

    python bench/library.py evaluate_many big.jsonl   # every record evaluated
    python bench/library.py floor big.jsonl           # the floor

Both parse each line with orjson and hand back one `Result` (or `RecordError`)
object per record. The floor does nothing else: it copies one prebuilt result
with the record's id, the least a library call can do to give each record a
result of its own.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Iterator

import orjson

import triage


def records(path: str) -> Iterator[object]:
    loads = orjson.loads
    with open(path, "rb") as lines:
        for line in lines:
            yield loads(line)


def floor(path: str) -> Iterator[triage.Result]:
    fixed = triage.evaluate({"red_flags": [], "cause": "fshd", "severity": "mild"})
    for record in records(path):
        record_id = record.get("id") if isinstance(record, dict) else None
        yield fixed.model_copy(update={"id": record_id})


def main(mode: str, path: str) -> None:
    results = triage.evaluate_many(records(path)) if mode == "evaluate_many" else floor(path)
    deque(results, maxlen=0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
