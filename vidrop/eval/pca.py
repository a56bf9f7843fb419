"""The paper's Figure-1 picture: the first three principal components of a clip's patch features
as RGB, beside the input frames (a PNG grid and an animated GIF)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vidrop.data.video import resize_short_side
from vidrop.eval.propagate import frame_features
from vidrop.models.vit import VideoViT


def pca_rgb(feats: torch.Tensor, clip: float = 0.01) -> torch.Tensor:
    """(N, D) -> (N, 3) in [0, 1]: projections on the top-3 principal components, each scaled
    between its `clip` and 1-`clip` quantiles; signs fixed so a component's largest loading is
    positive (the same features always give the same colours)."""
    x = feats.float() - feats.float().mean(0)
    _, _, vh = torch.linalg.svd(x, full_matrices=False)
    comps = vh[:3]
    comps = comps * comps.gather(1, comps.abs().argmax(1, keepdim=True)).sign()
    proj = x @ comps.t()
    lo, hi = proj.quantile(clip, dim=0), proj.quantile(1 - clip, dim=0)
    return ((proj - lo) / (hi - lo).clamp_min(1e-8)).clamp(0, 1)


def pca_maps(
    backbone: VideoViT, frames: torch.Tensor, short_side: int = 0, shifts: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 frames (T, H, W, 3) -> (input frames, PCA maps), one per tubelet, both uint8
    (T', H', W', 3) at the backbone's input size (maps upscaled with nearest neighbours)."""
    feats = frame_features(backbone, frames, short_side, shifts=shifts)[:: backbone.cfg.tubelet]
    t, h, w, d = feats.shape
    rgb = pca_rgb(feats.reshape(-1, d)).reshape(t, h, w, 3)
    shown = resize_short_side(frames, short_side)[:: backbone.cfg.tubelet][:t]
    cell = backbone.cfg.patch_size // shifts
    maps = rgb.repeat_interleave(cell, 1).repeat_interleave(cell, 2)
    return shown[:, : maps.shape[1], : maps.shape[2]].numpy(), (maps * 255).round().byte().numpy()


def save_pictures(frames: np.ndarray, maps: np.ndarray, out: str | Path, scale: int = 1) -> dict:
    """OUT.png: input frames on top, PCA maps below; OUT.gif: the two side by side, animated."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    t, h, w, _ = frames.shape
    grid = np.concatenate((np.concatenate(list(frames), 1), np.concatenate(list(maps), 1)), 0)
    png, gif = out.with_suffix(".png"), out.with_suffix(".gif")
    big = Image.fromarray(grid).resize((grid.shape[1] * scale, grid.shape[0] * scale), 0)
    big.save(png)
    pairs = [
        Image.fromarray(np.concatenate((f, m), 1)).resize((2 * w * scale, h * scale), 0)
        for f, m in zip(frames, maps, strict=True)
    ]
    pairs[0].save(gif, save_all=True, append_images=pairs[1:], duration=250, loop=0)
    return {"png": str(png), "gif": str(gif), "frames": t}
