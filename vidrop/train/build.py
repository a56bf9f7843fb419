"""A run's trained modules and optimizer, built the one way every caller builds them (the
training loop, the benchmarks, the FLOP counter, a comparison's random-init floor): seeded by
train.seed, so the same config always starts from the same weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from vidrop import dist
from vidrop.config import Config, OptimConfig
from vidrop.methods import Method, ParamGroup, get_method
from vidrop.models.load import training_views


def adamw(groups: list[ParamGroup], o: OptimConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW over the method's groups, lr and weight decay 0 until the schedules set them; fused
    on a GPU."""
    fused = True if device.type == "cuda" else None
    return torch.optim.AdamW(groups, lr=0.0, betas=(o.beta1, o.beta2), fused=fused)  # type: ignore[arg-type]


def build_model(cfg: Config, device: torch.device) -> tuple[Method, nn.Module]:
    """cfg.train.method's modules at their initial weights, on `device`."""
    method = get_method(cfg.train.method)
    torch.manual_seed(cfg.train.seed)  # same seed -> same initial weights
    return method, method.build(cfg).to(device)


def build_training(
    cfg: Config, device: torch.device, init: bool = False
) -> tuple[Method, nn.Module, torch.optim.Optimizer, dict[str, Any] | None]:
    """(method, model, optimizer, init report): the model from train.init's weights when `init`
    (a fresh run: never on resume), sharded under train.parallel=fsdp with torchrun, and the
    optimizer over the (sharded) trained parameters."""
    method, model = build_model(cfg, device)
    report = method.init_weights(model, cfg.train.init) if init else None
    if cfg.train.parallel == "fsdp" and dist.is_enabled():
        method.shard(model)
    optimizer = adamw(method.param_groups(model, cfg.optim), cfg.optim, device)
    return method, model, optimizer, report


def export_initial(cfg: Config, out: Path) -> Path:
    """The backbone a run of `cfg` starts from (random init, before any step) exported to `out`,
    as the method exports its trained one: the floor a trained backbone is compared with."""
    method, model = build_model(cfg, torch.device("cpu"))
    return method.export(model, out, {"step": 0, "eval": training_views(cfg.to_dict())})
