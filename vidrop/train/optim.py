"""AdamW parameter groups as in DINOv2: layer-wise lr decay, patch-embed lr multiplier, no weight
decay on biases / norms / layer scales, and a flag on the prototypes (frozen during epoch one)."""

from __future__ import annotations

import torch
from torch import nn

from vidrop.config import OptimConfig
from vidrop.models.vit import VideoViT


def param_groups(
    student: nn.ModuleDict, layerwise_decay: float, patch_embed_lr_mult: float
) -> list[dict]:
    backbone: VideoViT = student["backbone"]
    depth = backbone.cfg.depth
    groups: dict[tuple[float, float, bool], dict] = {}
    for name, p in student.named_parameters():
        if not p.requires_grad:
            continue
        lr_mult = 1.0
        if name.startswith("backbone."):
            sub = name[len("backbone.") :]
            lr_mult = layerwise_decay ** (depth + 1 - backbone.lr_layer_id(sub))
            if sub.startswith("patch_embed"):
                lr_mult *= patch_embed_lr_mult
        # biases (VideoMAE's q_bias / v_bias too), norms and layer scales: no weight decay
        wd_mult = 0.0 if name.endswith("bias") or "norm" in name or "gamma" in name else 1.0
        is_last = "last_layer" in name
        key = (lr_mult, wd_mult, is_last)
        group = groups.setdefault(
            key,
            {
                "params": [],
                "lr_multiplier": lr_mult,
                "wd_multiplier": wd_mult,
                "is_last_layer": is_last,
            },
        )
        group["params"].append(p)
    return list(groups.values())


def build_optimizer(student: nn.ModuleDict, cfg: OptimConfig, fused: bool) -> torch.optim.AdamW:
    groups = param_groups(student, cfg.layerwise_decay, cfg.patch_embed_lr_mult)
    return torch.optim.AdamW(groups, lr=0.0, betas=(cfg.beta1, cfg.beta2), fused=fused or None)


def apply_schedule(
    optimizer: torch.optim.Optimizer, lr: float, last_layer_lr: float, wd: float
) -> None:
    for g in optimizer.param_groups:
        g["lr"] = (last_layer_lr if g["is_last_layer"] else lr) * g["lr_multiplier"]
        g["weight_decay"] = wd * g["wd_multiplier"]
