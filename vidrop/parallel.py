"""FSDP2 (`fully_shard`) state for ViT-L/H runs, where a replica per GPU (DDP) no longer fits.

Under `train.parallel=fsdp` a method shards its own model (`Method.shard`: ViDROP shards every
block, each backbone's other parameters and each head, of student and teacher alike, with the
ViDROP module as the root); parameters become DTensors gathered block by block in forward and
backward. What every method shares lives here: checkpoints stay one consolidated file (the full
model and optimizer state gathered to the CPU for saving; a full state loads onto any world size
or one process) and, under accumulation, gradients sync on the last micro-batch only.
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


def is_sharded(model: nn.Module) -> bool:
    from torch.distributed.fsdp import FSDPModule

    return isinstance(model, FSDPModule)


def set_gradient_sync(model: nn.Module, sync: bool) -> None:
    """Under gradient accumulation: reduce-scatter only on the last micro-batch."""
    from torch.distributed.fsdp import FSDPModule

    if isinstance(model, FSDPModule):
        model.set_requires_gradient_sync(sync)


def full_state(module: nn.Module) -> dict[str, Any]:
    """Full (unsharded) CPU state dict; a collective when sharded: call it on every rank."""
    if not _has_shards(module):
        return module.state_dict()
    return get_model_state_dict(module, options=FULL)


def load_full_state(module: nn.Module, state: dict[str, Any]) -> None:
    if _has_shards(module):
        set_model_state_dict(module, state, options=StateDictOptions(full_state_dict=True))
    else:
        module.load_state_dict(state)


def optimizer_state(
    model: nn.Module, trained: nn.Module, optimizer: torch.optim.Optimizer
) -> dict[str, Any]:
    """Sharded: full optimizer state keyed by the names of `trained`'s parameters (the module
    the optimizer steps; a collective). Otherwise the optimizer's own state dict, as DDP and
    single-process runs have always saved it."""
    if not is_sharded(model):
        return optimizer.state_dict()
    state = get_optimizer_state_dict(trained, optimizer, options=FULL)
    return {"format": OPTIMIZER_FORMAT, "state": state}


def load_optimizer_state(
    model: nn.Module, trained: nn.Module, optimizer: torch.optim.Optimizer, saved: dict[str, Any]
) -> None:
    """Loads either format onto a sharded or unsharded model; the one impossible direction (a
    by-position state onto a sharded model) is a clear error."""
    if saved.get("format") == OPTIMIZER_FORMAT:
        full = StateDictOptions(full_state_dict=True)
        set_optimizer_state_dict(trained, optimizer, saved["state"], options=full)
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
