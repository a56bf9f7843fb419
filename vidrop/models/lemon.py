"""LEMON-style lossless expansion of a trained ViT (wider and/or deeper), for growing
ViT-S -> B -> L -> H as ViDROP does (Wang et al., "LEMON: Lossless model expansion", ICLR 2024).

Pure functions on state dicts. The invariant that makes width expansion lossless: every vector
in the residual stream, x in R^d, becomes x' = [x, m, ..., m] in R^D with m = mean(x).
- Whatever WRITES the residual stream (patch embedding, position / CLS / mask tokens, attention
  output projection, MLP fc2) keeps its d rows and gets D-d extra rows equal to the mean of
  those rows (bias likewise), so its extra outputs are the mean of its original outputs.
- LayerNorm of x' then has the same mean and variance d/D times the original: the original
  coordinates get gamma * sqrt(d/D) and, with eps also scaled by d/D (`grown_config` does it),
  give exactly the small model's output; the extra coordinates give 0 (their beta is 0).
  Without the eps scaling, early-training features of small variance would shift by percents.
- Whatever READS a LayerNorm output (qkv, fc1, the heads' first layer) gets random columns for
  the extra inputs: they multiply zeros, so outputs are unchanged while new units can learn.
- Attention: original heads keep their dims; a wider head (ViT-H's 80 dims from L's 64) gets q
  rows of 0 for its extra dims (so q.k is unchanged) and its original q rows scaled by
  sqrt(new/old head dim) to undo the smaller 1/sqrt(dim) scale; new heads and extra value dims
  get random weights and zero columns in the output projection.
- MLP: new hidden units get random fc1 rows and zero fc2 columns.
Depth: new blocks whose attention output projection and fc2 are zero are identity maps
(x + 0 + 0); they are spread evenly between the old ones. The DINO heads only widen their input.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import torch

from vidrop.models.vit import ViTConfig

Tensors = dict[str, torch.Tensor]


def _rand(shape: tuple[int, ...], g: torch.Generator, std: float = 0.02) -> torch.Tensor:
    return torch.randn(shape, generator=g) * std


def widen_rows_mean(w: torch.Tensor, new_rows: int) -> torch.Tensor:
    """Rows 0..d-1 kept, rows d..new_rows-1 = the mean of the kept rows (writers of the stream)."""
    extra = w.mean(0, keepdim=True).expand(new_rows - w.shape[0], *w.shape[1:])
    return torch.cat([w, extra])


def widen_bias_mean(b: torch.Tensor, new_len: int) -> torch.Tensor:
    """The bias of a stream writer: extra entries = the mean of the kept ones."""
    return widen_rows_mean(b.unsqueeze(1), new_len).squeeze(1)


def widen_cols_random(w: torch.Tensor, new_cols: int, g: torch.Generator) -> torch.Tensor:
    """Columns kept, extra columns random (readers of a LayerNorm output, whose extras are 0)."""
    return torch.cat([w, _rand((w.shape[0], new_cols - w.shape[1]), g)], dim=1)


def widen_tokens(t: torch.Tensor, new_dim: int) -> torch.Tensor:
    """(..., d) -> (..., D) with extra coordinates = the mean over d (position, CLS, mask)."""
    extra = t.mean(-1, keepdim=True).expand(*t.shape[:-1], new_dim - t.shape[-1])
    return torch.cat([t, extra], dim=-1)


def widen_layernorm(
    weight: torch.Tensor, bias: torch.Tensor, new_dim: int
) -> tuple[torch.Tensor, torch.Tensor]:
    d = weight.shape[0]
    scale = math.sqrt(d / new_dim)
    w = torch.cat([weight * scale, weight.mean().expand(new_dim - d) * scale])
    b = torch.cat([bias, torch.zeros(new_dim - d)])
    return w, b


def _head_rows(heads: int, head_dim: int, new_heads: int, new_head_dim: int) -> torch.Tensor:
    """For each new q/k/v row: the old row it copies, or -1 for a new one."""
    idx = torch.full((new_heads, new_head_dim), -1, dtype=torch.long)
    old = torch.arange(heads * head_dim).view(heads, head_dim)
    idx[:heads, :head_dim] = old
    return idx.flatten()


def _gather_rows(w: torch.Tensor, idx: torch.Tensor, fill: torch.Tensor) -> torch.Tensor:
    """Rows of w at idx (>= 0) and rows of `fill` where idx is -1."""
    out = fill.clone()
    keep = idx >= 0
    out[keep] = w[idx[keep]]
    return out


def widen_attention(
    sd: Tensors, p: str, src: ViTConfig, dst: ViTConfig, g: torch.Generator
) -> Tensors:
    d, dd = src.embed_dim, dst.embed_dim
    h, hh = src.num_heads, dst.num_heads
    hd, hhd = d // h, dd // hh
    if hh < h or hhd < hd:
        raise ValueError(f"cannot shrink attention: {h}x{hd} -> {hh}x{hhd} (heads x dims)")
    idx = _head_rows(h, hd, hh, hhd)
    q_scale = math.sqrt(hhd / hd)  # undoes the 1/sqrt(head dim) of the wider heads
    is_extra_dim = torch.zeros(hh, hhd, dtype=torch.bool)
    is_extra_dim[:h, hd:] = True  # extra dims of original heads: q must be exactly 0 there
    is_extra_dim = is_extra_dim.flatten()
    out: Tensors = {}
    qkv_w = sd[f"{p}qkv.weight"]  # (3d, d)
    parts = []
    for i, part in enumerate(qkv_w.split(d)):
        part = widen_cols_random(part, dd, g)
        part = _gather_rows(part, idx, _rand((dd, dd), g))
        if i == 0:
            part = part * q_scale
            part[is_extra_dim] = 0.0
        parts.append(part)
    out[f"{p}qkv.weight"] = torch.cat(parts)

    def widen_bias(b: torch.Tensor, is_q: bool) -> torch.Tensor:
        nb = _gather_rows(b.unsqueeze(1), idx, torch.zeros(dd, 1)).squeeze(1)
        return nb * q_scale if is_q else nb  # extra q dims have bias 0 from the fill

    if f"{p}qkv.bias" in sd:
        qb, kb, vb = sd[f"{p}qkv.bias"].split(d)
        out[f"{p}qkv.bias"] = torch.cat(
            [widen_bias(qb, True), widen_bias(kb, False), widen_bias(vb, False)]
        )
    if f"{p}q_bias" in sd:
        out[f"{p}q_bias"] = widen_bias(sd[f"{p}q_bias"], True)
        out[f"{p}v_bias"] = widen_bias(sd[f"{p}v_bias"], False)
    # output projection: inputs follow the new head layout (new inputs: zero columns)
    proj = sd[f"{p}proj.weight"]  # (d, d)
    cols = torch.zeros(d, dd)
    keep = idx >= 0
    cols[:, keep] = proj[:, idx[keep]]
    out[f"{p}proj.weight"] = widen_rows_mean(cols, dd)
    out[f"{p}proj.bias"] = widen_bias_mean(sd[f"{p}proj.bias"], dd)
    return out


def widen_block(sd: Tensors, src: ViTConfig, dst: ViTConfig, g: torch.Generator) -> Tensors:
    """One block's tensors (keys without the `blocks.i.` prefix), widened."""
    d, dd = src.embed_dim, dst.embed_dim
    hidden, new_hidden = int(d * src.mlp_ratio), int(dd * dst.mlp_ratio)
    out: Tensors = {}
    for n in ("norm1", "norm2"):
        out[f"{n}.weight"], out[f"{n}.bias"] = widen_layernorm(
            sd[f"{n}.weight"], sd[f"{n}.bias"], dd
        )
    out.update(widen_attention(sd, "attn.", src, dst, g))
    fc1 = widen_cols_random(sd["mlp.fc1.weight"], dd, g)
    out["mlp.fc1.weight"] = torch.cat([fc1, _rand((new_hidden - hidden, dd), g)])
    out["mlp.fc1.bias"] = torch.cat([sd["mlp.fc1.bias"], torch.zeros(new_hidden - hidden)])
    fc2 = torch.cat([sd["mlp.fc2.weight"], torch.zeros(d, new_hidden - hidden)], dim=1)
    out["mlp.fc2.weight"] = widen_rows_mean(fc2, dd)
    out["mlp.fc2.bias"] = widen_bias_mean(sd["mlp.fc2.bias"], dd)
    return out


