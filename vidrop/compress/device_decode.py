"""Decode a batch of `PendingView`s on the training device: the codebook lookup, crop, resize and
flip run there, so loader workers only slice memory-mapped codes."""

from __future__ import annotations

import torch

from vidrop.compress.patches import decode_codes
from vidrop.config import ViewsConfig
from vidrop.data.batch import ViewBatch
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

    def __call__(self, batch: ViewBatch) -> ViewBatch:
        if not batch.codes:
            return batch
        large, small = (
            torch.stack([
                torch.stack([self.view(v) for v in views]) if views else self._empty(key)
                for views in getattr(batch, key)
            ])
            for key in ("large", "small")
        )  # fmt: skip
        return batch.with_views(large, small)

    def _empty(self, key: str) -> torch.Tensor:
        v = self.views
        frames, size = (
            (v.large_frames, v.large_size) if key == "large" else (v.small_frames, v.small_size)
        )
        return torch.empty(0, 3, frames, size, size, dtype=torch.uint8, device=self.device)
