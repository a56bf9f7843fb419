"""Reading other people's checkpoints without running their code.

`torch.load(weights_only=True)` rebuilds tensors and plain containers only. Real VideoMAE and
V-JEPA checkpoints also hold a few harmless objects (their argparse.Namespace of training args);
those, and only those, are allowed. Anything else (a pickle that would import os.system, say) is
refused with a message that says why.
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path
from typing import Any

import torch

from vidrop.errors import VidropError

SAFE_GLOBALS: list[Any] = [argparse.Namespace]


class CheckpointError(VidropError, RuntimeError):
    """A checkpoint that is unsafe, truncated, or not the layout it should be."""


def load_torch_file(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        what = str(exc).split("\n")[0][:300]
        raise CheckpointError(
            f"{path}: refused: it holds Python objects beyond tensors and plain values, which "
            f"could run code when loaded ({what}). vidrop never unpickles such objects; if you "
            "trust the file, convert it to safetensors in a sandbox first."
        ) from exc
    except Exception as exc:  # zip/EOF errors of truncated files, random bytes, ...
        raise CheckpointError(
            f"{path}: cannot be read as a PyTorch checkpoint ({type(exc).__name__}: {exc}); "
            "is it complete? A truncated download or an interrupted copy gives this."
        ) from exc
