"""Position embeddings held on the large clip's (T, H, W) grid and resampled for other grids."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resample_grid(
    pos: torch.Tensor, src: tuple[int, int, int], dst: tuple[int, int, int]
) -> torch.Tensor:
    """(1, T*H*W, D) embeddings on grid `src` -> (1, T'*H'*W', D) on grid `dst` (trilinear).

    Small clips (fewer frames, fewer pixels) and other frame counts reuse the large clip's table.
    """
    if src == dst:
        return pos
    d = pos.shape[-1]
    grid = pos.reshape(1, *src, d).permute(0, 4, 1, 2, 3).float()
    out = F.interpolate(grid, size=dst, mode="trilinear", align_corners=False)
    return out.permute(0, 2, 3, 4, 1).reshape(1, -1, d).to(pos.dtype)
