"""Nearest codebook entry for uint8 patches in one fused GPU kernel (Triton).

Why: the plain search (`kmeans.nearest`) writes a (rows, K) distance block to GPU memory and reads
it back for the argmin: at K=65536 that is ~400 MB per 240x320 frame, so memory bandwidth caps it
(docs/experiments/2026-12-07-implementation-measurements.md). Here each program keeps a block of
patches on chip, streams the codebook through tensor cores and keeps a running (min, argmin) per
patch: the distances never leave the chip.

Exact, not approximate: pixels and table entries are integers 0..255, centred to -128..127 they
are exact in fp16, each product is exact in fp32 and a 300-term sum stays below 2**24, so every
distance |c|^2 - 2 x.c is an exact integer and the chosen code is the first nearest table entry,
the same answer as the exact integer search (tests/compress/test_fused_search.py runs the kernel
through Triton's interpreter on the CPU).
"""

from __future__ import annotations

import functools
import os

import torch

CENTRE = 128  # uint8 -> -128..127: exact in fp16 and keeps the dot products below 2**24
BLOCK_K = 64  # the feature dimension is zero-padded to a multiple of this


def available(device: torch.device | str) -> bool:
    """True where the fused kernel can run: a CUDA device and Triton importable."""
    if torch.device(device).type != "cuda":
        return False
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def centred(patches: torch.Tensor, dim: int) -> torch.Tensor:
    """uint8 (N, D) -> fp16 (N, dim) of value - 128, zero-padded (zeros add nothing to a dot)."""
    out = torch.zeros(patches.shape[0], dim, dtype=torch.float16, device=patches.device)
    out[:, : patches.shape[1]] = patches.to(torch.int16) - CENTRE
    return out


class PreparedTable:
    """The uint8 table laid out for the kernel once: centred fp16 rows padded to whole tiles, and
    their exact squared norms (padding rows get +inf, so they are never chosen)."""

    def __init__(self, table: torch.Tensor, block_n: int = 256) -> None:
        k, d = table.shape
        self.k, self.d = k, d
        self.dim = -(-d // BLOCK_K) * BLOCK_K
        self.rows = -(-k // block_n) * block_n
        c = torch.zeros(self.rows, d, dtype=torch.uint8, device=table.device)
        c[:k] = table
        self.centred = centred(c, self.dim)
        sq = (self.centred.float() ** 2).sum(1)  # exact: at most 300 * 128**2 < 2**24
        sq[k:] = float("inf")
        self.sq = sq.contiguous()


@functools.cache
def _jit():
    """The Triton kernel (vidrop/compress/nearest_kernel.py), imported on first use so that
    importing this module never needs Triton."""
    import triton

    from vidrop.compress.nearest_kernel import nearest_kernel

    return triton.jit(nearest_kernel)


@functools.cache
def _tuned():
    """The kernel with its tile sizes chosen by timing on the GPU (on the first call)."""
    import triton

    configs = [
        triton.Config({"BLOCK_M": bm, "BLOCK_N": bn}, num_warps=w, num_stages=s)
        for bm, bn, w, s in ((128, 128, 8, 3), (128, 256, 8, 3), (256, 128, 8, 3), (64, 128, 4, 4))
    ]
    # keyed by the codebook, not the row count: videos differ in length, tuning happens once
    return triton.autotune(configs=configs, key=["n_codes", "dim"])(_jit())


def fused_nearest(patches: torch.Tensor, table: PreparedTable) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 patches (N, D) -> (int64 ids of the nearest table entry, exact squared distances).

    Runs on the patches' device: CUDA, or the CPU under TRITON_INTERPRET=1 (tests)."""
    if patches.dtype != torch.uint8 or patches.dim() != 2 or patches.shape[1] != table.d:
        raise ValueError(
            f"expected uint8 patches (N, {table.d}), got {patches.dtype} {patches.shape}"
        )
    n = patches.shape[0]
    x = centred(patches, table.dim)
    ids = torch.empty(n, dtype=torch.int32, device=patches.device)
    dist = torch.empty(n, dtype=torch.float32, device=patches.device)
    args = (x, table.centred, table.sq, ids, dist, n, table.rows)
    if n and patches.is_cuda:
        grid = lambda meta: (-(-n // meta["BLOCK_M"]),)  # noqa: E731
        _tuned()[grid](*args, dim=table.dim, BLOCK_K=BLOCK_K)
    elif n:  # Triton's CPU interpreter (tests): small tiles, no timing
        if os.environ.get("TRITON_INTERPRET") != "1":
            raise ValueError("fused_nearest runs on CUDA, or on the CPU with TRITON_INTERPRET=1")
        _jit()[(-(-n // 32),)](*args, dim=table.dim, BLOCK_K=BLOCK_K, BLOCK_M=32, BLOCK_N=32)
    x_sq = (x.float() ** 2).sum(1)
    return ids.long(), (dist + x_sq).clamp_min_(0)
