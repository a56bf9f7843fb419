"""Exact conversion of a backbone's weights between two VideoViT layouts.

A run started from other weights (`train.init`) and an export to another format both move a state
dict from one `ViTConfig` to another of the same width and depth. Every tensor must arrive with
the same function or the move is refused with the key's name: nothing is dropped silently.

Exact moves:
- attention biases: q/v (VideoMAE) -> one qkv bias with k = 0; none -> zeros; qkv -> q/v drops
  the key bias, which adds the same q.b_k to every logit of a query, so softmax cancels it;
  a q/v/qkv bias -> none only where the biases are zero;
- layer scale -> none: the gains fold into the output projection and fc2 (rows scaled);
- position embeddings on another grid: trilinearly resampled (a change of clip shape, reported);
  rotary positions (rope3d) have no weights and follow each clip's grid by themselves.
Added, reported, never silent: a CLS token where the source has none (DINOv2's init; the paper
adds one to VideoMAE and V-JEPA), and a final LayerNorm where the source has none.
Refused: a CLS token the destination cannot hold, layer scale the source lacks, another kind of
position embedding (learned <-> rope3d), other shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from vidrop.errors import VidropError
from vidrop.models.pos_embed import resample_grid
from vidrop.models.vit import ViTConfig
from vidrop.tokens.grid import TokenGrid

Tensors = dict[str, torch.Tensor]


class ConversionError(VidropError, ValueError):
    """A weight that cannot move to the destination layout without changing the function."""


@dataclass
class Conversion:
    """What a conversion did, key by key (written beside a run that starts from other weights)."""

    converted: list[str] = field(default_factory=list)  # exact changes of layout
    added: list[str] = field(default_factory=list)  # tensors the source has no counterpart for

    def to_dict(self) -> dict[str, list[str]]:
        return {"converted": self.converted, "added": self.added}


def _grid(c: ViTConfig) -> TokenGrid:
    return TokenGrid.of_clip(c.num_frames, c.img_size, c.tubelet, c.patch_size)


def _attention_bias(
    state: Tensors, p: str, src: str, dst: str, d: int, out: Tensors, note: Conversion
) -> None:
    """Move block prefix `p`'s attention bias from layout `src` to `dst` (qkv | qv | none)."""
    if src == "qkv":
        q, k, v = state[f"{p}qkv.bias"].split(d)
    elif src == "qv":
        q, k, v = state[f"{p}q_bias"], None, state[f"{p}v_bias"]
    else:
        q = k = v = None
    if dst == "qkv":
        zero = torch.zeros(d, dtype=state[f"{p}qkv.weight"].dtype)
        out[f"{p}qkv.bias"] = torch.cat([zero if t is None else t for t in (q, k, v)])
    elif dst == "qv":
        dtype = state[f"{p}qkv.weight"].dtype
        out[f"{p}q_bias"] = torch.zeros(d, dtype=dtype) if q is None else q.clone()
        out[f"{p}v_bias"] = torch.zeros(d, dtype=dtype) if v is None else v.clone()
    else:
        for name, t in (("q", q), ("v", v)):
            if t is not None and bool(t.any()):
                raise ConversionError(
                    f"{p}{name} bias is non-zero and model.qkv_bias=none has no place for it; "
                    f"set model.qkv_bias={src}"
                )
    if src != dst:
        note.converted.append(f"{p}: {src} bias -> {dst}")


def _fold_layerscale(state: Tensors, b: str, out: Tensors, note: Conversion) -> None:
    """x + gamma * (W h + c) == x + (gamma W) h + gamma c: fold block `b`'s gains away."""
    for gain, proj in (("ls1.gamma", "attn.proj"), ("ls2.gamma", "mlp.fc2")):
        g = state[f"{b}{gain}"]
        out[f"{b}{proj}.weight"] = state[f"{b}{proj}.weight"] * g[:, None]
        out[f"{b}{proj}.bias"] = state[f"{b}{proj}.bias"] * g
        note.converted.append(f"{b}{gain} folded into {b}{proj}")


