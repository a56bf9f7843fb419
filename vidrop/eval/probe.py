"""Pieces every probe shares: view averaging, accuracy, a stratified held-out split, standardising.

Pure functions on tensors, so they are tested with known answers.
"""

from __future__ import annotations

import torch


def average_views(logits: torch.Tensor) -> torch.Tensor:
    """(N, V, C) logits of V views -> (N, C) mean softmax probability (VideoMAE's test protocol)."""
    return logits.float().softmax(-1).mean(1)


def topk_accuracy(scores: torch.Tensor, y: torch.Tensor, k: int = 1) -> float:
    """Percent of rows whose true class is among the k highest scores."""
    k = min(k, scores.shape[1])
    hit = (scores.topk(k, dim=1).indices == y[:, None]).any(1)
    return float(hit.float().mean() * 100)


def stratified_holdout(
    y: torch.Tensor, fraction: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (fit, held_out): about `fraction` of each class held out, never its last video."""
    g = torch.Generator().manual_seed(seed)
    fit, held = [], []
    for c in torch.unique(y).tolist():
        idx = (y == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        n_held = min(round(len(idx) * fraction), len(idx) - 1)
        held.append(idx[:n_held])
        fit.append(idx[n_held:])
    return torch.cat(fit).sort().values, torch.cat(held).sort().values


def stratified_folds(y: torch.Tensor, k: int, seed: int) -> list[torch.Tensor]:
    """`k` disjoint sorted index sets covering every row, each class's rows shuffled and dealt
    round-robin, so every fold holds about 1/k of each class."""
    g = torch.Generator().manual_seed(seed)
    folds: list[list[torch.Tensor]] = [[] for _ in range(k)]
    for c in torch.unique(y).tolist():
        idx = (y == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        for f in range(k):
            folds[f].append(idx[f::k])
    return [torch.cat(parts).sort().values for parts in folds]


def per_class_subset(y: torch.Tensor, fraction: float, seed: int) -> torch.Tensor:
    """Sorted indices of ceil(fraction * n_c) (at least 1) random videos of every class c."""
    g = torch.Generator().manual_seed(seed)
    keep = []
    for c in torch.unique(y).tolist():
        idx = (y == c).nonzero().flatten()
        n = max(1, int(-(-fraction * len(idx) // 1)))
        keep.append(idx[torch.randperm(len(idx), generator=g)[:n]])
    return torch.cat(keep).sort().values


def standardizer(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std over all but the last dim (std floored) of the training features."""
    flat = x.reshape(-1, x.shape[-1]).float()
    return flat.mean(0), flat.std(0).clamp_min(1e-6)
