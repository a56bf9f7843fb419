"""Fit a codebook: sample p x p patches from the dataset's frames at the storage resolution,
then k-means them (on the GPU when there is one)."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from vidrop.compress.codebook import Codebook, CodebookMeta
from vidrop.compress.kmeans import kmeans
from vidrop.compress.patches import patchify, storage_size
from vidrop.data.manifest import read_manifest
from vidrop.data.video import VideoError, probe, read_frames, resize_frames
from vidrop.machine import resolve_device
from vidrop.progress import ProgressBar

log = logging.getLogger(__name__)


class PatchSamples(Dataset):
    """`per_video` random patches from random frames of each video, as uint8 (n, p*p*3)."""

    def __init__(
        self, paths: list[str], per_video: int, short_side: int, patch: int, seed: int
    ) -> None:
        self.paths, self.per_video = paths, per_video
        self.short_side, self.patch, self.seed = short_side, patch, seed

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, i])
        path = self.paths[i]
        try:
            info = probe(path)
            size = storage_size(info.height, info.width, self.short_side, self.patch)
            per_frame = (size[0] // self.patch) * (size[1] // self.patch)
            n_frames = min(info.frames, max(1, math.ceil(4 * self.per_video / per_frame)))
            idx = np.sort(rng.choice(info.frames, n_frames, replace=False))
            frames = resize_frames(torch.from_numpy(read_frames(path, idx.tolist())), size)
        except VideoError as exc:
            log.warning("skipped for codebook sampling: %s", exc)
            return torch.empty(0, self.patch * self.patch * 3, dtype=torch.uint8)
        patches = patchify(frames, self.patch).reshape(-1, self.patch * self.patch * 3)
        take = rng.choice(len(patches), min(self.per_video, len(patches)), replace=False)
        return patches[torch.from_numpy(take)]


def sample_patches(
    paths: list[str], samples: int, short_side: int, patch: int, seed: int, workers: int
) -> torch.Tensor:
    per_video = math.ceil(samples / len(paths))
    data = PatchSamples(paths, per_video, short_side, patch, seed)
    loader = DataLoader(data, batch_size=None, num_workers=workers)
    chunks = []
    with ProgressBar(len(paths), "sample patches", unit="video") as bar:
        for x in loader:
            chunks.append(x)
            bar.update(1)
    x = torch.cat(chunks)
    g = torch.Generator().manual_seed(seed)
    return x[torch.randperm(len(x), generator=g)[:samples]]


def fit_codebook(
    data: str | Path,
    out: str | Path,
    patch: int = 10,
    clusters: int = 65536,
    samples: int = 2_000_000,
    short_side: int = 240,
    iterations: int = 20,
    seed: int = 0,
    device: str = "auto",
    workers: int = 2,
    init: str = "auto",
    root: str | None = None,
) -> Codebook:
    manifest = read_manifest(data, root)
    dev = resolve_device(device, "--device")
    t0 = time.perf_counter()
    x = sample_patches(manifest.paths, samples, short_side, patch, seed, workers)
    if len(x) < clusters:
        raise ValueError(
            f"{data} gave {len(x)} patches, fewer than --clusters {clusters}: "
            "raise --samples, add videos, or lower --clusters"
        )
    t_sample = time.perf_counter() - t0
    with ProgressBar(iterations, "k-means", unit="it") as bar:

        def report(it: int, inertia: float, reseeded: int) -> None:
            bar.update(
                1,
                info=f"inertia {inertia:.1f} ({_psnr(inertia, patch):.2f} dB) {reseeded} reseeded",
            )

        result = kmeans(x.to(dev), clusters, iterations, seed, init, on_iteration=report)
    stats = {
        "source": str(Path(data).resolve()),
        "samples": len(x),
        "iterations": result.iterations,
        "inertia": result.inertia,
        "reseeded": result.reseeded,
        "train_psnr_db": _psnr(result.inertia[-1], patch),
        "sample_s": t_sample,
        "kmeans_s": time.perf_counter() - t0 - t_sample,
        "device": str(dev),
        "seed": seed,
    }
    codebook = Codebook(
        result.centroids.cpu(), CodebookMeta(patch, clusters, short_side, stats=stats)
    )
    codebook.save(out)
    return codebook


def _psnr(inertia: float, patch: int) -> float:
    """Inertia is the squared error summed over a patch's p*p*3 values: PSNR of the mean."""
    mse = inertia / (patch * patch * 3)
    return 10 * math.log10(255**2 / max(mse, 1e-12))
