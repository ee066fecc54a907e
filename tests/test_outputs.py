"""Every file triage writes (`evaluate -o`, `schema -o`, `export fhir -o`; `--save` in
tests/test_questionnaire.py and tests/test_answerfile.py): never over a file the same run reads,
whole or not at all, with the permissions the file had.

Most cases run the real command in a subprocess. A folder that refuses new files cannot
be made for a process running as root (it writes anyway), so that case runs in-process
with `os.open` refusing, as the kernel does for a read-only file system;
`test_a_read_only_folder_for_real` shows it with real permissions where the tests do not
run as root. A full disk is a file size limit (`RLIMIT_FSIZE`): writes past it fail.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from streams import run_into

from triage.apps.cli import main
from triage.packs.loading import default_pack_path

FSHD = {"red_flags": [], "cause": "fshd", "severity": "mild"}
ANSWERS = orjson.dumps(FSHD) + b"\n"
READS = "which this run reads; writing there would replace it. Name another file."


def triage(*args: str, cwd: Path, **extra: Any) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "triage", *args],
        cwd=cwd,
        capture_output=True,
        timeout=120,
        check=False,
        **extra,
    )


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every path under `folder`: a file's bytes, or where a link leads (so nothing changes unseen)."""
    found: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        if path.is_symlink():
            found[name] = f"-> {os.readlink(path)}"
        elif path.is_file():
            found[name] = path.read_bytes()
    return found


def temporaries(*folders: Path) -> list[Path]:
    return [p for folder in folders for p in folder.rglob("*.part")]


@pytest.fixture
def pack_copy(tmp_path: Path) -> Path:
    """A copy of the bundled rule pack, used with --rules, so that no test can touch the real one."""
    copy = tmp_path / "pack"
    shutil.copytree(default_pack_path(), copy)
    return copy


# -- never over a file the run reads --------------------------------------------------------------


def _mkdir(folder: Path) -> bool:
    folder.mkdir()
    return True


def _link(tmp: Path) -> list[str]:
    (tmp / "link.jsonl").symlink_to("a.jsonl")
    return ["a.jsonl", "-o", "link.jsonl"]


def _hard_link(tmp: Path) -> list[str]:
    os.link(tmp / "a.jsonl", tmp / "hard.jsonl")
    return ["a.jsonl", "-o", "hard.jsonl"]


def _in_a_folder(tmp: Path) -> list[str]:
    (tmp / "in").mkdir()
    (tmp / "a.jsonl").rename(tmp / "in" / "a.jsonl")
    return ["in", "-o", "in/a.jsonl"]


def _through_a_linked_folder(tmp: Path) -> list[str]:
    (tmp / "in").mkdir()
    (tmp / "in" / "linked").symlink_to(tmp / "elsewhere")
    (tmp / "elsewhere").mkdir()
    (tmp / "a.jsonl").rename(tmp / "elsewhere" / "a.jsonl")
    return ["in", "-o", "elsewhere/a.jsonl"]


def _link_to_the_folder(tmp: Path) -> list[str]:
    (tmp / "in").mkdir()
    (tmp / "a.jsonl").rename(tmp / "in" / "a.jsonl")
    (tmp / "alias").symlink_to("in")
    return ["in", "-o", "alias/a.jsonl"]


# (case, how to set it up: the arguments after `evaluate`)
OVER_AN_INPUT: list[tuple[str, Callable[[Path], list[str]]]] = [
    ("same-name", lambda tmp: ["a.jsonl", "-o", "a.jsonl"]),
    ("dot-slash", lambda tmp: ["a.jsonl", "-o", "./a.jsonl"]),
    ("absolute", lambda tmp: ["a.jsonl", "-o", str(tmp / "a.jsonl")]),
    ("other-spelling", lambda tmp: ["a.jsonl", "-o", "in/../a.jsonl"] if _mkdir(tmp / "in") else []),
    ("symbolic-link", _link),
    ("hard-link", _hard_link),
    ("found-in-a-folder", _in_a_folder),
    ("found-through-a-linked-folder", _through_a_linked_folder),
    ("folder-named-through-a-link", _link_to_the_folder),
    ("second-of-several", lambda tmp: ["b.jsonl", "a.jsonl", "-o", "a.jsonl"]),
    ("format-given", lambda tmp: ["a.jsonl", "--format", "csv", "-o", "a.jsonl"]),
    ("jobs", lambda tmp: ["a.jsonl", "--jobs", "2", "-o", "a.jsonl"]),
]


