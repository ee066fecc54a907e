"""Files in and out: opened without hanging.

Reading: `open_regular` opens a file that must be a regular file without ever
waiting on a pipe or device put in its place (it opens without blocking, then
looks at what it opened).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
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
