"""The two batches of training: what a loader worker hands over, and what a method's step gets.

`LoadedBatch` is built in a loader worker by the collate function: the views as uint8 pixels, or
still as a code store's pending views for the device to decode, which videos were replaced and
why, the micro-step it belongs to and that micro-step's token plan. `DeviceBatch` is what the
training step consumes: the views augmented and normalised on the device, the plan there too,
and the micro-step's draws. `device_batch` turns pixels into one, for the loader's batches and
the benchmarks' alike.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from vidrop.data.augment import augment_batch
from vidrop.data.batch_pool import Token
from vidrop.data.source import PendingView
from vidrop.data.views import normalize
from vidrop.seeds import Purpose, StepDraws
from vidrop.tokens.plan import TokenPlan

PendingClips = list[list[PendingView]]  # per video, its clips still as codes
Views = torch.Tensor | PendingClips  # uint8 (B, n_clips, 3, T, H, W), or pending per video


@dataclass
class LoadedBatch:
    large: Views
    small: Views
    index: torch.Tensor  # (B,) the videos' positions in the source
    skipped: list[tuple[str, str]]  # (path, reason) of videos replaced by others
    micro_step: int
    plan: TokenPlan | None = None  # drawn in the loader when the method needs one
    pool_token: Token | None = None  # the batch buffers' token, to give them back

    @property
    def videos(self) -> int:
        return len(self.index)

    @property
    def codes(self) -> bool:
        """The views are still store codes, for the device to decode."""
        return not isinstance(self.large, torch.Tensor)

    def with_views(self, large: torch.Tensor, small: torch.Tensor) -> LoadedBatch:
        """The same batch with decoded pixel views."""
        return replace(self, large=large, small=small)

    def pixels(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The uint8 (large, small) views; a batch still in codes must be decoded first."""
        if not isinstance(self.large, torch.Tensor) or not isinstance(self.small, torch.Tensor):
            raise TypeError("this batch still holds store codes: decode it first (DeviceDecoder)")
        return self.large, self.small


@dataclass
class DeviceBatch:
    large: torch.Tensor  # (B, L, 3, T, H, W) normalised, on the training device
    small: torch.Tensor  # (B, M, 3, t, h, w) likewise
    plan: TokenPlan | None  # on the device
    draws: StepDraws  # the micro-step's generators (drop path is drawn in the step)
    skipped: list[tuple[str, str]]

    @property
    def videos(self) -> int:
        return int(self.large.shape[0])


def device_batch(
    large: torch.Tensor,
    small: torch.Tensor,
    plan: TokenPlan | None,
    draws: StepDraws,
    device: torch.device,
    augment: bool,
    dtype: torch.dtype,
    skipped: list[tuple[str, str]] | None = None,
) -> DeviceBatch:
    """uint8 views to the device, augmented (views.augment=dino) and normalised, the plan moved
    there: a new tensor each, so the loader's buffers are free once this returns."""
    large = large.to(device, non_blocking=True)
    small = small.to(device, non_blocking=True)
    if augment:
        large, small = augment_batch(large, small, draws.generator(Purpose.AUGMENT))
    return DeviceBatch(
        normalize(large, dtype),
        normalize(small, dtype),
        plan.to(device) if plan is not None else None,
        draws,
        skipped or [],
    )