@pytest.mark.parametrize("make", [c[1] for c in OVER_AN_INPUT], ids=[c[0] for c in OVER_AN_INPUT])
def test_output_over_an_input_is_refused(tmp_path: Path, make: Callable[[Path], list[str]]) -> None:
    """`-o` naming an answer file of the run, by any name (the same path spelt otherwise, a symbolic or
    hard link, a file found in a folder), is refused before anything is read or written: exit 2, a
    message naming the file, every file as it was."""
    (tmp_path / "a.jsonl").write_bytes(ANSWERS * 3)
    (tmp_path / "b.jsonl").write_bytes(ANSWERS)
    args = make(tmp_path)
    before = snapshot(tmp_path)
    done = triage("evaluate", *args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert READS.encode() in done.stderr
    assert b"the answer file " in done.stderr
    assert b"record" not in done.stderr  # nothing was evaluated
    assert done.stdout == b""
    assert snapshot(tmp_path) == before
    assert not temporaries(tmp_path)


def test_output_over_standard_input_is_refused(tmp_path: Path) -> None:
    """`-o` naming the file that standard input reads (`- < a.jsonl`) is refused too."""
    answers = tmp_path / "a.jsonl"
    answers.write_bytes(ANSWERS)
    with answers.open("rb") as stdin:
        done = triage("evaluate", "-", "--input-format", "jsonl", "-o", "a.jsonl", cwd=tmp_path, stdin=stdin)
    assert done.returncode == 2
    assert f"cannot write a.jsonl: that is standard input, {READS}".encode() in done.stderr
    assert answers.read_bytes() == ANSWERS


@pytest.mark.parametrize(
    ("how", "args"),
    [
        ("a second run over a glob", ["a.jsonl", "results.jsonl"]),
        ("appended", ["a.jsonl", "results.jsonl"]),
        ("written in place", ["a.jsonl", "results.jsonl"]),
        ("found in a folder", ["."]),
        ("standard input too", ["-", "--input-format", "jsonl"]),
        ("with --jobs", ["a.jsonl", "results.jsonl", "--jobs", "2"]),
    ],
)
def test_standard_output_over_an_input_is_refused(tmp_path: Path, how: str, args: list[str]) -> None:
    """Standard output sent to an answer file of the run (`triage evaluate *.jsonl > results.jsonl` run
    twice; `>>`; `1<>`; standard input's file) is refused as `-o` is, before anything is read: the
    results would be read back as answers without end (a 200 KB input grew to 150 MB in 20 s)."""
    (tmp_path / "a.jsonl").write_bytes(ANSWERS * 3000)
    results = tmp_path / "results.jsonl"
    results.write_bytes(ANSWERS)
    if how == "a second run over a glob":  # `>` empties it first, as the shell does
        results.write_bytes(b"")
    before = snapshot(tmp_path)
    flags = os.O_WRONLY | (os.O_APPEND if how != "written in place" else 0)
    stdin = (tmp_path / "results.jsonl").open("rb") if how == "standard input too" else None
    try:
        done = run_into(results, ["evaluate", *args, "--format", "jsonl"], tmp_path, flags=flags, stdin=stdin)
    finally:
        if stdin is not None:
            stdin.close()
    assert done.returncode == 2, done.stderr
    assert b"cannot write standard output: it is " in done.stderr
    assert b"which this run reads" in done.stderr
    assert b"record" not in done.stderr  # nothing was evaluated
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    "command",
    [
        ["schema"],
        ["export", "fhir"],
        ["evaluate", "a.jsonl"],
        ["questions"],
        ["rules", "check"],
        ["rules", "check", "--format", "json"],
        ["rules", "show"],
        ["rules", "graph"],
        ["rules", "test"],
    ],
)
def test_standard_output_over_the_rule_pack_is_refused(
    tmp_path: Path, pack_copy: Path, command: list[str]
) -> None:
    """Standard output sent into a file of the rule pack (`1<>pack.yaml`) is refused: the pack unchanged."""
    (tmp_path / "a.jsonl").write_bytes(ANSWERS)
    before = snapshot(pack_copy)
    done = run_into(pack_copy / "pack.yaml", ["--rules", str(pack_copy), *command], tmp_path)
    assert done.returncode == 2, done.stderr
    assert b"cannot write standard output: it is the rule pack's file" in done.stderr
    assert snapshot(pack_copy) == before


