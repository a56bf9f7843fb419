"""Per-snippet features along whole videos, for temporal action detection tools (ActionFormer,
TriDet) that read one (T, C) .npy per video.

Snippet i covers frames [i * step, i * step + span) where span = (frames - 1) * stride + 1 (its
clip: `frames` frames `stride` apart, centre crop); the last snippets repeat the final frame when
the video ends inside them. index.json gives each video's snippet count, step, span and fps, so
a snippet converts to seconds as start_frame / fps.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from vidrop.atomic import atomic_path, write_json_atomic
from vidrop.data.manifest import Manifest, ManifestError
from vidrop.data.sampling import clip_frames, clip_span
from vidrop.data.video import VideoError, iter_frames, probe
from vidrop.data.views import normalize
from vidrop.eval.features import pooled_feature
from vidrop.eval.views import EvalViews, make_views
from vidrop.models.vit import VideoViT
from vidrop.progress import ProgressBar

log = logging.getLogger("vidrop")


@torch.no_grad()
def video_snippets(
    backbone: VideoViT,
    path: str,
    views: EvalViews,
    step: int,
    feature: str = "cls",
    batch_size: int = 16,
    device: str = "cpu",
) -> np.ndarray:
    """(n_snippets, D) float32 features of one video."""
    frames = torch.from_numpy(np.concatenate(list(iter_frames(path))))
    n = len(frames)
    single = EvalViews(views.frames, views.size, views.stride, views.short_side, 1, 1)
    starts = list(range(0, max(n - clip_span(views.frames, views.stride), 0) + 1, step))
    out = []
    for i in range(0, len(starts), batch_size):
        rows = [clip_frames(s, views.frames, views.stride, n) for s in starts[i : i + batch_size]]
        clips = make_views(frames, rows, single).to(device)
        o = backbone.forward_features(normalize(clips))
        out.append(pooled_feature(o["cls"], o["patch"].mean(1), feature).cpu())
    return torch.cat(out).numpy()


def extract_snippets(
    backbone: VideoViT,
    manifest: Manifest,
    views: EvalViews,
    out: str | Path,
    step: int = 4,
    feature: str = "cls",
    device: str = "cpu",
) -> dict:
    """One OUT/<video stem>.npy per video and OUT/index.json; unreadable videos are listed there
    with the reason and skipped. Videos already written are kept (a stopped run resumes)."""
    stems = [Path(p).stem for p in manifest.paths]
    if len(set(stems)) < len(stems):
        twice = sorted({s for s in stems if stems.count(s) > 1})
        raise ManifestError(
            f"{manifest.source}: file names {twice[:3]} occur twice; snippet files are named by "
            "the video's file name, so give each video a distinct one"
        )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    backbone.eval().to(device)
    index: dict = {
        "views": views.to_dict(),
        "step": step,
        "feature": feature,
        "videos": {},
        "failed": {},
    }
    with ProgressBar(len(manifest), "snippets", unit="video") as bar:
        for path in manifest.paths:
            target = out / f"{Path(path).stem}.npy"
            try:
                info = probe(path)
                if not target.exists():
                    feats = video_snippets(backbone, path, views, step, feature, device=device)
                    with atomic_path(target, ".tmp.npy") as tmp:  # np.save wants .npy
                        np.save(tmp, feats)
                index["videos"][path] = {
                    "file": target.name,
                    "snippets": int(np.load(target, mmap_mode="r").shape[0]),
                    "fps": info.fps,
                    "frames": info.frames,
                    "span": clip_span(views.frames, views.stride),
                }
            except VideoError as exc:
                log.warning("snippets: skipped %s (%s)", path, exc)
                index["failed"][path] = str(exc)
            bar.update(1)
    write_json_atomic(out / "index.json", index)
    return index
