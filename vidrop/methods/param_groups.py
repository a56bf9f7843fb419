"""Optimizer groups of the methods: DINOv2's for ViDROP's student (layer-wise lr decay, a
patch-embed lr multiplier, no weight decay on biases / norms / layer scales, the prototypes
flagged: frozen during epoch one) and VideoMAE's (no weight decay on 1-D tensors and the mask
token)."""

from __future__ import annotations

from torch import nn

from vidrop.methods.base import ParamGroup, param_group
from vidrop.methods.meta_arch import backbone_of


def layerwise_groups(
    student: nn.ModuleDict, layerwise_decay: float, patch_embed_lr_mult: float
) -> list[ParamGroup]:
    backbone = backbone_of(student)
    depth = backbone.cfg.depth
    groups: dict[tuple[float, float, bool], ParamGroup] = {}
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
        groups.setdefault(key, param_group([], lr_mult, wd_mult, is_last))["params"].append(p)
    return list(groups.values())


def no_decay_groups(model: nn.Module) -> list[ParamGroup]:
    """VideoMAE's: no weight decay on biases, norms (every 1-D tensor) and the mask token."""
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim == 1 or name.endswith("mask_token") else decay).append(p)
    return [param_group(decay), param_group(no_decay, wd_multiplier=0.0)]
