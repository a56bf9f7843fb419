"""k-means in torch: chunked nearest-centroid search, k-means++ or sampled init, empty-cluster
re-seeding. Runs on whatever device the data is on (GPU when there is one), fixed seed ->
same centroids on the same device.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch


@contextmanager
def tensor_float32(enabled: bool) -> Iterator[None]:
    """TF32 matmuls inside the block (CUDA only; tensor cores, several times the fp32 rate).

    For patch search it loses nothing that matters: pixel values 0..255 are exact in TF32's
    10-bit mantissa, integer (uint8 table) centroids too, and products accumulate in fp32."""
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before


def nearest(
    x: torch.Tensor, centroids: torch.Tensor, chunk: int = 8192, c_sq: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Index of the nearest centroid (squared L2) for each row of x, and that squared distance.

    Distances come from |x|^2 - 2 x.c + |c|^2 with fp32 accumulation (TF32 inputs on CUDA), a
    (chunk, K) block at a time, so memory stays at chunk * K floats whatever the number of rows."""
    c = centroids.float()
    c_sq = (c * c).sum(1) if c_sq is None else c_sq
    ids = torch.empty(x.shape[0], dtype=torch.long, device=x.device)
    dist = torch.empty(x.shape[0], dtype=torch.float32, device=x.device)
    with tensor_float32(x.is_cuda):
        for s in range(0, x.shape[0], chunk):
            xs = x[s : s + chunk].float()
            d = torch.addmm(c_sq, xs, c.T, alpha=-2.0)  # |c|^2 - 2 x.c  (|x|^2 added below)
            best, idx = d.min(1)
            ids[s : s + chunk] = idx
            dist[s : s + chunk] = (best + (xs * xs).sum(1)).clamp_min_(0)
    return ids, dist


def kmeans_plus_plus(x: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """k-means++ seeding (Arthur & Vassilvitskii): each new centre drawn with probability
    proportional to the squared distance to the nearest centre so far. k sequential passes over
    x: for large k use `sampled_init`."""
    x = x.float()
    n = x.shape[0]
    x_sq = (x * x).sum(1)
    picks = [int(torch.randint(n, (1,), generator=generator))]

    def dist_to(i: int) -> torch.Tensor:
        return (x_sq - 2 * (x @ x[i]) + x_sq[i]).clamp_min_(0)

    d = dist_to(picks[0])
    for _ in range(1, k):
        total = d.sum()
        if total <= 0:  # fewer distinct points than k: fall back to uniform draws
            pick = int(torch.randint(n, (1,), generator=generator))
        else:
            pick = int(torch.multinomial((d / total).cpu(), 1, generator=generator))
        picks.append(pick)
        d = torch.minimum(d, dist_to(pick))
    return x[torch.tensor(picks, device=x.device)].clone()


def sampled_init(x: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """k distinct rows drawn uniformly (Forgy): the usual init at k = 65536, where k-means++'s
    k sequential passes cost more than the whole fit."""
    return x[torch.randperm(x.shape[0], generator=generator)[:k].to(x.device)].float().clone()


def initial_centroids(
    x: torch.Tensor, k: int, init: str | torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """ "kmeans++", "sample", "auto" (k-means++ up to k=1024, else sample), or given centroids
    (a warm start, e.g. refining an existing codebook)."""
    if isinstance(init, torch.Tensor):
        if init.shape != (k, x.shape[1]):
            raise ValueError(f"init centroids {tuple(init.shape)} must be {(k, x.shape[1])}")
        return init.to(x.device).float().clone()
    if init == "auto":
        init = "kmeans++" if k <= 1024 else "sample"
    if init == "kmeans++":
        return kmeans_plus_plus(x, k, generator)
    if init == "sample":
        return sampled_init(x, k, generator)
    raise ValueError(f"unknown init {init!r}: use auto, kmeans++ or sample")


@dataclass
class KMeansResult:
    centroids: torch.Tensor  # (k, d) float32
    inertia: list[float] = field(default_factory=list)  # mean squared distance per iteration
    reseeded: list[int] = field(default_factory=list)  # empty clusters re-seeded per iteration
    iterations: int = 0


def kmeans(
    x: torch.Tensor,
    k: int,
    iterations: int = 20,
    seed: int = 0,
    init: str | torch.Tensor = "auto",
    tol: float = 1e-4,
    chunk: int = 8192,
    on_iteration: Callable[[int, float, int], None] | None = None,
) -> KMeansResult:
    """Lloyd's k-means on the rows of x (n, d); stops early when inertia improves by < tol.

    Empty clusters are re-seeded at the points currently worst served (largest distance), which
    splits the clusters that need it most and keeps all k codes in use."""
    n = x.shape[0]
    if n < k:
        raise ValueError(f"k-means needs at least k={k} samples, got {n}; sample more patches")
    x = x.float()  # once: uint8 patches are converted here, not in every pass
    c = initial_centroids(x, k, init, torch.Generator().manual_seed(seed))
    result = KMeansResult(c)
    for it in range(iterations):
        ids, dist = nearest(x, c, chunk)
        inertia = float(dist.mean())
        sums = torch.zeros_like(c).index_add_(0, ids, x)
        counts = torch.bincount(ids, minlength=k)
        empty = (counts == 0).nonzero().flatten()
        c = sums / counts.clamp_min(1).unsqueeze(1).to(sums.dtype)
        if len(empty):
            worst = dist.topk(len(empty)).indices
            c[empty] = x[worst]
        result.inertia.append(inertia)
        result.reseeded.append(len(empty))
        result.iterations = it + 1
        if on_iteration is not None:
            on_iteration(it, inertia, len(empty))
        prev = result.inertia[-2] if it else None
        if prev is not None and len(empty) == 0 and prev - inertia <= tol * prev:
            break
    result.centroids = c
    return result
