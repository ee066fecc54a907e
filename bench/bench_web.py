"""The web API's speed through the real server on loopback, against a trivial endpoint of the same stack.

Starts `triage serve --port 0` in a subprocess, then sends a bounded number of
requests over one kept-alive connection (one client, so that the figures are
latencies a person would see, not a queue) to:

* `GET /healthz` — the same stack (uvicorn, the guard, Starlette routing, a
  prebuilt JSON body) doing nothing: the floor;
* `POST /api/v1/evaluate` with one answer record — the result of a real record;
* `POST /api/v1/evaluate` with a list of 100 records — a small batch.

It prints requests per second and p50/p99 latency for each, and the ratio of
evaluate to the floor. The loop stops by itself after `--requests` each.

    python bench/bench_web.py --requests 3000
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import time

RECORD = {
    "id": "r-1",
    "red_flags": "none",
    "cause": "peripheral_facial_paralysis",
    "severity": "moderate",
    "months_since_paralysis": 2,
    "treated_early": "not_sure",
}


def start() -> tuple[subprocess.Popen[bytes], str, int]:
    server = subprocess.Popen(
        [sys.executable, "-m", "triage", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert server.stdout is not None
    found = re.search(rb"http://(127\.0\.0\.1):(\d+)/", server.stdout.readline())
    assert found, "no URL printed"
    return server, found.group(1).decode(), int(found.group(2))


def run(host: str, port: int, method: str, path: str, body: bytes | None, count: int) -> list[float]:
    """Latencies in seconds of `count` requests, after a warm-up; every answer must be 200."""
    connection = http.client.HTTPConnection(host, port, timeout=30)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    latencies = []
    for index in range(count + count // 10):
        started = time.perf_counter()
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        elapsed = time.perf_counter() - started
        assert response.status == 200, (path, response.status)
        if index >= count // 10:
            latencies.append(elapsed)
    connection.close()
    return latencies


def report(name: str, latencies: list[float]) -> float:
    total = sum(latencies)
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000
    rate = len(latencies) / total
    print(f"{name:<22} {rate:8.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000, help="requests per endpoint (default 2000)")
    args = parser.parse_args()
    server, host, port = start()
    try:
        one = json.dumps(RECORD).encode()
        hundred = json.dumps(
            [{**RECORD, "id": f"r-{i}", "months_since_paralysis": i % 12} for i in range(100)]
        ).encode()
        floor = report("GET /healthz (floor)", run(host, port, "GET", "/healthz", None, args.requests))
        single = report("evaluate, 1 record", run(host, port, "POST", "/api/v1/evaluate", one, args.requests))
        batch = report(
            "evaluate, 100 records", run(host, port, "POST", "/api/v1/evaluate", hundred, args.requests // 10)
        )
        print(f"evaluate / floor: {single / floor:.2f} of the floor's requests per second")
        print(f"records per second in lists of 100: {batch * 100:,.0f}")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