@pytest.mark.parametrize(
    "command", [["evaluate", "a.jsonl"], ["schema"], ["schema", "result"], ["export", "fhir"]]
)
@pytest.mark.parametrize("name", ["pack.yaml", "source.txt", "link-to-pack.yaml"])
def test_output_over_the_rule_pack_is_refused(
    tmp_path: Path, pack_copy: Path, command: list[str], name: str
) -> None:
    """No output may replace a file of the rule pack the run reads (its pack file or source article,
    by any name): exit 2, the pack unchanged."""
    (tmp_path / "a.jsonl").write_bytes(ANSWERS)
    (pack_copy / "link-to-pack.yaml").symlink_to("pack.yaml")
    before = snapshot(pack_copy)
    done = triage("--rules", str(pack_copy), *command, "-o", str(pack_copy / name), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert b"that is the rule pack's " in done.stderr
    assert READS.encode() in done.stderr
    assert snapshot(pack_copy) == before
    assert not temporaries(pack_copy)


# -- whole or not at all ----------------------------------------------------------------------------

WRITERS = [
    pytest.param(["schema"], id="schema"),
    pytest.param(["export", "fhir"], id="export-fhir"),
    pytest.param(["evaluate", "a.jsonl"], id="evaluate"),
]


def _small_files() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))


@pytest.mark.parametrize("command", WRITERS)
def test_a_write_that_fails_keeps_the_old_file(tmp_path: Path, command: list[str]) -> None:
    """When the disk takes no more (here: a file size limit), the old file is kept exactly, no temporary
    file is left, and the message says why, exit 2."""
    (tmp_path / "a.jsonl").write_bytes(ANSWERS * 50)
    target = tmp_path / "out.json"
    target.write_bytes(b'{"precious": true}\n')
    target.chmod(0o640)
    done = triage(*command, "-o", "out.json", cwd=tmp_path, preexec_fn=_small_files)
    assert done.returncode == 2, done.stderr
    assert b"triage: cannot write out.json: File too large." in done.stderr
    assert b"Traceback" not in done.stderr
    assert target.read_bytes() == b'{"precious": true}\n'
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert not temporaries(tmp_path)


@pytest.mark.parametrize("command", WRITERS)
def test_a_folder_as_output_is_refused(tmp_path: Path, command: list[str]) -> None:
    """`-o` naming a folder is refused before anything is written, exit 2."""
    (tmp_path / "a.jsonl").write_bytes(ANSWERS)
    (tmp_path / "out").mkdir()
    done = triage(*command, "-o", "out", cwd=tmp_path)
    assert done.returncode == 2
    assert b"triage: cannot write out: it is a folder; name a file." in done.stderr
    assert list((tmp_path / "out").iterdir()) == []


@pytest.fixture
def read_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A folder in which no file can be created, as on a read-only file system: `os.open` refuses to
    create files there (root, who runs the tests in CI, could create them whatever the permissions)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    real_open = os.open

    def guarded(path: Any, flags: int, mode: int = 0o777, **kwargs: Any) -> int:
        if flags & os.O_CREAT and Path(path).parent == folder:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, mode, **kwargs)

    monkeypatch.setattr(os, "open", guarded)
    return folder


