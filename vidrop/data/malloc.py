"""Keep freed memory in the process heap (glibc), for loader workers.

A worker builds every sample in fresh multi-megabyte buffers (decoded frames, resized views).
glibc hands blocks that large to mmap and returns them to the kernel on free, so every sample
page-faults and zero-fills its memory again, which can cost more than the decoding itself
(docs/experiments/2026-12-07-implementation-measurements.md).
Raising the mmap and trim thresholds makes free() keep the blocks for the next sample.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

from vidrop.stops import ignore_stop_signals

log = logging.getLogger("vidrop")

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_memory(mmap_threshold_mb: int = 64, trim_threshold_mb: int = 128) -> bool:
    """Raise glibc's mmap and trim thresholds in this process (blocks up to 64 MB come from the
    heap, which keeps up to 128 MB free before returning any); False where there is no glibc
    (macOS, musl): nothing changes there, everything still works."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = mallopt(_M_MMAP_THRESHOLD, mmap_threshold_mb * 2**20) == 1
    ok = mallopt(_M_TRIM_THRESHOLD, trim_threshold_mb * 2**20) == 1 and ok
    if not ok:
        log.debug("mallopt refused the thresholds; freed memory goes back to the kernel")
    return ok


def worker_init(_worker_id: int) -> None:
    """DataLoader worker_init_fn: keep freed memory, and leave stopping to the main process."""
    keep_freed_memory()
    ignore_stop_signals()
