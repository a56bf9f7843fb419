"""Teacher centering: Sinkhorn-Knopp over the whole distributed batch, or softmax centering."""

from __future__ import annotations

import torch
from torch import nn

from vidrop import dist


@torch.no_grad()
def sinkhorn_knopp(logits: torch.Tensor, temp: float, n_iterations: int = 3) -> torch.Tensor:
    """(B, K) teacher logits -> (B, K) soft assignments whose rows sum to 1 and whose prototypes
    are used equally over all ranks' samples (DINOv2 sinkhorn_knopp_teacher).

    Logits are shifted by their global max before exp (the factor cancels) so low temperatures
    cannot overflow; row and column sums are all-reduced so every rank solves the same problem.
    """
    logits = logits.float()
    local_max = logits.max() if logits.numel() else logits.new_tensor(float("-inf"))
    shift = dist.all_reduce_max(local_max.detach().clone())
    q = torch.exp((logits - shift) / temp).t()  # K x B
    n_samples = dist.all_reduce_sum(q.new_full((), float(q.shape[1])))  # fill: no host sync
    k = q.shape[0]
    q /= dist.all_reduce_sum(q.sum())
    for _ in range(n_iterations):
        q /= dist.all_reduce_sum(q.sum(dim=1, keepdim=True))
        q /= k
        q /= q.sum(dim=0, keepdim=True)
        q /= n_samples
    q *= n_samples
    return q.t()


class SoftmaxCenter(nn.Module):
    """DINO's centering: softmax((t - c) / T) with c an EMA of the batch-mean teacher logits."""

    def __init__(self, dim: int, momentum: float = 0.9) -> None:
        super().__init__()
        self.momentum = momentum
        self.center: torch.Tensor
        self.register_buffer("center", torch.zeros(1, dim))

    @torch.no_grad()
    def forward(self, logits: torch.Tensor, temp: float) -> torch.Tensor:
        probs = torch.softmax((logits.float() - self.center) / temp, dim=-1)
        batch_sum = dist.all_reduce_sum(logits.float().sum(dim=0, keepdim=True))
        count = dist.all_reduce_sum(self.center.new_full((), float(logits.shape[0])))
        updated = self.center * self.momentum + batch_sum / count.clamp(min=1.0) * (
            1 - self.momentum
        )
        self.center.copy_(torch.where(count > 0, updated, self.center))  # no host sync
        return probs
