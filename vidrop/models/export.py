"""Backbone exports: weights as safetensors plus a JSON file with the model config (no pickles)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from vidrop.atomic import atomic_path, write_bytes_atomic
from vidrop.errors import VidropError
from vidrop.models.convert import ConversionError, convert_state
from vidrop.models.vit import VideoViT, ViTConfig

FORMAT = "vidrop-backbone"


def save_backbone(
    out_dir: str | Path, backbone: VideoViT, extra: dict[str, Any] | None = None
) -> Path:
    """Write out_dir/backbone.safetensors and out_dir/backbone.json; returns the JSON path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in backbone.state_dict().items()}
    with atomic_path(out / "backbone.safetensors") as tmp:
        save_file(tensors, str(tmp), metadata={"format": FORMAT})
    meta = {"format": FORMAT, "model": backbone.cfg.to_dict(), **(extra or {})}
    write_bytes_atomic(out / "backbone.json", json.dumps(meta, indent=2).encode())
    return out / "backbone.json"


def read_backbone_meta(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    meta_path = p / "backbone.json" if p.is_dir() else p.with_suffix(".json")
    if not meta_path.is_file():
        raise FileNotFoundError(
            f"{path}: no backbone.json found; give a folder written by `vidrop pretrain` "
            "(RUN/export) or its backbone.json"
        )
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{meta_path}: not a vidrop backbone export")
    meta["_weights"] = str(meta_path.with_name("backbone.safetensors"))
    return meta


def load_vidrop_export(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[VideoViT, dict]:
    """A vidrop export (folder, .json or .safetensors path) -> (VideoViT in eval mode, metadata).
    For any supported format use `vidrop.models.load.load_backbone`."""
    meta = read_backbone_meta(path)
    model = VideoViT(ViTConfig(**meta["model"]))
    state = load_file(meta["_weights"], device="cpu")
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"{meta['_weights']}: does not match its config (missing {missing[:5]}, "
            f"unexpected {unexpected[:5]})"
        )
    return model.to(device).eval(), meta


def export_hf_videomae(
    backbone: VideoViT, out_dir: str | Path, eval_views: dict[str, Any] | None = None
) -> Path:
    """Write config.json + model.safetensors that transformers' VideoMAEModel.from_pretrained
    reads, with exactly the backbone's function, or refuse before writing anything.

    VideoMAE has no CLS token and a fixed sinusoid position table: a backbone with a CLS token or
    learned positions cannot be written (use the vidrop format). A qkv bias and layer scale move
    exactly (`vidrop.models.convert`); the converted model is run beside the backbone on a random
    clip and must agree to 1e-5. `eval_views` (frames, size, stride) is recorded in config.json
    under "vidrop_eval", which transformers ignores and `load_backbone` reads back."""
    from vidrop.models.formats import videomae

    cfg = backbone.cfg
    table = videomae.sinusoid_table(backbone.grid.numel, cfg.embed_dim)
    why = []
    if backbone.cls_token is not None:
        why.append("it has a CLS token")
    if backbone.pos_embed is None:
        why.append("its positions are rotary (rope3d); use --format hf-vjepa2")
    elif not torch.allclose(backbone.pos_embed.detach().cpu().float(), table, atol=1e-6):
        why.append("its position embeddings are learned, not VideoMAE's fixed table")
    _refuse_if(why, "HF VideoMAE")
    dst = replace(cfg, qkv_bias="none" if cfg.qkv_bias == "none" else "qv", layerscale=0.0)
    return _write_hf(backbone, dst, videomae, out_dir, eval_views, "HF VideoMAE")


def export_hf_vjepa2(
    backbone: VideoViT, out_dir: str | Path, eval_views: dict[str, Any] | None = None
) -> Path:
    """Write config.json + model.safetensors that transformers' VJEPA2Model reads (its encoder;
    transformers initialises the predictor it expects beside it), with exactly the backbone's
    function, or refuse before writing anything: V-JEPA 2 has rotary positions, no CLS token, no
    layer scale and a final LayerNorm. A q/v bias becomes a qkv bias with k = 0 (exact); the
    converted model must agree with the backbone to 1e-5 on a random clip."""
    from vidrop.models.formats import vjepa2

    cfg = backbone.cfg
    why = []
    if backbone.cls_token is not None:
        why.append("it has a CLS token")
    if cfg.pos_embed != "rope3d":
        why.append("its positions are a learned table, not rotary (model.pos_embed=rope3d)")
    if not cfg.final_norm:
        why.append("it has no final LayerNorm")
    _refuse_if(why, "HF V-JEPA 2")
    dst = replace(cfg, qkv_bias="none" if cfg.qkv_bias == "none" else "qkv", layerscale=0.0)
    return _write_hf(backbone, dst, vjepa2, out_dir, eval_views, "V-JEPA 2")


def _refuse_if(why: list[str], name: str) -> None:
    """ExportError listing `why` the backbone cannot be written as `name`, if anything."""
    if why:
        raise ExportError(
            f"this backbone cannot be written as {name} without changing its outputs ("
            + "; ".join(why)
            + "); export it with --format vidrop, which every vidrop command and "
            "vidrop.load_backbone read"
        )


def _write_hf(
    backbone: VideoViT,
    dst: ViTConfig,
    fmt: Any,
    out_dir: str | Path,
    eval_views: dict[str, Any] | None,
    name: str,
) -> Path:
    """Convert to `dst` exactly, check the function, write `fmt`'s tensors and config.json."""
    plain = VideoViT(dst).eval()
    source = {k: v.detach().cpu().float() for k, v in backbone.state_dict().items()}
    try:
        state, _ = convert_state(source, backbone.cfg, dst, plain.state_dict())
    except ConversionError as exc:
        raise ExportError(f"cannot write {name} exactly: {exc}") from exc
    plain.load_state_dict(state)
    _check_same_function(backbone, plain)
    hf_config = fmt.hf_config_from(dst)
    if eval_views:
        hf_config["vidrop_eval"] = eval_views
    tensors = fmt.state_to_hf(state, dst)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "model.safetensors") as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt"})
    write_bytes_atomic(out / "config.json", json.dumps(hf_config, indent=2).encode())
    return out


class ExportError(VidropError, ValueError):
    """An export that would not hold exactly the backbone's function."""


@torch.no_grad()
def _check_same_function(backbone: VideoViT, converted: VideoViT, tol: float = 1e-5) -> None:
    """Both models on one random clip of the backbone's shape: patch tokens within `tol`
    (relative to their norm), else ExportError."""
    c = backbone.cfg
    g = torch.Generator().manual_seed(0)
    video = torch.randn(1, c.in_chans, c.num_frames, c.img_size, c.img_size, generator=g)
    was_training = backbone.training
    ref = backbone.eval().float().cpu()(video)["patch"]
    backbone.train(was_training)
    got = converted(video)["patch"]
    err = float((got - ref).norm() / ref.norm().clamp_min(1e-12))
    if not err <= tol:
        raise ExportError(f"the converted model's outputs differ by {err:.2e} (relative); refused")
