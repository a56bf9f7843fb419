"""DINO cross-entropy between student logits and centred teacher probabilities (DINOv2 DINOLoss)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def dino_loss(
    student_logits: list[torch.Tensor], teacher_probs: list[torch.Tensor], student_temp: float = 0.1
) -> torch.Tensor:
    """Sum over every (student chunk, teacher chunk) pair of -mean_b sum_k t log softmax(s / T).

    Each student chunk (B, K) is compared with each teacher chunk (B, K); callers divide by the
    number of pairs they count as loss terms (see train/meta_arch.py).
    """
    total = student_logits[0].new_zeros((), dtype=torch.float32)
    for s in student_logits:
        log_p = F.log_softmax(s.float() / student_temp, dim=-1)
        for t in teacher_probs:
            total = total - (t * log_p).sum(dim=-1).mean()
    return total
