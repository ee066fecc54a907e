"""Folders given to `triage evaluate`: every path a walk finds is read, or reported; none hangs the run.

The shapes (links, loops, pipes, devices, folders that cannot be read) are made by
each test in its own temporary folder: a pipe cannot be kept in git, and a link to
a device or a loop in the source tree would trip up every tool that walks it.
A folder that cannot be read cannot be shown by a process running as root (which
reads it anyway), so those cases run in-process with `os.scandir` refusing the
folder, as the system does for any other user; `test_an_unreadable_folder_for_real`
shows the same with real permissions where the tests do not run as root.
"""

from __future__ import annotations

import gc
import io
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from streams import write_when_opened

import triage
from triage.apps.cli import main
from triage.batch.run import evaluate_files
from triage.io.inputs import find_inputs
from triage.io.writers import make_writer

FSHD = {"red_flags": [], "cause": "fshd", "severity": "mild"}
STROKE = {"red_flags": ["stroke_signs"]}
TIMEOUT = 60


def triage_evaluate(*args: str, cwd: Path, **extra: Any) -> subprocess.CompletedProcess[bytes]:
    """`triage evaluate ARGS…` in a subprocess; a run that hangs fails the test after `TIMEOUT` seconds
    (its whole process group killed: workers of --jobs too)."""
    command = [sys.executable, "-m", "triage", "evaluate", "--compact", *args]
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, **extra
    )
    try:
        out, err = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"{command} still ran after {TIMEOUT} s")
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def entries(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.splitlines()]


def sources(data: bytes) -> list[str]:
    return [entry["source"] for entry in entries(data)]


def errors_of(data: bytes) -> dict[str, str]:
    """Each error entry's source and its one message."""
    return {e["source"]: e["errors"][0]["message"] for e in entries(data) if "errors" in e}


def answers(path: Path, *records: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records or (FSHD,)))
    return path


# -- links to folders --------------------------------------------------------------------------------