@pytest.mark.parametrize("command", WRITERS)
def test_a_folder_that_takes_no_file_keeps_the_old_one(
    tmp_path: Path, read_only: Path, command: list[str], capsys: pytest.CaptureFixture[str], in_process: None
) -> None:
    """In a folder that takes no new file, the old file is kept exactly and the message says why, exit 2."""
    (tmp_path / "a.jsonl").write_bytes(ANSWERS)
    target = read_only / "out.json"
    target.write_bytes(b"old\n")
    args = [*command, "-o", str(target)]
    if command[0] == "evaluate":
        args[1] = str(tmp_path / "a.jsonl")
    assert main(args) == 2
    assert (
        f"triage: cannot write {target}: {read_only} is on a read-only file system."
        in capsys.readouterr().err
    )
    assert target.read_bytes() == b"old\n"
    assert os.listdir(read_only) == ["out.json"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in a folder whatever its permissions")
def test_a_read_only_folder_for_real(tmp_path: Path) -> None:
    """With real permissions: a folder its user may not write in keeps the old file, exit 2."""
    folder = tmp_path / "locked"
    folder.mkdir()
    (folder / "out.json").write_bytes(b"old\n")
    folder.chmod(0o555)
    try:
        done = triage("schema", "-o", str(folder / "out.json"), cwd=tmp_path)
    finally:
        folder.chmod(0o755)
    assert done.returncode == 2
    assert b"no permission to write in" in done.stderr
    assert (folder / "out.json").read_bytes() == b"old\n"


@pytest.fixture
def in_process() -> Iterator[None]:
    """Undo what `triage evaluate` does to its process (the SIGTERM handler, a frozen collector)."""
    import gc

    handler = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, handler)
    gc.unfreeze()


# -- permissions ----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", WRITERS)
@pytest.mark.parametrize("mode", [0o600, 0o640, 0o604, 0o444], ids=oct)
def test_a_replaced_file_keeps_its_permissions(tmp_path: Path, command: list[str], mode: int) -> None:
    """A file replaced by new output keeps its permissions: a private results file stays private."""
    (tmp_path / "a.jsonl").write_bytes(ANSWERS)
    target = tmp_path / "out.json"
    target.write_bytes(b"old\n")
    target.chmod(mode)
    done = triage(*command, "-o", "out.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert target.read_bytes() != b"old\n"
    assert stat.S_IMODE(target.stat().st_mode) == mode


def _umask(value: int) -> Callable[[], None]:
    return lambda: os.umask(value) and None


@pytest.mark.parametrize("command", WRITERS)
@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077, 0o002], ids=oct)
def test_a_new_file_follows_the_umask(tmp_path: Path, command: list[str], umask: int) -> None:
    """A new output file gets the usual permissions: 0666 less the umask of the process."""
    (tmp_path / "a.jsonl").write_bytes(ANSWERS)
    done = triage(*command, "-o", "out.json", cwd=tmp_path, preexec_fn=_umask(umask))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE((tmp_path / "out.json").stat().st_mode) == 0o666 & ~umask


