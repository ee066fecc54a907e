"""Files in and out: opened without hanging, written whole or not at all, never over what is read.

Reading: `open_regular` opens a file that must be a regular file without ever
waiting on a pipe or device put in its place (it opens without blocking, then
looks at what it opened).

Writing: every file triage writes — results (`evaluate -o`), a schema, a FHIR
export, saved answers, the result files of a Dask run — goes through
`atomic_write` (or `atomic_path`, for a writer that opens its file by name):

* it is written to a temporary file in the target's own folder, flushed to disk
  (`fsync`), and renamed over the target once complete, after which the folder
  is flushed too (so the new name survives a power cut); a failure at any point
  (a full disk, a folder that cannot take new files, a signal) removes the
  temporary file and leaves an existing target exactly as it was;
* the new file keeps the target's permissions (and owner, where allowed); a new
  target gets the usual 0666 less the umask, applied by the kernel (no
  process-wide `umask` call); private files (saved answers) are always 0600;
* a symbolic link is followed: the file it leads to is replaced, in that file's
  folder, and the link stays; a link that leads round in a loop is refused;
* an existing named pipe or character device (a terminal, `/dev/null`) holds no
  content to lose and cannot be replaced: it is written to directly;
* a folder, a block device or a socket is refused, and so is any file the same
  run reads (`refuse_reading`): its identity (device and inode) is compared, so
  no other name for it (`./x`, a symbolic or hard link) gets through.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

FileId = tuple[int, int]
"""A file's identity: its device and inode numbers, the same under every name that leads to it."""


def file_id(status: os.stat_result) -> FileId:
    """The identity of the file `status` describes."""
    return status.st_dev, status.st_ino


def identities(paths: Iterable[tuple[str | Path, str]]) -> dict[FileId, str]:
    """The identity of each existing path, with what it is to the run (paths that cannot be looked at
    are left out: they cannot be read either)."""
    found: dict[FileId, str] = {}
    for path, role in paths:
        try:
            found.setdefault(file_id(os.stat(path)), role)
        except (OSError, ValueError):
            continue
    return found


def kind_of(mode: int) -> str:
    """What a file that is not a regular file or a folder is, in words."""
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


# -- reading ---------------------------------------------------------------------------------------------


class NotRegular(OSError):
    """A file expected to be a regular file is something else (a pipe, a device) when opened;
    `strerror` says what."""


