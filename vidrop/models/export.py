"""Backbone exports: weights as safetensors plus a JSON file with the model config (no pickles)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from vidrop.atomic import atomic_path, write_bytes_atomic
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


def export_hf_videomae(backbone: VideoViT, out_dir: str | Path, lossy: bool = False) -> Path:
    """Write config.json + model.safetensors that transformers' VideoMAEModel.from_pretrained
    reads. VideoMAE has no CLS token and a fixed sinusoid position table: a backbone with either a
    CLS token or learned position embeddings would compute something else there, so it is
    refused unless `lossy` (then the CLS token is dropped and the table replaces ours)."""
    from vidrop.models.formats import videomae

    cfg = backbone.cfg
    table = videomae.sinusoid_table(backbone.grid.numel, cfg.embed_dim)
    differs = []
    if backbone.cls_token is not None:
        differs.append("it has a CLS token")
    if not torch.allclose(backbone.pos_embed.detach().cpu(), table, atol=1e-6):
        differs.append("its position embeddings are learned, not VideoMAE's fixed table")
    if differs and not lossy:
        raise ValueError(
            "this backbone cannot be written as HF VideoMAE without changing its outputs ("
            + "; ".join(differs)
            + "). Use --format vidrop, or --lossy to drop what VideoMAE cannot hold."
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = videomae.state_to_hf(backbone.state_dict(), cfg)
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(videomae.hf_config_from(cfg), indent=2))
    return out
