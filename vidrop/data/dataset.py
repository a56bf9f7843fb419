"""Training samples: the ViDROP views of one video, deterministic from (seed, epoch, index).

A video that cannot be decoded is replaced by another one drawn from the same generator, and
reported in the sample's `skipped` list, so a broken file never ends a run and is always counted.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, get_worker_info

from vidrop.config import ViewsConfig
from vidrop.data.sampling import clip_indices
from vidrop.data.source import ClipSource
from vidrop.data.video import VideoError
from vidrop.data.views import is_channels_last, random_resized_box, views_buffer


class TooManyBrokenVideos(RuntimeError):
    pass


class ViewDataset(Dataset):
    """Sample (index, epoch) -> the uint8 views of video `index` from any `ClipSource`."""

    def __init__(
        self, source: ClipSource, views: ViewsConfig, seed: int, max_retries: int = 10
    ) -> None:
        self.source = source
        self.views = views
        self.seed = seed
        self.max_retries = max_retries

    def __len__(self) -> int:
        return len(self.source)

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

    def views_of(self, index: int, rng: np.random.Generator) -> tuple[Any, Any]:
        """Views of one video: uint8 large (L, 3, T, S, S) and small (M, 3, t, s, s) tensors, or
        lists of `PendingView` when the source leaves decoding to the training device."""
        v = self.views
        plan = self._clip_plan(self.source.num_frames(index), rng)
        block = self.source.load(index, np.concatenate(plan))
        h, w = block.height, block.width
        large_views = views_buffer(v.large_clips, v.large_frames, v.large_size)
        small_views = views_buffer(v.small_clips, v.small_frames, v.small_size)
        clips = []
        for k, idx in enumerate(plan):
            large = k < v.large_clips
            box = random_resized_box(h, w, v.large_scale if large else v.small_scale, v.ratio, rng)
            flip = bool(rng.random() < v.flip)
            size, slot = (
                (v.large_size, large_views[k])
                if large
                else (v.small_size, small_views[k - v.large_clips])
            )
            clips.append(block.view(idx, box, size, flip, slot))
        if not isinstance(clips[0], torch.Tensor):
            return clips[: v.large_clips], clips[v.large_clips :]
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
                skipped.append((self.source.name(index), str(exc)))
                index = int(rng.integers(len(self.source)))
        raise TooManyBrokenVideos(
            f"{len(skipped)} videos in a row could not be decoded (last: {skipped[-1][1]}); "
            "check that the manifest points at real video files"
        )


def _stack(tensors: list[torch.Tensor]) -> torch.Tensor:
    """torch.stack, keeping channels-last views channels-last (a plain copy, no transposition);
    inside a loader worker straight into shared memory, as torch's default collate does, so the
    batch is not copied once more on its way to the main process."""
    channels_last = all(is_channels_last(t) for t in tensors)
    if channels_last:
        tensors = [t.movedim(-4, -1) for t in tensors]
    if get_worker_info() is None:
        out = torch.stack(tensors)
    else:
        first = tensors[0]
        numel = first.numel() * len(tensors)
        storage = first.untyped_storage()._new_shared(numel * first.element_size(), device="cpu")
        out = torch.stack(tensors, out=first.new(storage).view(len(tensors), *first.shape))
    return out.movedim(-1, -4) if channels_last else out


def collate_views(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Stacks pixel views; views still in codes stay per-sample lists for `DeviceDecoder`."""
    pixels = isinstance(samples[0]["large"], torch.Tensor)
    return {
        "large": _stack([s["large"] for s in samples]) if pixels else [s["large"] for s in samples],
        "small": _stack([s["small"] for s in samples]) if pixels else [s["small"] for s in samples],
        "index": torch.tensor([s["index"] for s in samples]),
        "skipped": [item for s in samples for item in s["skipped"]],
    }
