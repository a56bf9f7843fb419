"""A micro-batch's token plan: which tokens of each large clip the student keeps, which kept
ones it masks, and which of those the iBOT loss scores. Drawn in the loader workers (as DINOv2
builds its masks in the collate function), from the micro-step's plan generator
(vidrop.seeds), so a resumed run draws the same plans."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vidrop.seeds import Purpose, StepDraws
from vidrop.tokens.drop import drop_tokens
from vidrop.tokens.grid import TokenGrid
from vidrop.tokens.mask import sample_masks


@dataclass
class TokenPlan:
    """For n clips in clip-major order (all videos' first large clip, then the second, ...)."""

    keep: torch.Tensor  # (n, K) int64: kept token indices, ascending
    masks: torch.Tensor  # (n, K) bool: kept tokens replaced by the mask token
    scored: torch.Tensor  # (n, K) bool: kept tokens the iBOT loss scores (masked, or visible)
    # scored.nonzero(as_tuple=True), found on the host: on a GPU nonzero() makes it wait
    index: tuple[torch.Tensor, torch.Tensor]
    grid_tokens: int  # tokens of a whole large clip, which `keep` indexes

    def to(self, device: torch.device) -> TokenPlan:
        """On the device without the host waiting (pinned, then an asynchronous copy on CUDA)."""

        def move(t: torch.Tensor) -> torch.Tensor:
            if device.type != "cuda":
                return t.to(device)
            return t.pin_memory().to(device, non_blocking=True)

        index = (move(self.index[0]), move(self.index[1]))
        return TokenPlan(
            move(self.keep), move(self.masks), move(self.scored), index, self.grid_tokens
        )


@dataclass(frozen=True)
class PlanSpec:
    """What drawing plans needs (small and picklable: it travels to the loader workers)."""

    seed: int
    rank: int
    grid: TokenGrid  # the large clip's token grid
    drop_pattern: str
    drop_ratio: float
    mask_prob: float
    mask_ratio: tuple[float, float]
    ibot_tokens: str = "masked"  # masked | visible

    def draw(self, n_clips: int, micro_step: int) -> TokenPlan:
        g = StepDraws.of(self.seed, self.rank, micro_step).generator(Purpose.PLAN)
        keep = drop_tokens(self.drop_pattern, n_clips, self.grid, self.drop_ratio, g)
        masks = sample_masks(n_clips, keep.shape[1], self.mask_prob, self.mask_ratio, g)
        scored = scored_tokens(masks, self.ibot_tokens)
        clip, position = scored.nonzero(as_tuple=True)
        return TokenPlan(keep, masks, scored, (clip, position), self.grid.numel)


def scored_tokens(masks: torch.Tensor, which: str) -> torch.Tensor:
    """The kept student tokens the iBOT loss scores (loss.ibot_tokens): the masked ones, or the
    visible ones (kept and not masked)."""
    if which == "masked":
        return masks
    if which == "visible":
        return ~masks
    raise ValueError(f"loss.ibot_tokens must be masked or visible, got {which!r}")
