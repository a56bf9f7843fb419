"""Atomic file writes: a file appears whole or not at all, and a failed write says why.

Every file a run depends on (checkpoints, exports, feature caches, store records) is written to a
temporary sibling, flushed to disk, then renamed over the target: a crash or a full disk leaves the
previous file untouched, and the error names the file, the cause and the free space (a writing
library's own error need not: docs/experiments/2026-12-07-implementation-measurements.md).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from vidrop.errors import VidropError

__all__ = [
    "WriteError",
    "atomic_files",
    "atomic_path",
    "write_bytes_atomic",
    "write_error",
    "write_json_atomic",
    "write_text_atomic",
]


def _file_mode() -> int:
    """The mode a new file gets from the process's umask (0644 under the usual 022)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


FILE_MODE = _file_mode()


class WriteError(VidropError, OSError):
    """A file could not be written; the previous version of it, if any, is untouched."""


def _free_space(folder: Path) -> str:
    try:
        return f"{shutil.disk_usage(folder).free / 2**30:.2f} GiB free"
    except OSError:
        return "free space unknown"


def write_error(path: Path, exc: BaseException, appending: bool = False) -> WriteError:
    """The error to raise when writing `path` failed with `exc`: the file, the cause, the free
    space, and what to do. `appending`: the file was appended to in place, not replaced."""
    kept = (
        "A partial last line, if any, is dropped when the run resumes."
        if appending
        else f"The previous {path.name}, if any, is untouched."
    )
    return WriteError(
        f"{path}: could not be written ({type(exc).__name__}: {exc}); "
        f"{_free_space(path.parent)} on {path.parent}. {kept} If the disk is full, free some "
        "space and run the same command again (a training run resumes from its last checkpoint)."
    )


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX only; Windows has no directory handles)."""
    if hasattr(os, "O_DIRECTORY"):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextmanager
def atomic_path(path: str | Path, tmp_suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path to write `path` to; on success it replaces `path` durably.

    `tmp_suffix` is appended to the name (`ckpt.pt.tmp`) unless it ends with the target's own
    suffix, which writers that insist on an extension need (`x.tmp.npy` for `x.npy`). On any error
    the temporary file is removed and a WriteError names the file, the free space and what to do.
    """
    path = Path(path)
    if path.suffix and tmp_suffix.endswith(path.suffix):
        tmp = path.with_name(path.stem + tmp_suffix)
    else:
        tmp = path.with_name(path.name + tmp_suffix)
    try:
        yield tmp
        _fsync(tmp)
        os.chmod(tmp, FILE_MODE)  # some writers (safetensors) create 0600: others could not read
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    except BaseException as exc:
        with suppress(OSError):  # never hide the first error behind a failed clean-up
            tmp.unlink(missing_ok=True)
        if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit: pass them on
            raise
        raise write_error(path, exc) from exc


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | Path, text: str) -> None:
    write_bytes_atomic(path, text.encode())


def write_json_atomic(path: str | Path, value: object, indent: int | None = 2) -> None:
    write_text_atomic(path, json.dumps(value, indent=indent))


@contextmanager
def atomic_files(folder: str | Path) -> Iterator[Path]:
    """A temporary folder beside `folder` for a writer that fills a whole folder (transformers'
    save_pretrained); on success each file it wrote replaces its namesake in `folder`, each one
    whole or not at all, and the temporary folder is removed either way."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        yield tmp
        for written in sorted(tmp.iterdir()):
            with atomic_path(folder / written.name) as target:
                shutil.move(written, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
