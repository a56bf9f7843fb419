"""V-JEPA 2 as transformers publishes it (`VJEPA2Model`, model_type vjepa2): a ViT with no CLS
token and no position table, 3-D rotary positions in every attention (`model.pos_embed=rope3d`,
`vidrop.models.rope`), separate query/key/value projections, GELU MLPs, a final LayerNorm. The
encoder is `encoder.*` (under `vjepa2.` in VJEPA2ForVideoClassification); the predictor, the
attentive pooler and the classifier are not part of a backbone.
"""

from __future__ import annotations

from typing import Any

import torch

from vidrop.models.formats.videomae import _arch_for
from vidrop.models.vit import ViTConfig

Tensors = dict[str, torch.Tensor]
LAYER = "encoder.layer.{i}."
# (our key, V-JEPA 2's key) outside the blocks
EMBED_AND_NORM = [
    (f"patch_embed.proj.{p}", f"encoder.embeddings.patch_embeddings.proj.{p}")
    for p in ("weight", "bias")
] + [(f"norm.{p}", f"encoder.layernorm.{p}") for p in ("weight", "bias")]


def config_from_hf(hf: dict[str, Any]) -> ViTConfig:
    dim, depth, heads = hf["hidden_size"], hf["num_hidden_layers"], hf["num_attention_heads"]
    if hf.get("hidden_act", "gelu") != "gelu":
        raise ValueError(f"V-JEPA 2 with hidden_act={hf['hidden_act']!r} is not supported (gelu)")
    patch = hf.get("patch_size", 16)
    if not isinstance(patch, int):
        raise ValueError(f"V-JEPA 2 with a non-square patch_size {patch} is not supported")
    return ViTConfig(
        arch=_arch_for(dim, depth, heads),
        embed_dim=dim,
        depth=depth,
        num_heads=heads,
        mlp_ratio=float(hf.get("mlp_ratio", 4.0)),
        patch_size=patch,
        tubelet=hf.get("tubelet_size", 2),
        num_frames=hf.get("frames_per_clip", 64),
        img_size=hf.get("crop_size", 256),
        in_chans=hf.get("in_chans", 3),
        qkv_bias="qkv" if hf.get("qkv_bias", True) else "none",
        drop_path=0.0,
        cls_token=False,
        final_norm=True,
        norm_eps=hf.get("layer_norm_eps", 1e-6),
        pos_embed="rope3d",
    )


def hf_config_from(cfg: ViTConfig) -> dict[str, Any]:
    """config.json for transformers' VJEPA2Model; the predictor keeps transformers' defaults."""
    c = cfg.resolved()
    return {
        "model_type": "vjepa2",
        "architectures": ["VJEPA2Model"],
        "patch_size": c.patch_size,
        "crop_size": c.img_size,
        "frames_per_clip": c.num_frames,
        "tubelet_size": c.tubelet,
        "hidden_size": c.embed_dim,
        "in_chans": c.in_chans,
        "num_attention_heads": c.num_heads,
        "num_hidden_layers": c.depth,
        "mlp_ratio": c.mlp_ratio,
        "layer_norm_eps": c.norm_eps,
        "qkv_bias": c.qkv_bias != "none",
        "hidden_act": "gelu",
        "drop_path_rate": 0.0,
    }


def _pairs(i: int) -> list[tuple[str, str]]:
    """(our key, V-JEPA 2's key) of block i, apart from the split attention projections."""
    b, h = f"blocks.{i}.", LAYER.format(i=i)
    names = [
        ("norm1", "norm1"),
        ("attn.proj", "attention.proj"),
        ("norm2", "norm2"),
        ("mlp.fc1", "mlp.fc1"),
        ("mlp.fc2", "mlp.fc2"),
    ]
    return [(f"{b}{o}.{p}", f"{h}{t}.{p}") for o, t in names for p in ("weight", "bias")]


def state_from_hf(sd: Tensors, cfg: ViTConfig) -> Tensors:
    """V-JEPA 2 encoder tensors (prefix `vjepa2.` removed) -> ours. q, k, v become one qkv
    projection; V-JEPA 2 has no mask token (ours starts at zero, as for V-JEPA)."""
    c = cfg.resolved()
    out = {ours: sd[theirs] for ours, theirs in EMBED_AND_NORM}
    out["mask_token"] = torch.zeros(1, 1, c.embed_dim)
    for i in range(c.depth):
        out.update({ours: sd[theirs] for ours, theirs in _pairs(i)})
        a = LAYER.format(i=i) + "attention."
        qkv = ("query", "key", "value")
        out[f"blocks.{i}.attn.qkv.weight"] = torch.cat([sd[f"{a}{n}.weight"] for n in qkv])
        if c.qkv_bias != "none":
            out[f"blocks.{i}.attn.qkv.bias"] = torch.cat([sd[f"{a}{n}.bias"] for n in qkv])
    return out


def state_to_hf(ours: Tensors, cfg: ViTConfig) -> Tensors:
    """Ours (qkv bias or none, no CLS token, rope3d) -> V-JEPA 2 encoder keys."""
    c = cfg.resolved()
    out = {theirs: ours[o] for o, theirs in EMBED_AND_NORM}
    for i in range(c.depth):
        out.update({theirs: ours[o] for o, theirs in _pairs(i)})
        a = LAYER.format(i=i) + "attention."
        w = ours[f"blocks.{i}.attn.qkv.weight"].chunk(3)
        b = ours[f"blocks.{i}.attn.qkv.bias"].chunk(3) if c.qkv_bias != "none" else None
        for j, n in enumerate(("query", "key", "value")):
            out[f"{a}{n}.weight"] = w[j]
            if b is not None:
                out[f"{a}{n}.bias"] = b[j]
    return {k: v.contiguous() for k, v in out.items()}