def convert_state(
    state: Tensors, src: ViTConfig, dst: ViTConfig, fresh: Tensors
) -> tuple[Tensors, Conversion]:
    """`state` of VideoViT(src) -> a full state dict for VideoViT(dst), with the same function
    (see the module docstring), and what changed. `fresh`: a freshly initialised VideoViT(dst)'s
    state, which the added tensors (CLS token, final norm) come from. Raises ConversionError
    naming the key."""
    s, t = src.resolved(), dst.resolved()
    _check_same_shape(s, t)
    note = Conversion()
    if s.norm_eps != t.norm_eps:  # e.g. HF VideoMAE's 1e-12: outputs move by ~eps / variance
        note.converted.append(f"LayerNorm eps {s.norm_eps:g} -> {t.norm_eps:g} (model.norm_eps)")
    out = _embeddings(state, s, t, fresh, note)
    if s.layerscale == 0 and t.layerscale > 0:
        raise ConversionError(
            "blocks.*.ls1.gamma: the weights have no layer scale; a fresh one would scale every "
            "block's output by model.layerscale; set model.layerscale=0"
        )
    for i in range(t.depth):
        out.update(_block(state, f"blocks.{i}.", s, t, note))
    out.update(_final_norm(state, s, t, fresh, note))
    return out, note


def _check_same_shape(s: ViTConfig, t: ViTConfig) -> None:
    keys = ("embed_dim", "depth", "num_heads", "patch_size", "tubelet", "in_chans", "pos_embed")
    for key in keys:
        if getattr(s, key) != getattr(t, key):
            raise ConversionError(
                f"model.{key} differs: the weights have {getattr(s, key)}, the model "
                f"{getattr(t, key)}; set model.{key} (or model.arch) to the weights'"
            )
    if s.mlp_ratio != t.mlp_ratio:
        raise ConversionError(
            f"model.mlp_ratio differs: weights {s.mlp_ratio}, model {t.mlp_ratio}"
        )


def _embeddings(
    state: Tensors, s: ViTConfig, t: ViTConfig, fresh: Tensors, note: Conversion
) -> Tensors:
    """Patch embedding, mask token, position embeddings (resampled to another grid) and the CLS
    token (added where the weights have none; refused where the model cannot hold it)."""
    out = {k: state[k] for k in ("patch_embed.proj.weight", "patch_embed.proj.bias", "mask_token")}
    if s.pos_embed == "learned":
        out["pos_embed"] = state["pos_embed"]
    if s.pos_embed == "learned" and _grid(s) != _grid(t):
        out["pos_embed"] = resample_grid(
            state["pos_embed"], _grid(s).as_tuple(), _grid(t).as_tuple()
        )
        note.converted.append(f"pos_embed resampled from grid {_grid(s)} to {_grid(t)}")
    if t.cls_token:
        out["cls_token"] = state["cls_token"] if s.cls_token else fresh["cls_token"]
        if not s.cls_token:
            note.added.append("cls_token (the weights have none; initialised as DINOv2 does)")
    elif s.cls_token:
        raise ConversionError(
            "cls_token: the weights have a CLS token and the destination cannot hold one "
            "(its patch tokens attend to it); keep model.cls_token=true"
        )
    return out


def _block(state: Tensors, b: str, s: ViTConfig, t: ViTConfig, note: Conversion) -> Tensors:
    """One block: norms, projections and MLP as they are, the attention bias and layer scale
    moved to the model's layout."""
    out = {}
    for name in ("norm1", "norm2", "attn.proj", "mlp.fc1", "mlp.fc2"):
        for p in ("weight", "bias"):
            out[f"{b}{name}.{p}"] = state[f"{b}{name}.{p}"]
    out[f"{b}attn.qkv.weight"] = state[f"{b}attn.qkv.weight"]
    _attention_bias(state, f"{b}attn.", s.qkv_bias, t.qkv_bias, t.embed_dim, out, note)
    if s.layerscale > 0 and t.layerscale > 0:
        out[f"{b}ls1.gamma"], out[f"{b}ls2.gamma"] = state[f"{b}ls1.gamma"], state[f"{b}ls2.gamma"]
    elif s.layerscale > 0:
        _fold_layerscale(state, b, out, note)
    return out


def _final_norm(
    state: Tensors, s: ViTConfig, t: ViTConfig, fresh: Tensors, note: Conversion
) -> Tensors:
    if not t.final_norm:
        if s.final_norm:
            raise ConversionError(
                "norm.weight: the weights end with a LayerNorm the model lacks; set "
                "model.final_norm=true"
            )
        return {}
    if s.final_norm:
        return {"norm.weight": state["norm.weight"], "norm.bias": state["norm.bias"]}
    note.added.append(
        "norm (the weights have no final LayerNorm: a fresh one normalises the tokens "
        "they left unnormalised; model.final_norm=false keeps their outputs)"
    )
    return {"norm.weight": fresh["norm.weight"], "norm.bias": fresh["norm.bias"]}
