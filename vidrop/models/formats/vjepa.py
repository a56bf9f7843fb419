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


def sincos_1d(dim: int, pos: torch.Tensor) -> torch.Tensor:
    """(M,) positions -> (M, dim): [sin(pos * w_k), cos(pos * w_k)], w_k = 10000^(-k / (dim/2))."""
    omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2.0))
    out = pos.double().reshape(-1, 1) * omega
    return torch.cat([out.sin(), out.cos()], dim=1)


def sincos_3d(
    dim: int, grid_size: int, grid_depth: int, uniform_power: bool = False
) -> torch.Tensor:
    """V-JEPA's table (1, depth*size*size, dim), t-major: [time | height | width] parts of
    dim/2, dim/4, dim/4 (or 2*ceil(dim/6) each with uniform_power), cut to dim."""
    d, h, w = torch.meshgrid(
        torch.arange(grid_depth), torch.arange(grid_size), torch.arange(grid_size), indexing="ij"
    )
    if uniform_power:
        dt = dh = dw = int(math.ceil(dim / 6) * 2)
    else:
        dt, dh, dw = dim // 2, dim // 4, dim // 4
    table = torch.cat([sincos_1d(dt, d), sincos_1d(dh, h), sincos_1d(dw, w)], dim=1)[:, :dim]
    return table.float().unsqueeze(0)


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
        arch=_arch_for(dim, depth, heads), embed_dim=dim, depth=depth, num_heads=heads,
        mlp_ratio=sd["blocks.0.mlp.fc1.weight"].shape[0] / dim, patch_size=patch,
        tubelet=tubelet, num_frames=num_frames, img_size=img, in_chans=in_chans,
        qkv_bias="qkv" if "blocks.0.attn.qkv.bias" in sd else "none", drop_path=0.0,
        cls_token=False, final_norm="norm.weight" in sd, norm_eps=1e-6,
    )  # fmt: skip


def state_from_vjepa(sd: Tensors, cfg: ViTConfig) -> Tensors:
    out = {k: sd[k] for k in list(sd) if k.startswith(("patch_embed.", "blocks.", "norm."))}
    out["pos_embed"] = sd["pos_embed"].reshape(1, -1, cfg.resolved().embed_dim)
    out["mask_token"] = torch.zeros(1, 1, cfg.resolved().embed_dim)
    return out


def state_to_vjepa(ours: Tensors, prefix: str = "module.backbone.") -> Tensors:
    """Ours -> V-JEPA encoder keys (CLS and mask tokens have no place there)."""
    return {prefix + k: v for k, v in ours.items() if k not in ("cls_token", "mask_token")}
