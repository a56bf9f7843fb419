"""Decode a batch of `PendingView`s on the training device: the codebook lookup, crop, resize and
flip run there, so loader workers only slice memory-mapped codes."""

from __future__ import annotations

import torch

from vidrop.compress.patches import decode_codes
from vidrop.config import ViewsConfig
from vidrop.data.batch import LoadedBatch, PendingClips
from vidrop.data.source import PendingView
from vidrop.data.views import crop_resize


class DeviceDecoder:
    """`batch -> batch` with uint8 view tensors on `device`; pixel batches pass through."""

    def __init__(self, table: torch.Tensor, device: torch.device, views: ViewsConfig) -> None:
        self.table = table.to(device)
        self.device, self.views = device, views

    def view(self, v: PendingView) -> torch.Tensor:
        codes = v.codes.to(self.device, non_blocking=True)
        return crop_resize(decode_codes(codes, self.table), v.box, v.size, v.flip)

    def __call__(self, batch: LoadedBatch) -> LoadedBatch:
        if isinstance(batch.large, torch.Tensor) or isinstance(batch.small, torch.Tensor):
            return batch
        return batch.with_views(
            self._decode(batch.large, "large"), self._decode(batch.small, "small")
        )

    def _decode(self, videos: PendingClips, key: str) -> torch.Tensor:
        """(B, clips, 3, T, S, S) uint8 on the device, from each video's pending clips."""
        return torch.stack(
            [
                torch.stack([self.view(v) for v in clips]) if clips else self._empty(key)
                for clips in videos
            ]
        )

    def _empty(self, key: str) -> torch.Tensor:
        v = self.views
        frames, size = (
            (v.large_frames, v.large_size) if key == "large" else (v.small_frames, v.small_size)
        )
        return torch.empty(0, 3, frames, size, size, dtype=torch.uint8, device=self.device)
