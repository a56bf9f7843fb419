"""VideoMAE layouts: HF transformers (`VideoMAEModel`) and the original MCG-NJU checkpoints.

Both have no CLS token and a FIXED 1-D sinusoid position table over the t-major token order
(not stored in the checkpoints); our `pos_embed` is filled with that table. Key maps:

  ours                          HF transformers                                 original
  patch_embed.proj.*            embeddings.patch_embeddings.projection.*        patch_embed.proj.*
  blocks.i.norm1.*              encoder.layer.i.layernorm_before.*              blocks.i.norm1.*
  blocks.i.attn.qkv.weight      encoder.layer.i.attention.attention.{query,key,value}.weight
                                                                                blocks.i.attn.qkv.weight
  blocks.i.attn.{q,v}_bias      ...attention.attention.{query,value}.bias (or q_bias/v_bias <5.0)
                                                                                blocks.i.attn.{q,v}_bias
  blocks.i.attn.proj.*          encoder.layer.i.attention.output.dense.*        blocks.i.attn.proj.*
  blocks.i.norm2.*              encoder.layer.i.layernorm_after.*               blocks.i.norm2.*
  blocks.i.mlp.fc1.*            encoder.layer.i.intermediate.dense.*            blocks.i.mlp.fc1.*
  blocks.i.mlp.fc2.*            encoder.layer.i.output.dense.*                  blocks.i.mlp.fc2.*
  norm.*                        layernorm.* (absent with use_mean_pooling)      norm.* / fc_norm.*

The original pretraining checkpoints hold the encoder under `encoder.` (and a decoder, ignored)
inside `model` or `module`; fine-tuned ones hold it at the top level with `fc_norm` and `head`.
"""

from __future__ import annotations

from typing import Any, cast

import torch

from vidrop.config import Arch
from vidrop.models.vit import ARCHS, ViTConfig

Tensors = dict[str, torch.Tensor]


def sinusoid_table(n_position: int, dim: int) -> torch.Tensor:
    """VideoMAE's fixed table (1, n, dim): angle pos / 10000^(2*(j//2)/dim), sin on even j,
    cos on odd j; computed in float64 as the reference does with numpy."""
    pos = torch.arange(n_position, dtype=torch.float64).unsqueeze(1)
    j = torch.arange(dim, dtype=torch.float64)
    angle = pos / torch.pow(10000.0, 2 * torch.div(j, 2, rounding_mode="floor") / dim)
    table = torch.where(j.long() % 2 == 0, torch.sin(angle), torch.cos(angle))
    return table.float().unsqueeze(0)


def _arch_for(dim: int, depth: int, heads: int) -> Arch:
    for name, shape in ARCHS.items():
        if shape == (dim, depth, heads):
            return cast(Arch, name)
    return "vit_s"  # any name: the explicit sizes below override it


def config_from_hf(hf: dict[str, Any]) -> ViTConfig:
    dim, depth, heads = hf["hidden_size"], hf["num_hidden_layers"], hf["num_attention_heads"]
    if hf.get("hidden_act", "gelu") != "gelu":
        raise ValueError(f"VideoMAE with hidden_act={hf['hidden_act']!r} is not supported (gelu)")
    return ViTConfig(
        arch=_arch_for(dim, depth, heads),
        embed_dim=dim,
        depth=depth,
        num_heads=heads,
        mlp_ratio=hf["intermediate_size"] / dim,
        patch_size=hf["patch_size"],
        tubelet=hf["tubelet_size"],
        num_frames=hf["num_frames"],
        img_size=hf["image_size"],
        in_chans=hf.get("num_channels", 3),
        qkv_bias="qv" if hf.get("qv_bias", hf.get("qkv_bias", True)) else "none",  # >=5 / <5
        drop_path=0.0,
        cls_token=False,
        final_norm=not hf.get("use_mean_pooling", True),
        norm_eps=hf.get("layer_norm_eps", 1e-12),
    )


