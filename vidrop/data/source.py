"""Where a training sample's frames come from: video files (PyAV) or a code store.

A source answers three questions about video i (its name, its frame count) and `load`s the
frames one sample needs as a block; the block cuts views (crop, resize, flip). Video files are
read here; a code store's source is vidrop.compress.source.StoreSource. Both give the same views
for the same random draws; they differ only in the pixels (a store is lossy).

A store block can also hand out codes instead of pixels (`PendingView`): the loader workers then
move 2-byte codes and the codebook lookup runs on the training device (`DeviceDecoder`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from vidrop.data.video import probe, read_frames, resize_short_side
from vidrop.data.views import CropBox, crop, crop_resize


@dataclass
class PendingView:
    """A view still in codes: the patch-aligned codes around the crop, and the crop inside them."""

    codes: torch.Tensor  # int32 (T, gh, gw)
    box: CropBox  # in pixels, relative to the decoded codes
    size: int
    flip: bool


class FrameBlock(Protocol):
    @property
    def height(self) -> int: ...

    @property
    def width(self) -> int: ...

    def view(
        self,
        frames: np.ndarray,
        box: CropBox,
        size: int,
        flip: bool,
        out: torch.Tensor | None = None,
    ) -> torch.Tensor | PendingView:
        """uint8 (3, T, size, size) of frame indices `frames`, cropped to `box`, written into
        `out`; or the view's codes, leaving `out` untouched."""
        ...


class ClipSource(Protocol):
    on_device: bool  # its views are codes the training device decodes (PendingView), not pixels

    def __len__(self) -> int: ...

    def name(self, index: int) -> str: ...

    def num_frames(self, index: int) -> int: ...

    def load(self, index: int, frames: np.ndarray) -> FrameBlock:
        """The block holding at least the frames with these indices (may raise VideoError)."""
        ...


@dataclass
class PixelBlock:
    frames: torch.Tensor  # uint8 (N, H, W, 3)
    position: dict[int, int]  # frame index -> row of `frames`

    @property
    def height(self) -> int:
        return int(self.frames.shape[1])

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])

    def view(
        self,
        frames: np.ndarray,
        box: CropBox,
        size: int,
        flip: bool,
        out: torch.Tensor | None = None,
    ) -> torch.Tensor:
        rows = torch.tensor([self.position[int(i)] for i in frames])
        clip = torch.index_select(crop(self.frames, box), 0, rows)  # copies the crop only
        return crop_resize(clip, CropBox(0, 0, box.height, box.width), size, flip, out)


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


class VideoSource:
    """Video files decoded by PyAV: one seek and one forward pass per sample, short side resized."""

    on_device = False

    def __init__(self, paths: list[str], short_side: int = 0, cache_mb: int = 0) -> None:
        self.paths, self.short_side = paths, short_side
        self._frames: dict[int, int] = {}  # frame counts, cached per worker
        self.cache = FrameCache(cache_mb)

    def __len__(self) -> int:
        return len(self.paths)

    def name(self, index: int) -> str:
        return self.paths[index]

    def num_frames(self, index: int) -> int:
        if index not in self._frames:
            self._frames[index] = probe(self.paths[index]).frames
        return self._frames[index]

    def load(self, index: int, frames: np.ndarray) -> PixelBlock:
        path = self.paths[index]
        video = self.cache.get(index)
        if video is not None:  # the whole decoded video, resized
            union = np.arange(video.shape[0])
        elif self.cache.has_room():
            union = np.arange(self.num_frames(index))
            video = resize_short_side(
                torch.from_numpy(read_frames(path, union.tolist())), self.short_side
            )
            self.cache.put(index, video)
        else:  # decode only the frames the clips need
            union = np.unique(frames)
            video = torch.from_numpy(read_frames(path, union.tolist()))
            video = resize_short_side(video, self.short_side)
        return PixelBlock(video, {int(f): i for i, f in enumerate(union)})
