"""One writer per output folder: `pretrain`, `compare`, `compress encode` and `eval all` hold
FOLDER/.vidrop.lock while they write there, so a second command on the same folder stops at
once and names the holder instead of training, checkpointing and logging over it.

The lock file is created atomically (O_CREAT | O_EXCL, which shared filesystems honour too) and
says who holds it: pid, host, start time and command; while it is held a background thread
touches it every minute. A lock is taken over, with a warning, when its holder is gone: on the
same host, no such process; on another host (a requeued cluster job), no touch for ten minutes.
A takeover renames the old file first, so of two processes taking over only one wins. A process
may take a lock it holds again (a Trainer resumed in one process); it holds it until it has given
it back as often. Under torchrun only rank 0 holds the lock.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import socket
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

from vidrop.errors import VidropError

log = logging.getLogger("vidrop")

LOCK_NAME = ".vidrop.lock"
HEARTBEAT_S = 60.0  # a held lock is touched this often
STALE_AFTER_S = 600.0  # another host's lock untouched this long is its dead job's
_HELD: dict[Path, int] = {}  # lock files this process holds, and how often (released at exit)
_heartbeat: threading.Thread | None = None


class FolderInUseError(VidropError, RuntimeError):
    """Another process holds the folder's lock; the message names it."""


def _holder(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # removed meanwhile, or half written: read again


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _create(path: Path, command: str) -> bool:
    me = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": command,
    }
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        json.dump(me, f)
    return True


def _gone(path: Path, held: dict[str, Any]) -> bool:
    """The holder is dead: on this host, no such process; elsewhere, no heartbeat lately."""
    if held.get("host") == socket.gethostname():
        return not _alive(int(held.get("pid", -1)))
    try:
        return time.time() - path.stat().st_mtime > STALE_AFTER_S
    except FileNotFoundError:
        return True


def _take_over(path: Path) -> None:
    """Move a dead holder's lock aside: only one of several processes doing so succeeds."""
    aside = path.with_name(f"{path.name}.stale.{os.getpid()}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return  # someone else moved it first: look again
    aside.unlink(missing_ok=True)


def acquire(folder: str | Path, command: str) -> Path:
    """Take `folder`'s lock for `command` (what the holder runs, for the message); raises
    FolderInUseError naming the holder if a live process holds it."""
    path = Path(folder) / LOCK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(20):  # a lock moved or rewritten meanwhile: look again
        if path in _HELD or _create(path, command):
            break
        held = _holder(path)
        if held is None:
            time.sleep(0.05)
            continue
        if held.get("pid") == os.getpid() and held.get("host") == socket.gethostname():
            break  # ours, from before this process counted it
        if not _gone(path, held):
            raise FolderInUseError(
                f"{path.parent} is in use: pid {held.get('pid')} on {held.get('host')} has "
                f"written there since {held.get('started')} (`{held.get('command')}`); wait for "
                f"it to end, or delete {path} if that process is known to be gone"
            )
        pid, host, started = held.get("pid"), held.get("host"), held.get("started")
        log.warning(
            "taking over %s: its holder (pid %s on %s, started %s) is gone",
            path,
            pid,
            host,
            started,
        )
        _take_over(path)
    else:
        raise FolderInUseError(f"{path}: could not take the lock; try again")
    _HELD[path] = _HELD.get(path, 0) + 1
    _start_heartbeat()
    return path


def release(folder: str | Path) -> None:
    """Give `folder`'s lock back once (the file goes when every hold is given back)."""
    path = Path(folder) / LOCK_NAME
    if path not in _HELD:
        return
    _HELD[path] -= 1
    if _HELD[path] == 0:
        del _HELD[path]
        held = _holder(path)
        if held is not None and held.get("pid") == os.getpid():
            path.unlink(missing_ok=True)


def _start_heartbeat() -> None:
    global _heartbeat
    if _heartbeat is None or not _heartbeat.is_alive():
        _heartbeat = threading.Thread(target=_beat, name="vidrop-lock-heartbeat", daemon=True)
        _heartbeat.start()


def _beat() -> None:
    """Touch every held lock, so other hosts see its holder alive."""
    while True:
        time.sleep(HEARTBEAT_S)
        for path in list(_HELD):
            with suppress(OSError):  # a folder removed meanwhile: nothing to keep alive
                os.utime(path)


@atexit.register
def _release_all() -> None:
    for path in list(_HELD):
        _HELD[path] = 1
        release(path.parent)


class FolderLock:
    """`with FolderLock(folder, command):` holds the lock for the block."""

    def __init__(self, folder: str | Path, command: str) -> None:
        self.folder, self.command = Path(folder), command

    def __enter__(self) -> FolderLock:
        acquire(self.folder, self.command)
        return self

    def __exit__(self, *exc: object) -> None:
        release(self.folder)
