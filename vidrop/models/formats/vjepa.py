"""V-JEPA (facebookresearch/jepa) checkpoints: `target_encoder` (the EMA, preferred) or
`encoder`, keys under `module.` and `backbone.` prefixes, timm-style names like ours, qkv bias,
no CLS token, and the fixed 3-D sin-cos `pos_embed` saved in the state dict.
"""

from __future__ import annotations

import math

import torch

from vidrop.models.formats.videomae import _arch_for
from vidrop.models.vit import ViTConfig

Tensors = dict[str, torch.Tensor]


def encoder_state(ckpt: dict) -> Tensors:
    """The backbone tensors of a V-JEPA checkpoint, prefixes removed."""
    sd = ckpt.get("target_encoder") or ckpt.get("encoder")
    if not isinstance(sd, dict):
        raise KeyError("target_encoder")
    out = {}
    for k, v in sd.items():
        for prefix in ("module.", "backbone."):
            k = k.removeprefix(prefix)
        out[k] = v
    return out


def config_from_vjepa(sd: Tensors, num_frames: int = 16) -> ViTConfig:
    """Sizes from the tensors; the clip size from pos_embed's token count at `num_frames`."""
    w = sd["patch_embed.proj.weight"]
    dim, in_chans, tubelet, patch, _ = w.shape
    depth = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("blocks."))
    heads = {384: 6, 768: 12, 1024: 16, 1280: 16}.get(dim, max(1, dim // 64))
    per_frame = sd["pos_embed"].shape[1] // (num_frames // tubelet)
    img = int(round(math.sqrt(per_frame))) * patch
    return ViTConfig(
        arch=_arch_for(dim, depth, heads),
        embed_dim=dim,
        depth=depth,
        num_heads=heads,
        mlp_ratio=sd["blocks.0.mlp.fc1.weight"].shape[0] / dim,
        patch_size=patch,
        tubelet=tubelet,
        num_frames=num_frames,
        img_size=img,
        in_chans=in_chans,
        qkv_bias="qkv" if "blocks.0.attn.qkv.bias" in sd else "none",
        drop_path=0.0,
        cls_token=False,
        final_norm="norm.weight" in sd,
        norm_eps=1e-6,
    )


def state_from_vjepa(sd: Tensors, cfg: ViTConfig) -> Tensors:
    out = {k: sd[k] for k in list(sd) if k.startswith(("patch_embed.", "blocks.", "norm."))}
    out["pos_embed"] = sd["pos_embed"].reshape(1, -1, cfg.resolved().embed_dim)
    out["mask_token"] = torch.zeros(1, 1, cfg.resolved().embed_dim)
    return out
