"""Training samples: the ViDROP views of one video, deterministic from (seed, epoch, index).

A video that cannot be decoded is replaced by another one drawn from the same generator, and
reported in the sample's `skipped` list, so a broken file never ends a run and is always counted.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from vidrop.config import ViewsConfig
from vidrop.data.sampling import clip_indices
from vidrop.data.video import VideoError, probe, read_frames, resize_short_side
from vidrop.data.views import crop_resize, random_resized_box


class TooManyBrokenVideos(RuntimeError):
    pass


class FrameCache:
    """Decoded videos kept in this process's memory up to `limit_mb` (0 disables).

    For datasets that fit in RAM (the demo's): each video is decoded once instead of once per
    epoch. Each DataLoader worker holds its own cache, so the total is workers x limit_mb.
    """

    def __init__(self, limit_mb: int) -> None:
        self.limit = limit_mb * 2**20
        self.used = 0
        self.videos: dict[int, torch.Tensor] = {}

    def get(self, index: int) -> torch.Tensor | None:
        return self.videos.get(index)

    def has_room(self) -> bool:
        return self.used < self.limit

    def put(self, index: int, frames: torch.Tensor) -> None:
        self.videos[index] = frames
        self.used += frames.numel()


class ViewDataset(Dataset):
    def __init__(
        self,
        paths: list[str],
        views: ViewsConfig,
        seed: int,
        short_side: int = 0,
        max_retries: int = 10,
        cache_mb: int = 0,
    ) -> None:
        self.paths = paths
        self.views = views
        self.seed = seed
        self.short_side = short_side
        self.max_retries = max_retries
        self._frames: dict[int, int] = {}  # frame counts, cached per worker
        self.cache = FrameCache(cache_mb)

    def __len__(self) -> int:
        return len(self.paths)

    def _clip_plan(self, n_frames: int, rng: np.random.Generator) -> list[np.ndarray]:
        v = self.views
        plan = [
            clip_indices(n_frames, v.large_frames, v.frame_stride, rng)
            for _ in range(v.large_clips)
        ]
        plan += [
            clip_indices(n_frames, v.small_frames, v.frame_stride, rng)
            for _ in range(v.small_clips)
        ]
        return plan

    def views_of(self, index: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 views of one video: large (L, 3, T, S, S) and small (M, 3, t, s, s)."""
        v = self.views
        path = self.paths[index]
        if index not in self._frames:
            self._frames[index] = probe(path).frames
        plan = self._clip_plan(self._frames[index], rng)
        frames = self.cache.get(index)
        if frames is not None:  # the whole decoded video, resized
            union = np.arange(frames.shape[0])
        elif self.cache.has_room():
            union = np.arange(self._frames[index])
            frames = resize_short_side(
                torch.from_numpy(read_frames(path, union.tolist())), self.short_side
            )
            self.cache.put(index, frames)
        else:  # decode only the frames the clips need
            union = np.unique(np.concatenate(plan))
            frames = torch.from_numpy(read_frames(path, union.tolist()))
            frames = resize_short_side(frames, self.short_side)
        position = {int(f): i for i, f in enumerate(union)}
        h, w = frames.shape[1:3]
        clips = []
        for k, idx in enumerate(plan):
            large = k < v.large_clips
            box = random_resized_box(h, w, v.large_scale if large else v.small_scale, v.ratio, rng)
            flip = bool(rng.random() < v.flip)
            sel = frames[[position[int(i)] for i in idx]]
            clips.append(crop_resize(sel, box, v.large_size if large else v.small_size, flip))
        large_views = torch.stack(clips[: v.large_clips])
        if v.small_clips:
            small_views = torch.stack(clips[v.large_clips :])
        else:
            small_views = torch.empty(
                0, 3, v.small_frames, v.small_size, v.small_size, dtype=torch.uint8
            )
        return large_views, small_views

    def __getitem__(self, key: tuple[int, int]) -> dict[str, Any]:
        index, epoch = key
        rng = np.random.default_rng([self.seed, epoch, index])
        skipped: list[tuple[str, str]] = []
        for _ in range(self.max_retries + 1):
            try:
                large, small = self.views_of(index, rng)
                return {"large": large, "small": small, "index": index, "skipped": skipped}
            except VideoError as exc:
                skipped.append((self.paths[index], str(exc)))
                index = int(rng.integers(len(self.paths)))
        raise TooManyBrokenVideos(
            f"{len(skipped)} videos in a row could not be decoded (last: {skipped[-1][1]}); "
            "check that the manifest points at real video files"
        )


def collate_views(samples: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "large": torch.stack([s["large"] for s in samples]),
        "small": torch.stack([s["small"] for s in samples]),
        "index": torch.tensor([s["index"] for s in samples]),
        "skipped": [item for s in samples for item in s["skipped"]],
    }
