"""FSDP2 (`fully_shard`) for ViT-L/H, where a replica per GPU (DDP) no longer fits.

`train.parallel=fsdp` shards every transformer block, each backbone's remaining parameters and
each head, of both student and teacher, with the ViDROP module as the root: parameters become
DTensors sharded over the ranks and are gathered block by block in forward and backward. The EMA
update runs shard by shard (teacher and student are sharded alike), so it needs no
communication. Checkpoints stay one consolidated file: the full model and optimizer state is
gathered to the CPU for saving, and a full state loads onto any world size (or one process).
Gradients are averaged over ranks as under DDP, so every loss stays exact.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)

FULL = StateDictOptions(full_state_dict=True, cpu_offload=True)
OPTIMIZER_FORMAT = "by-name"  # optimizer state keyed by parameter name (any sharding)


def shard_vidrop(model: nn.Module) -> None:
    """fully_shard the ViDROP meta-arch in place (call before building the optimizer)."""
    from torch.distributed.fsdp import fully_shard

    for part in (model.student, model.teacher):
        for block in part["backbone"].blocks:
            fully_shard(block)
        for module in part.values():
            fully_shard(module)
    fully_shard(model)


def is_sharded(model: nn.Module) -> bool:
    from torch.distributed.fsdp import FSDPModule

    return isinstance(model, FSDPModule)


def set_gradient_sync(model: nn.Module, sync: bool) -> None:
    """Under gradient accumulation: reduce-scatter only on the last micro-batch."""
    if is_sharded(model):
        model.set_requires_gradient_sync(sync)


def full_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """Full (unsharded) CPU state dict; a collective when sharded: call it on every rank."""
    if not _has_shards(module):
        return module.state_dict()
    return get_model_state_dict(module, options=FULL)


def load_full_state(module: nn.Module, state: dict[str, torch.Tensor]) -> None:
    if _has_shards(module):
        set_model_state_dict(module, state, options=StateDictOptions(full_state_dict=True))
    else:
        module.load_state_dict(state)


def optimizer_state(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Sharded: full optimizer state keyed by parameter name (collective). Otherwise the
    optimizer's own state dict, as DDP and single-process runs have always saved it."""
    if not is_sharded(model):
        return optimizer.state_dict()
    state = get_optimizer_state_dict(model.student, optimizer, options=FULL)
    return {"format": OPTIMIZER_FORMAT, "state": state}


def load_optimizer_state(
    model: nn.Module, optimizer: torch.optim.Optimizer, saved: dict[str, Any]
) -> None:
    """Loads either format onto a sharded or unsharded model; the one impossible direction (a
    by-position state onto a sharded model) is a clear error."""
    if saved.get("format") == OPTIMIZER_FORMAT:
        set_optimizer_state_dict(
            model.student, optimizer, saved["state"], options=StateDictOptions(full_state_dict=True)
        )
    elif is_sharded(model):
        raise ValueError(
            "this checkpoint was written without FSDP (optimizer state by position); resume it "
            "with train.parallel=ddp, or start the FSDP run from its weights (train.init)"
        )
    else:
        optimizer.load_state_dict(saved)


def _has_shards(module: nn.Module) -> bool:
    """Whether any parameter is a DTensor (the module or a submodule was fully_shard-ed)."""
    from torch.distributed.tensor import DTensor

    return any(isinstance(p, DTensor) for p in module.parameters())
