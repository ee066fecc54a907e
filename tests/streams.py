"""The command line run with a standard output that fails: full (/dev/full) or closed (`>&-`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
