"""One writer per output folder: `pretrain`, `compare`, `compress encode` and `eval all` hold
FOLDER/.vidrop.lock while they write there, so a second command on the same folder stops at
once and names the holder instead of training, checkpointing and logging over it.

The lock file is created atomically (O_CREAT | O_EXCL, which shared filesystems honour too) and
says who holds it: pid, host, start time and command. A lock whose holder is gone (the same host,
no such process) is taken over with a warning; a lock of another host cannot be checked from
here and is refused, with the file to delete if that job is known to be dead. The holder's own
process may take its lock again (a resumed Trainer in one process). Under torchrun only rank 0
holds the lock.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

from vidrop.errors import VidropError

log = logging.getLogger("vidrop")

LOCK_NAME = ".vidrop.lock"
_HELD: set[Path] = set()  # lock files this process holds (released at exit)


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


def acquire(folder: str | Path, command: str) -> Path:
    """Take `folder`'s lock for `command` (what the holder runs, for the message); raises
    FolderInUseError naming the holder if a live process holds it."""
    path = Path(folder) / LOCK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(10):  # a stale lock taken over by someone else meanwhile: look again
        if _create(path, command):
            break
        held = _holder(path)
        if held is None:
            time.sleep(0.05)
            continue
        ours = held.get("pid") == os.getpid() and held.get("host") == socket.gethostname()
        if ours:
            break
        if held.get("host") != socket.gethostname() or _alive(int(held.get("pid", -1))):
            raise FolderInUseError(
                f"{path.parent} is in use: pid {held.get('pid')} on {held.get('host')} has "
                f"written there since {held.get('started')} (`{held.get('command')}`); wait for "
                f"it to end, or delete {path} if that process is known to be gone"
            )
        pid, started = held.get("pid"), held.get("started")
        log.warning("taking over %s: its holder (pid %s, started %s) is gone", path, pid, started)
        path.unlink(missing_ok=True)
    else:
        raise FolderInUseError(f"{path}: could not take the lock; try again")
    _HELD.add(path)
    return path


def release(folder: str | Path) -> None:
    """Give `folder`'s lock back (if this process holds it)."""
    path = Path(folder) / LOCK_NAME
    if path in _HELD:
        held = _holder(path)
        if held is not None and held.get("pid") == os.getpid():
            path.unlink(missing_ok=True)
        _HELD.discard(path)


@atexit.register
def _release_all() -> None:
    for path in list(_HELD):
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
