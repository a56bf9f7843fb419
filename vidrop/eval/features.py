"""Frozen features of one centred clip per video (the demo's and kNN's evaluation view)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from vidrop.data.sampling import clip_indices
from vidrop.data.video import VideoError, probe, read_frames, resize_short_side
from vidrop.data.views import center_box, crop_resize, normalize
from vidrop.models.vit import VideoViT
from vidrop.progress import ProgressBar

FEATURES = ("cls", "mean", "cls+mean")


@dataclass(frozen=True)
class ClipSpec:
    """The evaluation view: `frames` frames `stride` apart from the middle of the video, short side
    resized to `size` (after an optional `short_side` resize), centre crop `size` x `size`."""

    frames: int
    size: int
    stride: int
    short_side: int = 0


class CenterClipDataset(Dataset):
    def __init__(self, paths: list[str], spec: ClipSpec) -> None:
        self.paths, self.spec = paths, spec

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        s, path = self.spec, self.paths[i]
        try:
            idx = clip_indices(probe(path).frames, s.frames, s.stride, rng=None)
            frames = torch.from_numpy(read_frames(path, idx.tolist()))
        except VideoError:
            return torch.zeros(3, s.frames, s.size, s.size, dtype=torch.uint8), 0
        frames = resize_short_side(resize_short_side(frames, s.short_side), s.size)
        return crop_resize(frames, center_box(*frames.shape[1:3]), s.size), 1


def feature_of(out: dict[str, torch.Tensor], kind: str) -> torch.Tensor:
    if kind == "cls":
        return out["cls"]
    if kind == "mean":
        return out["patch"].mean(1)
    if kind == "cls+mean":
        return torch.cat((out["cls"], out["patch"].mean(1)), dim=-1)
    raise ValueError(f"unknown feature {kind!r}; choose one of {FEATURES}")


@torch.no_grad()
def extract_features(
    backbone: VideoViT,
    paths: list[str],
    spec: ClipSpec,
    feature: str = "cls",
    batch_size: int = 32,
    num_workers: int = 1,
    device: str | torch.device = "cpu",
    description: str = "features",
) -> tuple[torch.Tensor, np.ndarray]:
    """(N, D) float32 features on the CPU and a bool array of which videos decoded."""
    backbone.eval().to(device)
    loader = DataLoader(
        CenterClipDataset(paths, spec), batch_size=batch_size, num_workers=num_workers
    )
    feats, ok = [], []
    dev = torch.device(device)
    with ProgressBar(len(paths), description, unit="video") as bar:
        for clips, good in loader:
            x = normalize(clips.to(dev))
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
                out = backbone.forward_features(x)
            feats.append(feature_of(out, feature).float().cpu())
            ok.append(good.numpy().astype(bool))
            bar.update(len(clips))
    return torch.cat(feats), np.concatenate(ok)
