"""iBOT loss on the student's masked tokens (DINOv2 iBOTPatchLoss.forward_masked)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def ibot_masked_loss(
    student_logits: torch.Tensor,
    teacher_probs: torch.Tensor,
    masks: torch.Tensor,
    student_temp: float = 0.1,
) -> torch.Tensor:
    """student_logits and teacher_probs: (M, K) for the M masked tokens, in masks' row-major order;
    masks: bool (n_clips, K_kept). Each clip's masked tokens are averaged, then summed over clips
    and divided by n_clips (clips without masked tokens count in the denominator, as in DINOv2).
    """
    n_clips = masks.shape[0]
    if student_logits.shape[0] == 0:
        return student_logits.sum() * 0.0  # keeps the graph when no clip is masked
    log_p = F.log_softmax(student_logits.float() / student_temp, dim=-1)
    per_token = (teacher_probs * log_p).sum(dim=-1)
    weights = (1.0 / masks.sum(-1).clamp(min=1.0)).unsqueeze(-1).expand_as(masks)[masks]
    return -(per_token * weights).sum() / n_clips
