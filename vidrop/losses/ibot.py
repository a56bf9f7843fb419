"""iBOT loss on the student's masked tokens (DINOv2 iBOTPatchLoss.forward_masked)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def ibot_masked_loss(
    student_logits: torch.Tensor,
    teacher_probs: torch.Tensor,
    masks: torch.Tensor,
    student_temp: float = 0.1,
    token_clip: torch.Tensor | None = None,
) -> torch.Tensor:
    """student_logits and teacher_probs: (M, K) for the M masked tokens, in masks' row-major order;
    masks: bool (n_clips, K_kept). Each clip's masked tokens are averaged, then summed over clips
    and divided by n_clips (clips without masked tokens count in the denominator, as in DINOv2).
    token_clip: the clip of each masked token (masks.nonzero()[:, 0]); pass it when it was
    computed on the host, so that the GPU never stops to count the masked tokens.
    """
    n_clips = masks.shape[0]
    if student_logits.shape[0] == 0:
        return student_logits.sum() * 0.0  # keeps the graph when no clip is masked
    if token_clip is None:
        token_clip = masks.nonzero(as_tuple=True)[0]
    log_p = F.log_softmax(student_logits.float() / student_temp, dim=-1)
    per_token = (teacher_probs * log_p).sum(dim=-1)
    weights = (1.0 / masks.sum(-1).clamp(min=1.0))[token_clip]
    return -(per_token * weights).sum() / n_clips
