"""Which tokens the student keeps: random tokens, random tubes, or V-JEPA-style blocks.

Every function returns a (B, K) int64 tensor of kept token indices into the t-major flattened grid,
sorted ascending, with the same K for every clip so that kept tokens stack into one batch. Dropped
tokens are removed from the sequence, so the student's compute scales with K.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from vidrop.tokens.grid import TokenGrid


def num_kept(n: int, drop_ratio: float) -> int:
    """Number of items kept out of `n` when `drop_ratio` of them are dropped (at least one)."""
    if not 0.0 <= drop_ratio < 1.0:
        raise ValueError(f"drop_ratio must be in [0, 1), got {drop_ratio}")
    return max(1, min(n, round(n * (1.0 - drop_ratio))))


def _lowest_k(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the k lowest scores per row, sorted ascending by index."""
    idx = scores.argsort(dim=1)[:, :k]
    return idx.sort(dim=1).values


def _expand_tubes(spatial_idx: torch.Tensor, grid: TokenGrid) -> torch.Tensor:
    """Spatial positions (B, Ks) -> token indices (B, Ks * T) at every time step, sorted."""
    offsets = torch.arange(grid.t, device=spatial_idx.device) * grid.spatial
    tokens = spatial_idx[:, None, :] + offsets[None, :, None]
    return tokens.flatten(1)  # t-major, each time slice sorted -> whole row sorted


def drop_random(
    batch: int, grid: TokenGrid, drop_ratio: float, generator: torch.Generator
) -> torch.Tensor:
    """Keep a uniformly random subset of tokens per clip."""
    k = num_kept(grid.numel, drop_ratio)
    scores = torch.rand(batch, grid.numel, generator=generator)
    return _lowest_k(scores, k)


def drop_tube(
    batch: int, grid: TokenGrid, drop_ratio: float, generator: torch.Generator
) -> torch.Tensor:
    """Keep random spatial positions through all time steps (VideoMAE's tube pattern)."""
    ks = num_kept(grid.spatial, drop_ratio)
    scores = torch.rand(batch, grid.spatial, generator=generator)
    return _expand_tubes(_lowest_k(scores, ks), grid)


def _block_union(
    grid: TokenGrid,
    n_drop: int,
    generator: torch.Generator,
    scale: tuple[float, float],
    aspect: tuple[float, float],
) -> torch.Tensor:
    """Boolean (H, W) union of random rectangles covering at least `n_drop` positions."""
    covered = torch.zeros(grid.h, grid.w, dtype=torch.bool)
    log_lo, log_hi = math.log(aspect[0]), math.log(aspect[1])
    while int(covered.sum()) < n_drop:
        u = torch.rand(4, generator=generator).tolist()
        area = grid.spatial * (scale[0] + (scale[1] - scale[0]) * u[0])
        ratio = math.exp(log_lo + (log_hi - log_lo) * u[1])
        bh = max(1, min(grid.h, round(math.sqrt(area * ratio))))
        bw = max(1, min(grid.w, round(math.sqrt(area / ratio))))
        top = int(u[2] * (grid.h - bh + 1))
        left = int(u[3] * (grid.w - bw + 1))
        covered[top : top + bh, left : left + bw] = True
    return covered


def drop_block(
    batch: int,
    grid: TokenGrid,
    drop_ratio: float,
    generator: torch.Generator,
    scale: tuple[float, float] = (0.15, 0.7),
    aspect: tuple[float, float] = (0.75, 1.5),
) -> torch.Tensor:
    """Drop a union of random spatial blocks through all time steps (V-JEPA's multi-block).

    Blocks are added until they cover the drop share; the kept set is everything outside the blocks,
    topped up with random positions inside them so that every clip keeps exactly the same count.
    """
    ks = num_kept(grid.spatial, drop_ratio)
    rows = []
    for _ in range(batch):
        covered = _block_union(grid, grid.spatial - ks, generator, scale, aspect).flatten()
        scores = covered.float() + torch.rand(grid.spatial, generator=generator) * 0.5
        rows.append(scores)
    return _expand_tubes(_lowest_k(torch.stack(rows), ks), grid)


DropFn = Callable[[int, TokenGrid, float, torch.Generator], torch.Tensor]
DROP_PATTERNS: dict[str, DropFn] = {"random": drop_random, "tube": drop_tube, "block": drop_block}


def drop_tokens(
    pattern: str, batch: int, grid: TokenGrid, drop_ratio: float, generator: torch.Generator
) -> torch.Tensor:
    """Kept token indices (B, K) for the named pattern; drop_ratio 0 keeps every token."""
    if pattern not in DROP_PATTERNS:
        raise ValueError(f"unknown drop pattern {pattern!r}; choose one of {sorted(DROP_PATTERNS)}")
    return DROP_PATTERNS[pattern](batch, grid, drop_ratio, generator)