def identity_block(p: str, dst: ViTConfig, g: torch.Generator) -> Tensors:
    """A new pre-norm block that maps x to x: zero attention projection and zero fc2."""
    dd, hidden = dst.embed_dim, int(dst.embed_dim * dst.mlp_ratio)
    out: Tensors = {
        f"{p}norm1.weight": torch.ones(dd),
        f"{p}norm1.bias": torch.zeros(dd),
        f"{p}norm2.weight": torch.ones(dd),
        f"{p}norm2.bias": torch.zeros(dd),
        f"{p}attn.qkv.weight": _rand((3 * dd, dd), g),
        f"{p}attn.proj.weight": torch.zeros(dd, dd),
        f"{p}attn.proj.bias": torch.zeros(dd),
        f"{p}mlp.fc1.weight": _rand((hidden, dd), g),
        f"{p}mlp.fc1.bias": torch.zeros(hidden),
        f"{p}mlp.fc2.weight": torch.zeros(dd, hidden),
        f"{p}mlp.fc2.bias": torch.zeros(dd),
    }
    if dst.qkv_bias == "qkv":
        out[f"{p}attn.qkv.bias"] = torch.zeros(3 * dd)
    elif dst.qkv_bias == "qv":
        out[f"{p}attn.q_bias"], out[f"{p}attn.v_bias"] = torch.zeros(dd), torch.zeros(dd)
    return out


