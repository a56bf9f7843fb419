"""Weighted kNN on frozen features (DINO's protocol: cosine similarity, k=20, T=0.07)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def knn_predict(
    train_feats: torch.Tensor,
    train_labels: torch.Tensor,
    test_feats: torch.Tensor,
    n_classes: int,
    k: int = 20,
    temp: float = 0.07,
    chunk: int = 1024,
) -> torch.Tensor:
    """Class scores (N_test, n_classes): each of the k nearest training features (cosine) votes for
    its label with weight exp(similarity / temp)."""
    if train_feats.shape[0] == 0:
        raise ValueError("kNN needs at least one training feature")
    k = min(k, train_feats.shape[0])
    train = F.normalize(train_feats.float(), dim=1)
    scores = []
    for start in range(0, test_feats.shape[0], chunk):
        test = F.normalize(test_feats[start : start + chunk].float(), dim=1)
        sim, idx = (test @ train.t()).topk(k, dim=1)
        votes = F.one_hot(train_labels[idx], n_classes).float() * (sim / temp).exp().unsqueeze(-1)
        scores.append(votes.sum(1))
    return torch.cat(scores)


def knn_accuracy(
    train_feats: torch.Tensor,
    train_labels: torch.Tensor,
    test_feats: torch.Tensor,
    test_labels: torch.Tensor,
    k: int = 20,
    temp: float = 0.07,
) -> float:
    """Top-1 accuracy in percent."""
    n_classes = int(max(train_labels.max(), test_labels.max())) + 1
    pred = knn_predict(train_feats, train_labels, test_feats, n_classes, k, temp).argmax(1)
    return float((pred == test_labels).float().mean() * 100)
