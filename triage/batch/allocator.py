"""glibc's malloc, told how a batch run uses memory.

A batch run allocates and frees blocks of a few hundred KiB to a few MiB over and
over (a block of lines, a block of output). With glibc's defaults that costs
nothing: its mmap threshold rises to fit such blocks, and the top of the heap is
given back only past a high mark. But the settings MALLOC_TRIM_THRESHOLD_,
MALLOC_TOP_PAD_ or MALLOC_MMAP_THRESHOLD_ in the environment turn that off —
and a process started by one that ran a Dask cluster inherits
MALLOC_TRIM_THRESHOLD_=65536, which distributed sets for its workers. Then every
such block is mapped and unmapped afresh and the heap is trimmed after each: a
JSON Lines run takes 17 times the page faults and more CPU time (bench/README.md). `triage evaluate`
sets its own thresholds, so it runs the same whatever it inherits; its memory
stays bounded, so keeping up to `TRIM` bytes of freed heap costs little.
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
MMAP = 16 << 20
"""Blocks below this come from the heap, and are reused; larger ones are mapped."""
TRIM = 64 << 20
"""Freed memory at the top of the heap is given back to the system past this much."""
PAD = 4 << 20
"""The heap grows by this much more than asked, so it grows seldom."""


def tune_for_batch() -> bool:
    """Set glibc's malloc thresholds for a batch run; whether it was done (only glibc has them)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return False
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return False  # another C library (musl): no such thresholds
    mallopt = libc.mallopt
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return all(mallopt(option, value) == 1 for option, value in _SETTINGS)


_SETTINGS = ((M_MMAP_THRESHOLD, MMAP), (M_TRIM_THRESHOLD, TRIM), (M_TOP_PAD, PAD))