def hf_config_from(cfg: ViTConfig) -> dict[str, Any]:
    """config.json for transformers' VideoMAEModel (model_type videomae)."""
    c = cfg.resolved()
    if c.qkv_bias == "qkv":
        raise ValueError("VideoMAE has no key bias: export needs model.qkv_bias qv or none")
    if c.layerscale > 0:
        raise ValueError("VideoMAE has no layer scale: a model with layerscale cannot be exported")
    return {
        "model_type": "videomae",
        "architectures": ["VideoMAEModel"],
        "image_size": c.img_size,
        "patch_size": c.patch_size,
        "num_channels": c.in_chans,
        "num_frames": c.num_frames,
        "tubelet_size": c.tubelet,
        "hidden_size": c.embed_dim,
        "num_hidden_layers": c.depth,
        "num_attention_heads": c.num_heads,
        "intermediate_size": int(c.embed_dim * c.mlp_ratio),
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "initializer_range": 0.02,
        "layer_norm_eps": c.norm_eps,
        "qkv_bias": c.qkv_bias == "qv",  # transformers < 5
        "qv_bias": c.qkv_bias == "qv",  # transformers >= 5
        "use_mean_pooling": not c.final_norm,
    }


def _block_map_hf(i: int) -> dict[str, str]:
    """ours -> HF for block i (everything but the fused qkv)."""
    h, o = f"encoder.layer.{i}.", f"blocks.{i}."
    pairs = {
        "norm1": "layernorm_before",
        "norm2": "layernorm_after",
        "attn.proj": "attention.output.dense",
        "mlp.fc1": "intermediate.dense",
        "mlp.fc2": "output.dense",
    }
    return {
        f"{o}{ours}.{p}": f"{h}{theirs}.{p}"
        for ours, theirs in pairs.items()
        for p in ("weight", "bias")
    }


def state_from_hf(hf: Tensors, cfg: ViTConfig) -> Tensors:
    """HF VideoMAEModel state dict (its `videomae.` prefix already stripped) -> ours, with the
    sinusoid position table and no CLS token. Raises KeyError naming what is missing."""
    c = cfg.resolved()
    out: Tensors = {
        "patch_embed.proj.weight": hf["embeddings.patch_embeddings.projection.weight"],
        "patch_embed.proj.bias": hf["embeddings.patch_embeddings.projection.bias"],
    }
    for i in range(c.depth):
        a = f"encoder.layer.{i}.attention.attention."
        for ours, theirs in _block_map_hf(i).items():
            out[ours] = hf[theirs]
        qkv = [hf[f"{a}{n}.weight"] for n in ("query", "key", "value")]
        out[f"blocks.{i}.attn.qkv.weight"] = torch.cat(qkv)
        if c.qkv_bias == "qv":
            for ours, new, old in (
                ("q_bias", "query.bias", "q_bias"),
                ("v_bias", "value.bias", "v_bias"),
            ):
                out[f"blocks.{i}.attn.{ours}"] = (
                    hf[f"{a}{new}"] if f"{a}{new}" in hf else hf[f"{a}{old}"]
                )
    if c.final_norm:
        out["norm.weight"], out["norm.bias"] = hf["layernorm.weight"], hf["layernorm.bias"]
    return _with_fixed_parts(out, c)


