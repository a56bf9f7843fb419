"""The Triton kernel behind `fused_search.fused_nearest` (left undecorated: that module jits it
for the GPU or for Triton's CPU interpreter). One program: BLOCK_M patches against the whole
codebook, BLOCK_N codes at a time through tensor cores, a running (min, argmin) per patch."""

import triton.language as tl


def nearest_kernel(
    x_ptr,
    c_ptr,
    sq_ptr,
    ids_ptr,
    dist_ptr,
    N,
    n_codes: tl.constexpr,
    dim: tl.constexpr,
    BLOCK_K: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    row_ok = rows < N
    offs_k = tl.arange(0, BLOCK_K)
    best = tl.full((BLOCK_M,), float("inf"), tl.float32)
    best_id = tl.zeros((BLOCK_M,), tl.int32)
    for n0 in range(0, n_codes, BLOCK_N):
        cols = n0 + tl.arange(0, BLOCK_N)
        acc = tl.zeros((BLOCK_M, BLOCK_N), tl.float32)
        for k0 in range(0, dim, BLOCK_K):  # a loop, not unrolled: Triton pipelines its loads
            a = tl.load(
                x_ptr + rows[:, None] * dim + (k0 + offs_k)[None, :],
                mask=row_ok[:, None],
                other=0.0,
            )
            b = tl.load(c_ptr + cols[None, :] * dim + (k0 + offs_k)[:, None])
            acc = tl.dot(a, b, acc)
        d = tl.load(sq_ptr + cols)[None, :] - 2.0 * acc
        tile_min = tl.min(d, axis=1)
        tile_arg = tl.argmin(d, axis=1) + n0
        better = tile_min < best  # strict: on a tie the earlier code stays
        best = tl.where(better, tile_min, best)
        best_id = tl.where(better, tile_arg, best_id)
    tl.store(ids_ptr + rows, best_id, mask=row_ok)
    tl.store(dist_ptr + rows, best, mask=row_ok)