def test_the_umask_is_never_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writing never calls `os.umask` (which changes it for every thread of the process)."""
    from triage.fs import files

    def refuse(mask: int) -> int:
        raise AssertionError("os.umask called")

    monkeypatch.setattr(os, "umask", refuse)
    for target, private in ((tmp_path / "new", False), (tmp_path / "new", False), (tmp_path / "p", True)):
        files.write_bytes(files.output_target(target), b"x", private=private)
    assert stat.S_IMODE((tmp_path / "p").stat().st_mode) == 0o600


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_a_replaced_file_keeps_its_owner(tmp_path: Path) -> None:
    """A file of another user replaced by root stays that user's, with its permissions."""
    (tmp_path / "a.jsonl").write_bytes(ANSWERS)
    target = tmp_path / "out.jsonl"
    target.write_bytes(b"old\n")
    os.chown(target, 65534, 65534)
    target.chmod(0o600)
    done = triage("evaluate", "a.jsonl", "-o", "out.jsonl", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    status = target.stat()
    assert (status.st_uid, status.st_gid, stat.S_IMODE(status.st_mode)) == (65534, 65534, 0o600)


def test_results_are_flushed_to_disk_before_they_replace_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new file is flushed (fsync) before it is renamed over the old one, and its folder after, so
    that a power cut leaves the old file or the whole new one under the name."""
    from triage.fs import files

    target = tmp_path / "out.json"
    target.write_bytes(b"old\n")
    synced: list[tuple[str, bytes | None]] = []
    fsync = os.fsync

    def noting(fd: int) -> None:
        mode = os.fstat(fd).st_mode
        content = target.read_bytes() if stat.S_ISDIR(mode) else None
        synced.append(("folder" if stat.S_ISDIR(mode) else "file", content))
        fsync(fd)

    monkeypatch.setattr(os, "fsync", noting)
    files.write_bytes(files.output_target(target), b"new\n")
    assert synced == [("file", None), ("folder", b"new\n")]


# -- symbolic links and special files ------------------------------------------------------------------


@pytest.mark.parametrize("command", WRITERS)
def test_output_through_a_link_replaces_the_file_it_leads_to(tmp_path: Path, command: list[str]) -> None:
    """`-o LINK` writes the file the link leads to (in that file's folder, atomically, keeping its
    permissions); the link stays a link."""
    (tmp_path / "a.jsonl").write_bytes(ANSWERS)
    (tmp_path / "results").mkdir()
    real = tmp_path / "results" / "latest.json"
    real.write_bytes(b"old\n")
    real.chmod(0o600)
    (tmp_path / "out.json").symlink_to("results/latest.json")
    done = triage(*command, "-o", "out.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert os.readlink(tmp_path / "out.json") == "results/latest.json"
    assert json.loads(real.read_bytes())
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert not temporaries(tmp_path)


def test_output_through_a_link_to_nothing_creates_its_file(tmp_path: Path) -> None:
    """A link that leads to no file yet: the file is created where it leads."""
    (tmp_path / "out.json").symlink_to("made.json")
    done = triage("schema", "-o", "out.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.json").is_symlink()
    assert json.loads((tmp_path / "made.json").read_bytes())["$schema"]


def test_output_through_a_loop_of_links_is_refused(tmp_path: Path) -> None:
    """Links that lead round to each other are refused, exit 2, and stay as they were."""
    (tmp_path / "x.json").symlink_to("y.json")
    (tmp_path / "y.json").symlink_to("x.json")
    done = triage("schema", "-o", "x.json", cwd=tmp_path)
    assert done.returncode == 2
    assert b"cannot write x.json: its symbolic links lead round in a loop." in done.stderr
    assert os.readlink(tmp_path / "x.json") == "y.json"


def test_output_to_a_pipe_is_written_straight_in(tmp_path: Path) -> None:
    """A named pipe holds nothing to replace: it is written to, and stays a pipe."""
    (tmp_path / "a.jsonl").write_bytes(ANSWERS)
    fifo = tmp_path / "results.jsonl"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    done = triage("evaluate", "a.jsonl", "-o", str(fifo), cwd=tmp_path)
    reader.join(60)
    assert done.returncode == 0, done.stderr
    assert orjson.loads(received[0])["source"] == "a.jsonl:1"
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can make a device node")
@pytest.mark.parametrize("command", WRITERS)
def test_output_to_a_device_is_written_straight_in(tmp_path: Path, command: list[str]) -> None:
    """A character device (here a node of the null device made for the test, so that a fault could
    never replace the system's /dev/null) holds nothing to replace: it is written to, and stays a device."""
    (tmp_path / "a.jsonl").write_bytes(ANSWERS)
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    done = triage(*command, "-o", str(null), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert stat.S_ISCHR(null.lstat().st_mode)
    assert not temporaries(tmp_path)


def test_output_to_a_socket_is_refused(tmp_path: Path) -> None:
    """A socket is not a file to write results to: refused, exit 2."""
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "s.json"))
        done = triage("schema", "-o", "s.json", cwd=tmp_path)
    assert done.returncode == 2
    assert b"cannot write s.json: it is a socket, not a file." in done.stderr
