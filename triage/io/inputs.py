"""Finding answer files: the paths given to `triage evaluate`, folders walked safely, each file's format.

A path is a file, a folder (walked for the answer files in it, with links
followed and each folder read once: `find_inputs`), a pipe or device, or `-` for
standard input (named `<stdin>` in the sources). The name of a file tells its
format (`triage.io.formats`), unless `--input-format` says it. Only regular
files found in a folder are ever opened, without waiting (`open_input`).
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from triage.fs.files import FileId, file_id, kind_of, open_regular
from triage.io.formats import EXTENSIONS, INPUT_FORMATS, format_named

STDIN = "-"
STDIN_NAME = "<stdin>"


@dataclass(frozen=True)
class InputFile:
    """One answer file to read: its path (or `-`), the name its sources use, and its format.

    `identity` is the file's device and inode (None when unknown): no output may
    be written over it. `stream` marks standard input, or a pipe or device named
    on the command line: read once from the start, never cut into pieces.
    `problem`, when set, says why a path found in a folder is not read at all;
    its error entry stands in its place.
    """

    path: str
    name: str
    format: str
    size: int = 0
    identity: FileId | None = None
    stream: bool = False
    problem: str | None = None



@dataclass
class Inputs:
    """What the paths given to `triage evaluate` name: the files to read, in order, and what was wrong.

    `problems` are usage errors (a path that does not exist, a format that cannot
    be told); `notes` say what a folder walk skipped without losing anything (a
    folder reached a second time through a link).
    """

    files: list[InputFile] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def reads(self) -> dict[FileId, str]:
        """The identity of every file the run reads, with what it is (for `files.refuse_reading`)."""
        return {
            f.identity: "standard input" if f.path == STDIN else f"the answer file {f.name}"
            for f in self.files
            if f.identity is not None and f.problem is None
        }


def find_inputs(paths: Sequence[str], input_format: str | None = None) -> Inputs:
    """The answer files named by `paths` (files, folders searched recursively, `-`), in order.

    A problem with one path does not keep the others out. Only regular files are
    read from folders; a pipe, a device or socket, a broken link or a folder that
    cannot be read, found by the walk, is an error entry in its place (see `_walk`).
    A pipe or device named on the command line is read as a stream, as standard
    input is (with `--input-format` unless its name tells the format).
    """
    inputs = Inputs()
    for path in paths:
        if path == STDIN:
            if input_format is None:
                inputs.problems.append(f"-: standard input needs --input-format ({_formats()}).")
            else:
                inputs.files.append(
                    InputFile(STDIN, STDIN_NAME, input_format, identity=_stdin_id(), stream=True)
                )
            continue
        try:
            status = os.stat(path)
        except FileNotFoundError:
            inputs.problems.append(f"{path}: {_missing(path)}.")
            continue
        except OSError as exc:
            inputs.problems.append(f"{path}: cannot be read: {exc.strerror}.")
            continue
        mode = status.st_mode
        if stat.S_ISDIR(mode):
            before = len(inputs.files)
            inputs.files += _walk(path, input_format, inputs.notes)
            if len(inputs.files) == before:
                known = ", ".join(sorted(EXTENSIONS))
                inputs.problems.append(f"{path}: a folder with no answer files (looked for {known}).")
            continue
        regular = stat.S_ISREG(mode)
        if not (regular or stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
            inputs.problems.append(f"{path}: {kind_of(mode)}, not a file, a folder or a pipe.")
            continue
        fmt = input_format or format_named(path, "read")
        if fmt is None:
            inputs.problems.append(
                f"{path}: cannot tell the format from the name; use --input-format {_formats()}."
            )
            continue
        size = status.st_size if regular else 0
        inputs.files.append(InputFile(path, path, fmt, size, file_id(status), stream=not regular))
    return inputs


def _stdin_id() -> FileId | None:
    try:
        return file_id(os.fstat(sys.stdin.fileno()))
    except (AttributeError, OSError, ValueError):
        return None


def _missing(path: str) -> str:
    """Why a path that cannot be found is missing: nothing there, or a link to nothing."""
    if os.path.islink(path):
        return f"a link to {os.readlink(path)}, which does not exist"
    return "no such file or folder"


def _walk(top: str, input_format: str | None, notes: list[str]) -> list[InputFile]:
    """The answer files in a folder and the folders in it, depth first, each folder's files (sorted by
    name) before its subfolders; names starting with `.` are left out, and files whose names do not
    end in an answer file extension.

    Symbolic links are followed, to files and folders alike. Each folder is read
    once, however many ways lead to it (its device and inode are noted): a link
    back to a folder that holds it (a loop), or to a folder already read, is
    skipped with a note. Only regular files are ever opened; anything else the
    walk finds — a pipe, device or socket with an answer file's name, a broken
    link, a folder that cannot be read — becomes an error entry in its place, so
    that nothing is skipped silently and the run exits 1.
    """
    found: list[InputFile] = []
    first_path: dict[FileId, str] = {}
    pending: list[tuple[str, FileId | None]] = [(top, None)]
    while pending:
        folder, identity = pending.pop()
        try:
            if identity is None:
                identity = file_id(os.stat(folder))
            if identity in first_path:
                notes.append(_again(folder, first_path[identity]))
                continue
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError as exc:
            found.append(
                _not_read(
                    folder,
                    f"a folder that cannot be read ({exc.strerror}); "
                    "the answer files in it were not evaluated.",
                )
            )
            continue
        first_path[identity] = folder
        subfolders: list[tuple[str, FileId | None]] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = entry.path
            named = format_named(entry.name, "read")  # an answer file's name tells its format
            try:
                if not (named or entry.is_symlink()):
                    if entry.is_dir(follow_symlinks=False):
                        subfolders.append((path, None))
                    continue
                status = os.stat(path)  # through a link, to what it leads to
            except OSError as exc:
                found.append(_not_read(path, _unfollowed(path, exc)))
                continue
            mode = status.st_mode
            if stat.S_ISDIR(mode):
                subfolders.append((path, file_id(status)))
            elif named is None:
                continue
            elif stat.S_ISREG(mode):
                found.append(InputFile(path, path, input_format or named, status.st_size, file_id(status)))
            else:
                found.append(
                    _not_read(
                        path,
                        f"{kind_of(mode)}, not a regular file; pipes and devices found in a "
                        "folder are never opened (name one on the command line to read it).",
                    )
                )
        pending += reversed(subfolders)
    return found


def _again(folder: str, first: str) -> str:
    """The note for a folder that a walk reaches a second time."""
    if folder.startswith(first.rstrip(os.sep) + os.sep):
        return f"{folder}: a link back to {first}, which holds it (a loop); not followed."
    return f"{folder}: the folder {first} again (through a link); its files are read once, as {first}."


def _unfollowed(path: str, exc: OSError) -> str:
    """Why a path a walk found cannot be looked at."""
    if os.path.islink(path):
        if exc.errno == errno.ENOENT:
            return f"a link to {os.readlink(path)}, which does not exist; nothing was read."
        if exc.errno == errno.ELOOP:
            return "a link that leads round in a loop; nothing was read."
        return f"a link that cannot be followed ({exc.strerror}); nothing was read."
    return f"cannot be read ({exc.strerror})."


def _not_read(path: str, why: str) -> InputFile:
    """In place of what a walk found and could not read: its error entry."""
    return InputFile(path, path, "", problem=f"{path}: {why}")


def _formats() -> str:
    return ", ".join(INPUT_FORMATS[:-1]) + f" or {INPUT_FORMATS[-1]}"


def open_input(file: InputFile) -> BinaryIO:
    """The file's bytes (standard input for `-`); raises OSError when it cannot be opened.

    A file found as a regular file is opened so that a pipe or device put in its
    place since cannot make the run wait (`files.open_regular`); a pipe or device
    named on the command line is opened as it is, and waits for its writer.
    """
    if file.path == STDIN:
        return sys.stdin.buffer
    if file.stream:
        return open(file.path, "rb")  # closed by the caller
    return open_regular(file.path)


