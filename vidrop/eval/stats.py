"""How far a difference between two backbones on the same val videos can be trusted.

A top-1 on 180 videos moves by several points with the sample alone (one video is 0.56 points; the
binomial standard error of 30% is 3.4). Two backbones classify the SAME videos, so their outcomes
are paired: the paired bootstrap resamples the videos (or sequences) with replacement, keeps each
one's pair of outcomes together, and reads the interval of the mean difference off the resamples'
percentiles. It covers the val sample's noise only, not the spread between training runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Interval:
    value: float  # the difference on the items as they are
    low: float
    high: float
    items: int
    level: float

    def to_dict(self) -> dict:
        return {
            "gain": self.value,
            "low": self.low,
            "high": self.high,
            "items": self.items,
            "level": self.level,
        }


def _weighted_mean(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return (x * w).sum(-1) / w.sum(-1)


def paired_bootstrap(
    a: torch.Tensor,
    b: torch.Tensor,
    weights: torch.Tensor | None = None,
    samples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Mean of a minus mean of b over the same N items, with its `level` percentile interval over
    `samples` resamples of the items. a, b: (N,) per-item scores (1.0/0.0 for right/wrong, or a
    sequence's J&F); `weights` (N,) makes both means weighted, e.g. a sequence's object count, so
    that the statistic stays DAVIS's mean over objects while whole sequences are resampled."""
    a, b = a.double().flatten(), b.double().flatten()
    if a.shape != b.shape or a.numel() == 0:
        raise ValueError(f"paired outcomes need one non-empty length, got {a.shape} and {b.shape}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    w = torch.ones_like(a) if weights is None else weights.double().flatten()
    if w.shape != a.shape or bool((w <= 0).any()):
        raise ValueError("weights need one positive value per item")
    n = a.numel()
    value = float(_weighted_mean(a - b, w))
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, n, (samples, n), generator=g)
    diffs = _weighted_mean((a - b)[idx], w[idx])
    return percentile_interval(value, diffs, n, level)


def percentile_interval(
    value: float, resampled: torch.Tensor, items: int, level: float
) -> Interval:
    """`value` with the central `level` percentile interval of its bootstrap `resampled` values."""
    tail = (1 - level) / 2
    q = torch.tensor([tail, 1 - tail], dtype=torch.float64)
    low, high = torch.quantile(resampled.double(), q).tolist()
    return Interval(value, low, high, items, level)
