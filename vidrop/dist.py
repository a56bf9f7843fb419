"""Every torch.distributed call in one place; each works, as the identity, with no process group."""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist


def is_enabled() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_enabled() else 0


def world_size() -> int:
    return dist.get_world_size() if is_enabled() else 1


def is_main() -> bool:
    return rank() == 0


def all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    """In-place sum over ranks (no gradient flows through it); returns x."""
    if is_enabled():
        dist.all_reduce(x, op=dist.ReduceOp.SUM)
    return x


def all_reduce_max(x: torch.Tensor) -> torch.Tensor:
    if is_enabled():
        dist.all_reduce(x, op=dist.ReduceOp.MAX)
    return x


def all_reduce_mean(x: torch.Tensor) -> torch.Tensor:
    return all_reduce_sum(x).div_(world_size()) if is_enabled() else x


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def barrier() -> None:
    if is_enabled():
        dist.barrier()


def init_from_env(device_type: str) -> bool:
    """Join the process group torchrun describes (RANK, WORLD_SIZE, MASTER_ADDR...): NCCL on
    GPUs, gloo on CPUs. Returns whether this process is part of one. Idempotent."""
    if is_enabled():
        return True
    if not launched_by_torchrun() or int(os.environ["WORLD_SIZE"]) < 2:
        return False
    if device_type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    return True


def shutdown() -> None:
    if is_enabled():
        dist.barrier()  # leaving while a peer still talks aborts it (gloo)
        dist.destroy_process_group()


class _AllGatherWithGrad(torch.autograd.Function):
    """Forward: all_gather (equal shapes on every rank). Backward: the gradient of the
    concatenation summed over ranks (all_reduce), this rank's slice returned."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad.chunk(dist.get_world_size(), dim=0)[dist.get_rank()]


def all_gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenation over ranks (rank order, equal shapes) whose backward gives each rank its
    slice of the gradients summed over ranks: a loss over the global batch (KoLeo), computed
    identically on every rank, then stays exact under data parallelism."""
    if not is_enabled():
        return x
    return _AllGatherWithGrad.apply(x)
