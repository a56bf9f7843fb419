"""Decode a batch of `PendingView`s on the training device: the codebook lookup, crop, resize and
flip run there, so loader workers only slice memory-mapped codes."""

from __future__ import annotations

from typing import Any

import torch

from vidrop.compress.patches import decode_codes
from vidrop.config import ViewsConfig
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

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        if isinstance(batch["large"], torch.Tensor):
            return batch
        out = dict(batch)
        for key in ("large", "small"):
            out[key] = torch.stack(
                [
                    torch.stack([self.view(v) for v in views]) if views else self._empty(key)
                    for views in batch[key]
                ]
            )
        return out

    def _empty(self, key: str) -> torch.Tensor:
        v = self.views
        frames, size = (
            (v.large_frames, v.large_size) if key == "large" else (v.small_frames, v.small_size)
        )
        return torch.empty(0, 3, frames, size, size, dtype=torch.uint8, device=self.device)