def test_a_linked_folder_is_followed(tmp_path: Path) -> None:
    """A symbolic link to a folder is walked like the folder, its files named through the link."""
    answers(tmp_path / "elsewhere" / "b.jsonl", STROKE)
    answers(tmp_path / "in" / "a.jsonl")
    (tmp_path / "in" / "linked").symlink_to(tmp_path / "elsewhere")
    done = triage_evaluate("in", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sources(done.stdout) == ["in/a.jsonl:1", "in/linked/b.jsonl:1"]
    assert entries(done.stdout)[1]["urgency"] == "emergency"


def test_a_loop_of_links_ends_and_is_reported(tmp_path: Path) -> None:
    """A link back to a folder that holds it is not followed (a note says so): every file is read once,
    and the run ends."""
    answers(tmp_path / "in" / "a.jsonl")
    answers(tmp_path / "in" / "sub" / "b.jsonl")
    (tmp_path / "in" / "sub" / "up").symlink_to("..")
    (tmp_path / "in" / "self").symlink_to(".")
    done = triage_evaluate("in", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sources(done.stdout) == ["in/a.jsonl:1", "in/sub/b.jsonl:1"]
    assert b"triage: in/self: a link back to in, which holds it (a loop); not followed." in done.stderr
    assert b"triage: in/sub/up: a link back to in, which holds it (a loop); not followed." in done.stderr


def test_a_folder_reached_twice_is_read_once(tmp_path: Path) -> None:
    """Two links to one folder: its files are read once, under the first name reached, and a note
    names the second."""
    answers(tmp_path / "shared" / "s.jsonl")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "one").symlink_to(tmp_path / "shared")
    (tmp_path / "in" / "two").symlink_to(tmp_path / "shared")
    done = triage_evaluate("in", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sources(done.stdout) == ["in/one/s.jsonl:1"]
    assert b"in/two: the folder in/one again (through a link); its files are read once" in done.stderr


def test_many_links_to_folders_stay_linear(tmp_path: Path) -> None:
    """Twenty levels of folders each linking twice to the next (a million paths) are read once each,
    quickly: folders are told apart by device and inode, not by path."""
    levels = [tmp_path / f"level{n}" for n in range(21)]
    for folder in levels:
        answers(folder / "a.jsonl")
    for folder, below in itertools.pairwise(levels):
        (folder / "left").symlink_to(below)
        (folder / "right").symlink_to(below)
    done = triage_evaluate("level0", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(entries(done.stdout)) == 21


# -- links to files, broken links --------------------------------------------------------------------


def test_a_linked_file_is_read_under_its_own_name(tmp_path: Path) -> None:
    """A link to an answer file is read like a file, under the link's name."""
    answers(tmp_path / "elsewhere.jsonl", STROKE)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "link.jsonl").symlink_to(tmp_path / "elsewhere.jsonl")
    done = triage_evaluate("in", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [(e["source"], e["urgency"]) for e in entries(done.stdout)] == [("in/link.jsonl:1", "emergency")]


@pytest.mark.parametrize("name", ["gone.jsonl", "gone-folder"])
def test_a_broken_link_is_an_error_entry(tmp_path: Path, name: str) -> None:
    """A link that leads nowhere (to an answer file or a folder, it cannot be told) is an error entry
    in its place, exit 1; the other files are read."""
    answers(tmp_path / "in" / "a.jsonl")
    answers(tmp_path / "in" / "z.jsonl")
    (tmp_path / "in" / name).symlink_to(tmp_path / "missing")
    done = triage_evaluate("in", cwd=tmp_path)
    assert done.returncode == 1
    assert sources(done.stdout) == ["in/a.jsonl:1", f"in/{name}", "in/z.jsonl:1"]
    assert errors_of(done.stdout) == {
        f"in/{name}": f"in/{name}: a link to {tmp_path / 'missing'}, which does not exist; nothing was read."
    }


def test_a_link_in_a_loop_of_links_is_an_error_entry(tmp_path: Path) -> None:
    """Links that lead round to each other are an error entry each, never followed for ever."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.jsonl").symlink_to("y.jsonl")
    (tmp_path / "in" / "y.jsonl").symlink_to("x.jsonl")
    done = triage_evaluate("in", cwd=tmp_path)
    assert done.returncode == 1
    assert errors_of(done.stdout) == {
        f"in/{n}.jsonl": f"in/{n}.jsonl: a link that leads round in a loop; nothing was read." for n in "xy"
    }


# -- pipes and devices -------------------------------------------------------------------------------


def _fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize(
    ("name", "make", "kind"),
    [
        ("pipe.jsonl", _fifo, "a named pipe"),
        ("zero.jsonl", lambda p: p.symlink_to("/dev/zero"), "a character device"),
        ("tty.csv", lambda p: p.symlink_to("/dev/tty"), "a character device"),
    ],
)
def test_a_pipe_or_device_in_a_folder_is_never_opened(
    tmp_path: Path, name: str, make: Any, kind: str, jobs: str
) -> None:
    """A pipe (which would wait for ever for a writer) or a device (endless zeros, a terminal) named like
    an answer file in a folder is an error entry, never opened; the run ends, exit 1."""
    answers(tmp_path / "in" / "a.jsonl")
    make(tmp_path / "in" / name)
    done = triage_evaluate("in", "--jobs", jobs, cwd=tmp_path)
    assert done.returncode == 1
    assert sources(done.stdout) == ["in/a.jsonl:1", f"in/{name}"]
    assert errors_of(done.stdout)[f"in/{name}"] == (
        f"in/{name}: {kind}, not a regular file; pipes and devices found in a folder are never opened "
        "(name one on the command line to read it)."
    )
    assert b"2 files (1 could not be read), 1 record" in done.stderr


def test_a_pipe_named_on_the_command_line_is_read(tmp_path: Path) -> None:
    """A pipe named on the command line (as `<(cat a.jsonl)` gives) is read as a stream, with
    --input-format; without it, its format cannot be told (exit 2)."""
    read_end, write_end = os.pipe()
    os.write(write_end, orjson.dumps(STROKE) + b"\n")
    os.close(write_end)
    name = f"/dev/fd/{read_end}"
    done = triage_evaluate(name, "--input-format", "jsonl", cwd=tmp_path, pass_fds=(read_end,))
    os.close(read_end)
    assert done.returncode == 0, done.stderr
    assert [(e["source"], e["urgency"]) for e in entries(done.stdout)] == [(f"{name}:1", "emergency")]
    unnamed = triage_evaluate("/dev/null", cwd=tmp_path)
    assert unnamed.returncode == 2
    assert b"/dev/null: cannot tell the format from the name; use --input-format" in unnamed.stderr


def test_a_named_pipe_on_the_command_line_waits_for_its_writer(tmp_path: Path) -> None:
    """A named pipe given by name, with an answer file's extension, is read once its writer comes."""
    fifo = _fifo(tmp_path / "live.jsonl")
    process = subprocess.Popen(
        [sys.executable, "-m", "triage", "evaluate", "--compact", str(fifo)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    write_when_opened(fifo, orjson.dumps(FSHD) + b"\n", process, TIMEOUT)
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err
    assert sources(out) == [f"{fifo}:1"]


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_file_swapped_for_a_pipe_after_the_walk_does_not_hang(
    tmp_path: Path, pack: triage.RulePack, jobs: int
) -> None:
    """A file that becomes a pipe between the walk and its reading is an error entry, at once: files
    are opened without waiting, and what was opened is looked at before it is read."""
    answers(tmp_path / "in" / "a.jsonl")
    big = answers(tmp_path / "in" / "b.jsonl", *[FSHD] * 100_000)  # large enough for --jobs to cut
    inputs = find_inputs([str(tmp_path / "in")])
    assert [Path(f.path).name for f in inputs.files] == ["a.jsonl", "b.jsonl"]
    for path in (tmp_path / "in" / "a.jsonl", big):
        path.unlink()
        os.mkfifo(path)
    out = io.BytesIO()
    result: list[object] = []
    worker = threading.Thread(
        target=lambda: result.append(
            evaluate_files(inputs.files, pack, make_writer("jsonl", pack), out, jobs=jobs)
        ),
        daemon=True,
    )
    worker.start()
    worker.join(TIMEOUT)
    if worker.is_alive():  # let the stuck open go, then fail
        for path in (tmp_path / "in" / "a.jsonl", big):
            with path.open("wb"):
                pass
        pytest.fail("a file swapped for a pipe made the run wait")
    messages = errors_of(out.getvalue())
    assert messages == {
        str(path): f"{path}: cannot be read: not a regular file but a named pipe."
        for path in (tmp_path / "in" / "a.jsonl", big)
    }


# -- folders that cannot be read ---------------------------------------------------------------------


@pytest.fixture
def in_process() -> Iterator[None]:
    """Undo what `triage evaluate` does to its process (the SIGTERM handler, a frozen collector) when
    it runs inside the test process."""
    handler = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, handler)
    gc.unfreeze()


@pytest.fixture
def refused_folders(refused_folders: set[str], in_process: None) -> set[str]:
    """The folders `os.scandir` refuses (tests/conftest.py), for runs inside this process."""
    return refused_folders


def test_an_unreadable_subfolder_is_an_error_entry(
    tmp_path: Path,
    refused_folders: set[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A subfolder that cannot be read is an error entry in its place (its files are not evaluated),
    exit 1; the folders around it are read."""
    answers(tmp_path / "in" / "a" / "one.jsonl")
    answers(tmp_path / "in" / "locked" / "hidden.jsonl", STROKE)
    answers(tmp_path / "in" / "z" / "two.jsonl")
    refused_folders.add(str(tmp_path / "in" / "locked"))
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", "in", "--compact", "--format", "jsonl"]) == 1
    out = capsys.readouterr()
    assert sources(out.out.encode()) == ["in/a/one.jsonl:1", "in/locked", "in/z/two.jsonl:1"]
    assert errors_of(out.out.encode()) == {
        "in/locked": "in/locked: a folder that cannot be read (Permission denied); "
        "the answer files in it were not evaluated."
    }
    assert "3 files (1 could not be read), 2 records" in out.err


def test_an_unreadable_folder_named_on_the_command_line_is_an_error_entry(
    tmp_path: Path, refused_folders: set[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder named on the command line that cannot be read is an error entry too (exit 1), not
    "a folder with no answer files"."""
    answers(tmp_path / "locked" / "hidden.jsonl", STROKE)
    refused_folders.add(str(tmp_path / "locked"))
    assert main(["evaluate", str(tmp_path / "locked"), "--format", "jsonl"]) == 1
    out = capsys.readouterr()
    assert "no answer files" not in out.err
    assert list(errors_of(out.out.encode())) == [str(tmp_path / "locked")]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a folder whatever its permissions")
def test_an_unreadable_folder_for_real(tmp_path: Path) -> None:
    """With real permissions: a subfolder its user may not read is an error entry, exit 1."""
    answers(tmp_path / "in" / "a.jsonl")
    locked = tmp_path / "in" / "locked"
    answers(locked / "hidden.jsonl", STROKE)
    locked.chmod(0)
    try:
        done = triage_evaluate("in", cwd=tmp_path)
    finally:
        locked.chmod(0o755)
    assert done.returncode == 1
    assert sources(done.stdout) == ["in/a.jsonl:1", "in/locked"]