def state_to_hf(ours: Tensors, cfg: ViTConfig) -> Tensors:
    """Ours -> HF VideoMAEModel (transformers >= 5 names). The CLS token, mask token and our
    learned position embedding have no place there and are dropped (see `export`)."""
    c = cfg.resolved()
    d = c.embed_dim
    out: Tensors = {
        "embeddings.patch_embeddings.projection.weight": ours["patch_embed.proj.weight"],
        "embeddings.patch_embeddings.projection.bias": ours["patch_embed.proj.bias"],
    }
    for i in range(c.depth):
        a = f"encoder.layer.{i}.attention.attention."
        for o, theirs in _block_map_hf(i).items():
            out[theirs] = ours[o]
        q, k, v = ours[f"blocks.{i}.attn.qkv.weight"].split(d)
        out[f"{a}query.weight"], out[f"{a}key.weight"], out[f"{a}value.weight"] = q, k, v
        if c.qkv_bias == "qv":
            out[f"{a}query.bias"] = ours[f"blocks.{i}.attn.q_bias"]
            out[f"{a}value.bias"] = ours[f"blocks.{i}.attn.v_bias"]
    if c.final_norm:
        out["layernorm.weight"], out["layernorm.bias"] = ours["norm.weight"], ours["norm.bias"]
    return {k: v.contiguous() for k, v in out.items()}


def state_from_original(sd: Tensors, cfg: ViTConfig) -> Tensors:
    """MCG-NJU VideoMAE checkpoint (pretraining `encoder.*` or fine-tuning layout, the
    `model`/`module` wrapper already removed) -> ours. A fine-tuned model's `fc_norm` normalises
    the POOLED feature, not the tokens, so like its `head` it is left out (the tokens are the
    un-normalised last block's, as in HF with use_mean_pooling)."""
    c = cfg.resolved()
    prefix = "encoder." if any(k.startswith("encoder.") for k in sd) else ""
    out = {
        k[len(prefix) :]: sd[k]
        for k in list(sd)
        if k.startswith((f"{prefix}patch_embed.", f"{prefix}blocks."))
    }
    if c.final_norm:
        out["norm.weight"], out["norm.bias"] = sd[f"{prefix}norm.weight"], sd[f"{prefix}norm.bias"]
    out = _with_fixed_parts(out, c)
    if f"{prefix}pos_embed" in sd:  # learnable position embeddings (use_learnable_pos_emb)
        out["pos_embed"] = sd[f"{prefix}pos_embed"].reshape(out["pos_embed"].shape)
    return out


def config_from_original(sd: Tensors, num_frames: int = 16, img_size: int = 224) -> ViTConfig:
    """Sizes read off the tensors; frames and image size are not in the weights (16x224 default,
    as every released VideoMAE)."""
    prefix = "encoder." if any(k.startswith("encoder.") for k in sd) else ""
    w = sd[f"{prefix}patch_embed.proj.weight"]
    dim, _, tubelet, patch, _ = w.shape
    blocks = f"{prefix}blocks."
    depth = 1 + max(int(k[len(blocks) :].split(".")[0]) for k in sd if k.startswith(blocks))
    # heads are not in the weights: VideoMAE's S/B/L/H use 6/12/16/16, anything else 64-dim heads
    heads = {384: 6, 768: 12, 1024: 16, 1280: 16}.get(dim, max(1, dim // 64))
    hidden = sd[f"{prefix}blocks.0.mlp.fc1.weight"].shape[0]
    return ViTConfig(
        arch=_arch_for(dim, depth, heads),
        embed_dim=dim,
        depth=depth,
        num_heads=heads,
        mlp_ratio=hidden / dim,
        patch_size=patch,
        tubelet=tubelet,
        num_frames=num_frames,
        img_size=img_size,
        in_chans=w.shape[1],
        qkv_bias="qv" if f"{prefix}blocks.0.attn.q_bias" in sd else "none",
        drop_path=0.0,
        cls_token=False,
        final_norm=f"{prefix}norm.weight" in sd,
        norm_eps=1e-6,
    )


def _with_fixed_parts(out: Tensors, c: ViTConfig) -> Tensors:
    n = (c.num_frames // c.tubelet) * (c.img_size // c.patch_size) ** 2
    out["pos_embed"] = sinusoid_table(n, c.embed_dim)
    out["mask_token"] = torch.zeros(1, 1, c.embed_dim)  # VideoMAE's encoder has none
    return out
