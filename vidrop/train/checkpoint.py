"""One consolidated checkpoint per run, written atomically and read without unpickling code.

The file is written to a temporary name, flushed to disk, then renamed over the previous one
(vidrop.atomic), so a crash or a full disk at any moment leaves the last good checkpoint intact.
Loading uses weights_only=True: tensors and plain Python values only, never arbitrary objects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from vidrop.atomic import WriteError, atomic_path
from vidrop.models.safe_load import CheckpointError

__all__ = [
    "CHECKPOINT_NAME",
    "CheckpointError",
    "WriteError",
    "load_checkpoint",
    "save_checkpoint",
]

FORMAT = "vidrop-checkpoint"
CHECKPOINT_NAME = "checkpoint.pt"  # in a run folder
VERSION = 1


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Raises WriteError (naming the file and the free space) if it cannot be written."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save({"format": FORMAT, "version": VERSION, **state}, f)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(
            f"{path}: cannot be read as a vidrop checkpoint ({type(exc).__name__}: {exc}). "
            "If it is truncated, delete it (the run restarts from scratch) or restore a copy; "
            "vidrop never unpickles code from checkpoints."
        ) from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a vidrop training checkpoint")
    return state