def block_positions(depth: int, new_depth: int) -> list[int]:
    """Where the old blocks go among new_depth blocks: spread evenly, first stays first."""
    return [math.floor(i * new_depth / depth) for i in range(depth)]


def expand_backbone(sd: Tensors, src: ViTConfig, dst: ViTConfig, seed: int = 0) -> Tensors:
    """A VideoViT state dict of config `src` -> one of config `dst` computing the same function."""
    src, dst = src.resolved(), dst.resolved()
    check_expandable(src, dst)
    g = torch.Generator().manual_seed(seed)
    dd = dst.embed_dim
    out: Tensors = {
        "patch_embed.proj.weight": widen_rows_mean(sd["patch_embed.proj.weight"], dd),
        "patch_embed.proj.bias": widen_bias_mean(sd["patch_embed.proj.bias"], dd),
        "pos_embed": widen_tokens(sd["pos_embed"], dd),
        "mask_token": widen_tokens(sd["mask_token"], dd),
    }
    if "cls_token" in sd:
        out["cls_token"] = widen_tokens(sd["cls_token"], dd)
    if "norm.weight" in sd:
        out["norm.weight"], out["norm.bias"] = widen_layernorm(
            sd["norm.weight"], sd["norm.bias"], dd
        )
    placed = block_positions(src.depth, dst.depth)
    for new in range(dst.depth):
        if new in placed:
            old = placed.index(new)
            block = {
                k[len(f"blocks.{old}.") :]: v
                for k, v in sd.items()
                if k.startswith(f"blocks.{old}.")
            }
            out.update({f"blocks.{new}.{k}": v for k, v in widen_block(block, src, dst, g).items()})
        else:
            out.update(identity_block(f"blocks.{new}.", dst, g))
    return out


def expand_head(sd: Tensors, new_in_dim: int, seed: int = 0) -> Tensors:
    """A DINO head reading a widened backbone: random columns for the (zero) extra inputs."""
    g = torch.Generator().manual_seed(seed)
    out = dict(sd)
    out["mlp.0.weight"] = widen_cols_random(sd["mlp.0.weight"], new_in_dim, g)
    return out


def grown_config(src: ViTConfig, **change: Any) -> ViTConfig:
    """The target config: `change` (embed_dim, depth, num_heads, arch...) applied, and the
    LayerNorm eps scaled by d/D so the expansion stays exact (see the module docstring)."""
    src = src.resolved()
    dst = replace(src, **change).resolved()
    return replace(dst, norm_eps=src.norm_eps * src.embed_dim / dst.embed_dim)


def check_expandable(src: ViTConfig, dst: ViTConfig) -> None:
    same = ("patch_size", "tubelet", "num_frames", "img_size", "in_chans", "qkv_bias", "cls_token")
    diff = [
        f"{k} {getattr(src, k)} -> {getattr(dst, k)}"
        for k in same
        if getattr(src, k) != getattr(dst, k)
    ]
    if diff:
        raise ValueError(f"expansion changes only width and depth; these differ: {', '.join(diff)}")
    if dst.embed_dim < src.embed_dim or dst.depth < src.depth:
        raise ValueError(
            f"cannot shrink {src.embed_dim}x{src.depth} to {dst.embed_dim}x{dst.depth}"
        )
    if int(dst.embed_dim * dst.mlp_ratio) < int(src.embed_dim * src.mlp_ratio):
        raise ValueError("the MLP hidden size cannot shrink")
    if src.layerscale > 0 or dst.layerscale > 0:
        raise ValueError("layer scale is not supported by the expansion (it breaks the mean rows)")
    if not src.final_norm or not dst.final_norm:
        raise ValueError("expansion needs the final LayerNorm (model.final_norm=true)")
    if src.pos_embed != "learned" or dst.pos_embed != "learned":
        raise ValueError(
            "expansion of rotary positions (model.pos_embed=rope3d) is not supported: widening a "
            "head's dimensions would move them between the time, height and width rotations"
        )
