"""Frames <-> patch vectors <-> codes: the pure tensor functions the codebook is built on.

A patch vector is the p x p x 3 block of uint8 pixels in (row, column, channel) order, so a
code's table entry (K, p, p, 3) is the patch itself and decoding is one gather plus a reshape.
"""

from __future__ import annotations

import torch


def storage_size(height: int, width: int, short_side: int, patch: int) -> tuple[int, int]:
    """(H, W) of stored frames: the short side scaled to `short_side` (0 keeps it), then both
    sides rounded to the nearest multiple of the patch (the aspect moves by under one patch)."""
    h, w = float(height), float(width)
    if short_side:
        scale = short_side / min(h, w)
        h, w = h * scale, w * scale
    return (max(patch, round(h / patch) * patch), max(patch, round(w / patch) * patch))


def patchify(frames: torch.Tensor, patch: int) -> torch.Tensor:
    """(..., H, W, 3) -> (..., H/p, W/p, p*p*3), H and W multiples of p."""
    *lead, h, w, c = frames.shape
    if h % patch or w % patch:
        raise ValueError(f"frame size {h}x{w} is not a multiple of the patch size {patch}")
    x = frames.reshape(*lead, h // patch, patch, w // patch, patch, c)
    x = x.movedim(-4, -3)  # (..., gh, gw, p, p, c)
    return x.reshape(*lead, h // patch, w // patch, patch * patch * c)


def decode_codes(codes: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Codes (..., gh, gw) (any integer dtype) -> uint8 frames (..., gh*p, gw*p, 3).

    `table` is the codebook as uint8 (K, p*p*3); the lookup runs wherever both tensors are. One
    gather of patch ROWS straight into frame order (no second copy to un-patchify)."""
    k, d = table.shape
    patch = int(round((d // 3) ** 0.5))
    *lead, gh, gw = codes.shape
    rows = table.reshape(k * patch, patch * 3)  # row r of patch c is rows[c * p + r]
    r = torch.arange(patch, device=codes.device).view(patch, 1)
    idx = codes.long().unsqueeze(-2) * patch + r  # (..., gh, p, gw)
    out = torch.index_select(rows, 0, idx.flatten())  # far faster than rows[idx] on the CPU
    return out.reshape(*lead, gh * patch, gw * patch, 3)


def compression_factor(patch: int, code_bytes: int = 2) -> float:
    """Raw uint8 RGB bytes per stored byte: 10x10 patches with uint16 codes give 300/2 = 150."""
    return patch * patch * 3 / code_bytes