def open_regular(path: str | Path) -> BinaryIO:
    """Open a regular file for reading (buffered).

    Opened without blocking, so that a named pipe or device found in its place
    (swapped in since the file was listed) cannot keep the open waiting; what was
    opened is then checked, and blocking reads restored. Raises `NotRegular`
    (an `OSError`) for anything but a regular file.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegular(errno.EINVAL, f"not a regular file but {kind_of(mode)}", str(path))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


# -- writing ---------------------------------------------------------------------------------------------


class OutputError(Exception):
    """A file cannot be written there; the message says why and what to do instead."""


@dataclass(frozen=True)
class Target:
    """Where a file is to be written: the path given, the file really written, and what is there now."""

    path: Path
    """The path as given."""
    real: Path
    """The file written: `path` with every symbolic link followed."""
    direct: bool
    """An existing named pipe or character device: written to directly, nothing to replace."""
    existing: FileId | None
    """The identity of the file there now, if any."""

    @property
    def folder(self) -> Path:
        """The folder the file is written in, as the user would name it."""
        return self.real.parent if self.path.is_symlink() else self.path.parent


def output_target(path: Path, *, action: str = "write") -> Target:
    """Look at where a file is to be written, refusing what can never take it. Raises `OutputError`,
    whose message begins "cannot `action` `path`"."""
    try:
        status: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        status = None
    except OSError as exc:
        raise OutputError(cannot_write(path, exc, action=action)) from None
    if status is not None:
        mode = status.st_mode
        if stat.S_ISDIR(mode):
            raise OutputError(f"cannot {action} {path}: it is a folder; name a file.")
        if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
            return Target(path, path, direct=True, existing=file_id(status))
        if not stat.S_ISREG(mode):
            raise OutputError(f"cannot {action} {path}: it is {kind_of(mode)}, not a file.")
    real = Path(os.path.realpath(path))
    if real.is_symlink():  # what realpath gives back when links lead round in a loop
        raise OutputError(f"cannot {action} {path}: its symbolic links lead round in a loop.")
    return Target(path, real, direct=False, existing=file_id(status) if status is not None else None)


def refuse_reading(target: Target, reads: Mapping[FileId, str], *, action: str = "write") -> None:
    """Refuse to write over a file that the same run reads.

    `reads` maps the identity of each file read to what it is ("the answer file
    a.jsonl"). The identity is compared, so every name of that file is caught.
    Raises `OutputError`.
    """
    if target.existing is not None and target.existing in reads:
        raise OutputError(
            f"cannot {action} {target.path}: that is {reads[target.existing]}, which this run reads; "
            "writing there would replace it. Name another file."
        )


def refuse_stdout_reading(reads: Mapping[FileId, str]) -> None:
    """Refuse to write standard output when it is a file the same run reads (`> a.jsonl` when
    a.jsonl is an input: the output would be read back as answers, `1<>` would write over them).
    Raises `OutputError`."""
    try:
        status = os.fstat(sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):
        return
    if stat.S_ISREG(status.st_mode) and file_id(status) in reads:
        raise OutputError(
            f"cannot write standard output: it is {reads[file_id(status)]}, which this run reads; "
            "writing there would replace it (or feed the results back in). Send it to another file."
        )


def check_can_create(target: Target, *, action: str = "write") -> None:
    """Create and remove a file in the target's folder: a folder that cannot take the file is known
    before any work is done. Raises `OutputError`."""
    if target.direct:
        return
    try:
        fd, temp = _create_temp(target.real, 0o600)
    except OSError as exc:
        raise OutputError(cannot_write(target.path, exc, target.folder, action=action)) from None
    os.close(fd)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temp)


def cannot_write(path: Path, exc: OSError, folder: Path | None = None, *, action: str = "write") -> str:
    """Why `path` cannot be written (its file in `folder`), in words, for a message."""
    folder = folder if folder is not None else path.parent
    if exc.errno == errno.ENOENT:
        why = f"the folder {folder} does not exist"
    elif exc.errno == errno.ENOTDIR:
        why = f"{_file_in_the_way(folder)} is a file, not a folder"
    elif exc.errno == errno.ELOOP:
        why = "its symbolic links lead round in a loop"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        why = f"no permission to write in {folder}"
    elif exc.errno == errno.EROFS:
        why = f"{folder} is on a read-only file system"
    elif exc.errno == errno.EISDIR:
        why = "it is a folder; name a file"
    else:
        why = exc.strerror or str(exc)
    return f"cannot {action} {path}: {why}."


def _file_in_the_way(folder: Path) -> Path:
    """The part of a folder's path that is a file (when a path leads through one)."""
    for part in (folder, *folder.parents):
        if part.exists():
            return part
    return folder


def _create_temp(real: Path, mode: int) -> tuple[int, str]:
    """A new, empty temporary file beside `real` (hidden, so no folder walk reads it), created with
    `mode` less the umask, as the kernel applies it."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    stem = real.name[:160]  # room for the rest within the longest file name
    for _ in range(100):
        temp = str(real.parent / f".{stem}.{secrets.token_hex(4)}.part")
        try:
            return os.open(temp, flags, mode), temp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(real.parent))


@contextmanager
def atomic_write(target: Target, *, private: bool = False, replace: bool = True) -> Iterator[BinaryIO]:
    """An unbuffered file whose content appears under `target` only once it is complete.

    `private`: readable by its owner only (0600), whatever was there before.
    `replace`: replace an existing file; if false, one that appeared meanwhile is
    kept and `OutputError` raised. Any failure (an `OSError` while writing, a
    signal) leaves the target as it was and no temporary file behind.
    """
    if target.direct:
        fd = os.open(target.path, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)
        with os.fdopen(fd, "wb", buffering=0) as out:
            yield out
        return
    with (
        _temporary(target, private=private, replace=replace) as (fd, _),
        os.fdopen(fd, "wb", buffering=0, closefd=False) as out,
    ):
        yield out


@contextmanager
def atomic_path(target: Target, *, private: bool = False, replace: bool = True) -> Iterator[str]:
    """A path for a writer that opens its file by name (Arrow's own file writer, with no Python buffer
    in between): what it writes there appears under `target` only once the block ends without an error,
    as with `atomic_write`.

    The path is that of a new, empty temporary file beside the target, with the
    permissions it is to have; the writer must close its file before the block
    ends. An existing named pipe or character device is named as it is.
    """
    if target.direct:
        yield str(target.path)
        return
    with _temporary(target, private=private, replace=replace) as (_, temp):
        yield temp


@contextmanager
def _temporary(target: Target, *, private: bool, replace: bool) -> Iterator[tuple[int, str]]:
    """A temporary file beside the target (its open descriptor and its path), put in the target's place
    once the block ends, flushed to disk; removed instead if anything fails."""
    try:
        old: os.stat_result | None = os.stat(target.real)
    except FileNotFoundError:
        old = None
    if old is not None and not stat.S_ISREG(old.st_mode):
        old = None
    # Created for the owner alone unless the file is new and public anyway: anyone else could
    # otherwise open it in the moment before its permissions are set, and read it later.
    fd, temp = _create_temp(target.real, 0o666 if old is None and not private else 0o600)
    try:
        try:
            _take_over(fd, old, private)
            yield fd, temp
            os.fsync(fd)  # whoever wrote the file, through whichever descriptor
        finally:
            os.close(fd)
        if replace:
            os.replace(temp, target.real)
        else:
            _link_new(temp, target)
        _sync_folder(target.real.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def write_bytes(target: Target, data: bytes, *, private: bool = False, replace: bool = True) -> None:
    """Write `data` to `target` atomically (see `atomic_write`)."""
    with atomic_write(target, private=private, replace=replace) as out:
        view = memoryview(data)
        while view:
            view = view[out.write(view) or 0 :]


def _take_over(fd: int, old: os.stat_result | None, private: bool) -> None:
    """Give the new file the permissions it must have: 0600 when private, else those of the file it
    replaces (and its owner and group, where allowed), so that a private results file stays private."""
    if private:
        os.fchmod(fd, 0o600)
        return
    if old is None:
        return  # a new file: 0666 less the umask, as created
    mine = os.fstat(fd)
    if (old.st_uid, old.st_gid) != (mine.st_uid, mine.st_gid):
        with contextlib.suppress(PermissionError):
            os.fchown(fd, old.st_uid, old.st_gid)
    os.fchmod(fd, stat.S_IMODE(old.st_mode) & 0o777)


def _link_new(temp: str, target: Target) -> None:
    """Put `temp` in place under the target's name only if nothing is there (a hard link fails if
    the name is taken, where checking first and renaming would race)."""
    try:
        os.link(temp, target.real)
    except FileExistsError:
        raise OutputError(f"{target.path} already exists; use --force to replace it.") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV):
            raise
        # A file system without hard links: check, then rename.
        if target.real.exists():
            raise OutputError(f"{target.path} already exists; use --force to replace it.") from None
        os.replace(temp, target.real)
        return
    os.unlink(temp)


def _sync_folder(folder: Path) -> None:
    """Flush the folder's entries, so the renamed file is found after a power cut (best effort:
    some file systems cannot)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
