"""The schedules' values reach the optimizer through each group's multipliers (vidrop.methods
builds the groups: DINOv2's layer-wise decay, VideoMAE's no-decay set)."""

from __future__ import annotations

import torch


def apply_schedule(
    optimizer: torch.optim.Optimizer, lr: float, last_layer_lr: float, wd: float
) -> None:
    for g in optimizer.param_groups:
        g["lr"] = (last_layer_lr if g["is_last_layer"] else lr) * g["lr_multiplier"]
        g["weight_decay"] = wd * g["wd_multiplier"]
