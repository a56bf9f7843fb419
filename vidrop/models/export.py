"""Backbone exports: weights as safetensors plus a JSON file with the model config (no pickles)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from vidrop.models.vit import VideoViT, ViTConfig

FORMAT = "vidrop-backbone"


def save_backbone(
    out_dir: str | Path, backbone: VideoViT, extra: dict[str, Any] | None = None
) -> Path:
    """Write out_dir/backbone.safetensors and out_dir/backbone.json; returns the JSON path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in backbone.state_dict().items()}
    save_file(tensors, str(out / "backbone.safetensors"), metadata={"format": FORMAT})
    meta = {"format": FORMAT, "model": backbone.cfg.to_dict(), **(extra or {})}
    (out / "backbone.json").write_text(json.dumps(meta, indent=2))
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


def load_backbone(path: str | Path, device: str | torch.device = "cpu") -> tuple[VideoViT, dict]:
    """A vidrop export (folder, .json or .safetensors path) -> (VideoViT in eval mode, metadata)."""
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
