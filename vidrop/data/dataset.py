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
from vidrop.data.batch import LoadedBatch, Views
from vidrop.data.batch_pool import BatchPool
from vidrop.data.sampling import (
    clip_frames,
    clip_indices,
    disjoint_clip_starts,
    segment_frames,
)
from vidrop.data.source import ClipSource
from vidrop.data.video import VideoError
from vidrop.data.views import empty_shared, is_channels_last, random_resized_box, views_buffer
from vidrop.errors import VidropError
from vidrop.tokens.plan import PlanSpec


class TooManyBrokenVideos(VidropError, RuntimeError):
    pass


class ViewDataset(Dataset):
    """Sample (index, epoch) -> the uint8 views of video `index` from any `ClipSource`."""

    def __init__(
        self,
        source: ClipSource,
        views: ViewsConfig,
        seed: int,
        max_retries: int = 10,
        pool: BatchPool | None = None,
    ) -> None:
        self.source = source
        self.views = views
        self.seed = seed
        self.max_retries = max_retries
        self.pool = pool  # workers reuse the batch buffers the main process gives back

    def __len__(self) -> int:
        return len(self.source)

    def _clip_plan(self, n_frames: int, rng: np.random.Generator) -> list[np.ndarray]:
        v = self.views
        if v.sampling == "segments":
            lengths = [v.large_frames] * v.large_clips + [v.small_frames] * v.small_clips
            return [segment_frames(n_frames, t, rng) for t in lengths]
        starts = None
        if v.large_disjoint:  # None for a video too short to hold them apart: independent starts
            starts = disjoint_clip_starts(
                n_frames, v.large_clips, v.large_frames, v.frame_stride, rng
            )
        if starts is not None:
            plan = [clip_frames(s, v.large_frames, v.frame_stride, n_frames) for s in starts]
        else:
            plan = [
                clip_indices(n_frames, v.large_frames, v.frame_stride, rng)
                for _ in range(v.large_clips)
            ]
        plan += [
            clip_indices(n_frames, v.small_frames, v.frame_stride, rng)
            for _ in range(v.small_clips)
        ]
        return plan

    def views_of(
        self,
        index: int,
        rng: np.random.Generator,
        slots: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[Any, Any]:
        """Views of one video: uint8 large (L, 3, T, S, S) and small (M, 3, t, s, s) tensors
        (written into `slots` when given), or lists of `PendingView` when the source leaves
        decoding to the training device."""
        v = self.views
        plan = self._clip_plan(self.source.num_frames(index), rng)
        block = self.source.load(index, np.concatenate(plan))
        h, w = block.height, block.width
        large_views, small_views = slots or (
            views_buffer(v.large_clips, v.large_frames, v.large_size),
            views_buffer(v.small_clips, v.small_frames, v.small_size),
        )
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

    def __getitem__(self, key: tuple[int, ...]) -> dict[str, Any]:
        return self._sample(key, None)

    def __getitems__(self, keys: list[tuple[int, ...]]) -> list[dict[str, Any]]:
        """One batch's samples (the DataLoader's batched fetch). Pixel views are written straight
        into one buffer per view kind, in a loader worker a shared-memory one: the batch that
        goes to the main process, so collating copies nothing. With a `pool`, the buffers are
        ones the main process gave back (`BatchPool`): no fresh shared memory per batch."""
        if self.source.on_device:  # views stay codes: nothing to stack
            return [self._sample(k, None) for k in keys]
        v, n, shared = self.views, len(keys), get_worker_info() is not None

        def make() -> tuple[torch.Tensor, torch.Tensor]:
            return (
                views_buffer(v.large_clips, v.large_frames, v.large_size, n, shared),
                views_buffer(v.small_clips, v.small_frames, v.small_size, n, shared),
            )

        (large, small), token = self.pool.take(n, make) if self.pool else (make(), None)
        samples = [self._sample(k, (large[i], small[i])) for i, k in enumerate(keys)]
        for s in samples:
            s["batch_views"], s["pool_token"] = (large, small), token
        return samples

    def _sample(
        self, key: tuple[int, ...], slots: tuple[torch.Tensor, torch.Tensor] | None
    ) -> dict[str, Any]:
        """key: (video, epoch) or (video, epoch, micro-step) (the sampler's)."""
        index, epoch = key[0], key[1]
        step = key[2] if len(key) > 2 else 0
        rng = np.random.default_rng([self.seed, epoch, index])
        skipped: list[tuple[str, str]] = []
        for _ in range(self.max_retries + 1):
            try:  # a retry rewrites every clip of the slots
                large, small = self.views_of(index, rng, slots)
                return {
                    "large": large,
                    "small": small,
                    "index": index,
                    "skipped": skipped,
                    "step": step,
                }
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
        out = torch.stack(tensors, out=empty_shared((len(tensors), *first.shape), first.dtype))
    return out.movedim(-1, -4) if channels_last else out


def _written_batch(samples: list[dict[str, Any]]) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The (large, small) batch buffers `ViewDataset.__getitems__` wrote these samples' views
    into, when the samples are their rows in order (then there is nothing to stack)."""
    whole = samples[0].get("batch_views")
    if whole is None or whole[0].shape[0] != len(samples):
        return None
    rows = all(
        s["large"].data_ptr() == whole[0][i].data_ptr()
        and s["small"].data_ptr() == whole[1][i].data_ptr()
        for i, s in enumerate(samples)
    )
    return whole if rows else None


def collate_views(samples: list[dict[str, Any]], plan: PlanSpec | None = None) -> LoadedBatch:
    """One LoadedBatch: pixel views stacked (or the batch buffers they were written into, with
    their pool token); a code store's pending views stay per-sample lists for `DeviceDecoder`.
    With `plan`, the micro-step's token plan is drawn here, in the loader worker."""
    large, small = [s["large"] for s in samples], [s["small"] for s in samples]
    micro_step = samples[0].get("step", 0)
    token_plan = plan.draw(len(samples) * len(large[0]), micro_step) if plan is not None else None
    index = torch.tensor([s["index"] for s in samples])
    skipped = [item for s in samples for item in s["skipped"]]
    views: tuple[Views, Views]
    token = None
    if not isinstance(large[0], torch.Tensor):  # a store's pending views, decoded on the device
        views = (large, small)
    elif (whole := _written_batch(samples)) is not None:
        views, token = whole, samples[0]["pool_token"]
    else:
        views = (_stack(large), _stack(small))
    return LoadedBatch(views[0], views[1], index, skipped, micro_step, token_plan, token)
