"""Weighted kNN on frozen features (DINO's protocol: cosine similarity, votes exp(sim / T)).

Several k share one similarity search (the largest k's neighbours, truncated). Multi-view videos
are pooled first: the mean of their L2-normalised view features, normalised again.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pool_views(x: torch.Tensor) -> torch.Tensor:
    """(N, V, D) -> (N, D): unit-length mean of the unit-length view features."""
    return F.normalize(F.normalize(x.float(), dim=-1).mean(1), dim=-1)


def knn_scores(
    train_feats: torch.Tensor,
    train_labels: torch.Tensor,
    test_feats: torch.Tensor,
    n_classes: int,
    ks: tuple[int, ...] = (20,),
    temp: float = 0.07,
    chunk: int = 1024,
) -> dict[int, torch.Tensor]:
    """Per k, class scores (N_test, n_classes): each of the k nearest training features (cosine)
    votes for its label with weight exp(similarity / temp)."""
    if train_feats.shape[0] == 0:
        raise ValueError("kNN needs at least one training feature")
    k_max = min(max(ks), train_feats.shape[0])
    train = F.normalize(train_feats.float(), dim=1)
    out: dict[int, list[torch.Tensor]] = {k: [] for k in ks}
    for start in range(0, test_feats.shape[0], chunk):
        test = F.normalize(test_feats[start : start + chunk].float(), dim=1)
        sim, idx = (test @ train.t()).topk(k_max, dim=1)  # sorted, nearest first
        votes = F.one_hot(train_labels[idx], n_classes).float() * (sim / temp).exp().unsqueeze(-1)
        for k in ks:
            out[k].append(votes[:, : min(k, k_max)].sum(1))
    return {k: torch.cat(v) for k, v in out.items()}


def knn_predictions(
    train_feats: torch.Tensor,
    train_labels: torch.Tensor,
    test_feats: torch.Tensor,
    ks: tuple[int, ...] = (10, 20, 100),
    temp: float = 0.07,
    n_classes: int | None = None,
) -> dict[int, torch.Tensor]:
    """Predicted class (N_test,) per k. Features are (N, D), or (N, V, D) pooled over views."""
    if train_feats.dim() == 3:
        train_feats, test_feats = pool_views(train_feats), pool_views(test_feats)
    n = int(train_labels.max()) + 1 if n_classes is None else n_classes
    scores = knn_scores(train_feats, train_labels, test_feats, n, ks, temp)
    return {k: s.argmax(1) for k, s in scores.items()}


def knn_accuracy(
    train_feats: torch.Tensor,
    train_labels: torch.Tensor,
    test_feats: torch.Tensor,
    test_labels: torch.Tensor,
    ks: tuple[int, ...] = (10, 20, 100),
    temp: float = 0.07,
) -> dict[int, float]:
    """Top-1 accuracy in percent per k. Features are (N, D), or (N, V, D) pooled over views."""
    n_classes = int(max(train_labels.max(), test_labels.max())) + 1
    preds = knn_predictions(train_feats, train_labels, test_feats, ks, temp, n_classes)
    return {k: float((p == test_labels).float().mean() * 100) for k, p in preds.items()}
