"""Which kept tokens the student sees as the MASK token (the iBOT targets).

Masks index the kept tokens (B, K), never the dropped ones, so a masked token is always one the
teacher sees and the student would otherwise have seen.
"""

from __future__ import annotations

import torch


def sample_masks(
    batch: int,
    n_kept: int,
    mask_prob: float,
    ratio_range: tuple[float, float],
    generator: torch.Generator,
) -> torch.Tensor:
    """Bool (B, K) masks over kept tokens.

    int(batch * mask_prob) clips are masked, chosen at random; as in DINOv2 their ratios are
    stratified over [min, max] (clip i draws from the i-th of equal sub-intervals), which keeps the
    batch's mean ratio steady. Each masked clip masks int(ratio * K) kept tokens, at least one.
    """
    lo, hi = ratio_range
    if not (0.0 <= lo <= hi < 1.0):
        raise ValueError(f"mask ratio range must satisfy 0 <= min <= max < 1, got {ratio_range}")
    if not 0.0 <= mask_prob <= 1.0:
        raise ValueError(f"mask_prob must be in [0, 1], got {mask_prob}")
    masks = torch.zeros(batch, n_kept, dtype=torch.bool)
    n_masked = int(batch * mask_prob)
    if n_masked == 0:
        return masks
    edges = torch.linspace(lo, hi, n_masked + 1)
    ratios = edges[:-1] + (edges[1:] - edges[:-1]) * torch.rand(n_masked, generator=generator)
    clips = torch.randperm(batch, generator=generator)[:n_masked]
    for clip, ratio in zip(clips.tolist(), ratios.tolist(), strict=True):
        count = max(1, int(ratio * n_kept))
        chosen = torch.randperm(n_kept, generator=generator)[:count]
        masks[clip, chosen] = True
    return masks
