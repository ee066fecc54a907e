"""Standard streams in the tests: a standard output that fails (full, closed) or is a file, a named pipe
written once the run opens it."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest


def assert_failing_output_is_reported(
    arguments: list[str], cwd: Path, said: bytes = b"cannot write"
) -> list[subprocess.CompletedProcess[bytes]]:
    """Run `python -m triage ARGUMENTS` with standard output full, then closed: each run says `said` on
    standard error and exits 2, never with a traceback, nor 0 as if all were written. The runs, for more
    checks; skipped where the system has no /dev/full."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    runs = []
    with open("/dev/full", "wb") as full:
        for how in ("full", "closed"):
            done = subprocess.run(
                [sys.executable, "-m", "triage", *arguments],
                cwd=cwd,
                stdout=full if how == "full" else None,
                stderr=subprocess.PIPE,
                preexec_fn=(lambda: os.close(1)) if how == "closed" else None,
                timeout=120,
                check=False,
            )
            assert b"Traceback" not in done.stderr, (how, done.stderr)
            assert done.returncode == 2, (how, done.stderr)
            assert said in done.stderr, (how, done.stderr)
            runs.append(done)
    return runs


def write_when_opened(fifo: Path, data: bytes, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Write `data` into `fifo` once the run has opened it to read, then close it."""
    deadline = time.monotonic() + timeout
    while True:  # opened without waiting: fails (ENXIO) until the run opens the pipe to read it
        try:
            writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as exc:
            if exc.errno != errno.ENXIO or process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                _, err = process.communicate()
                pytest.fail(f"the run never opened the pipe: {err.decode()}")
            time.sleep(0.02)
    os.set_blocking(writer, True)
    try:
        os.write(writer, data)
    except BrokenPipeError:
        pass  # the run may stop reading early: it has seen enough to refuse the file
    finally:
        os.close(writer)


def run_into(
    path: Path, arguments: list[str], cwd: Path | None = None, *, flags: int = os.O_WRONLY, stdin: Any = None
) -> subprocess.CompletedProcess[bytes]:
    """Run `python -m triage ARGUMENTS` with standard output the file `path` opened with `flags`
    (`1<>path`; with `os.O_APPEND`, `>>path`)."""
    fd = os.open(path, flags)
    try:
        return subprocess.run(
            [sys.executable, "-m", "triage", *arguments],
            cwd=cwd,
            stdin=stdin,
            stdout=fd,
            stderr=subprocess.PIPE,
            timeout=120,
            check=False,
        )
    finally:
        os.close(fd)
