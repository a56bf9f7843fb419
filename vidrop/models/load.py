"""`load_backbone(path)`: any backbone vidrop can read, detected from what the path holds.

- backbone.json + backbone.safetensors (a folder, or either file): a vidrop export;
- config.json (model_type videomae) + model.safetensors or pytorch_model.bin: HF VideoMAE;
- a vidrop training checkpoint (checkpoint.pt): its teacher (or student) backbone;
- a V-JEPA checkpoint (`target_encoder` preferred, else `encoder`): its encoder;
- a .pth/.pt/.bin with VideoMAE keys (`encoder.patch_embed...`, or `patch_embed...` and
  `blocks...`), bare or under `model` / `module`: an original VideoMAE checkpoint.

The returned VideoViT is in eval mode; `forward_features(video)` gives {"cls": (B, D), "patch":
(B, N, D)} for video (B, C, T, H, W). VideoMAE has no CLS token: `cls_token=True` adds one
(initialised as DINOv2 does, reported in meta["added"]) for ViDROP training from VideoMAE.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from vidrop.models.export import load_vidrop_export
from vidrop.models.formats import videomae, vjepa
from vidrop.models.safe_load import CheckpointError, load_torch_file
from vidrop.models.vit import VideoViT, ViTConfig

Tensors = dict[str, torch.Tensor]


def load_backbone(
    path: str | Path,
    device: str | torch.device = "cpu",
    cls_token: bool | None = None,
    part: str = "teacher",
    **config: Any,
) -> tuple[VideoViT, dict[str, Any]]:
    """(backbone in eval mode, meta). `cls_token` None keeps the source's layout; `part` picks
    teacher or student from a training checkpoint; `config` sets ViTConfig fields that original
    VideoMAE weights do not record (num_frames, img_size, num_heads; defaults 16, 224, by width)."""
    p = Path(path)
    if (
        (p / "backbone.json").is_file()
        or p.suffix in (".json", ".safetensors")
        and (p.with_name("backbone.json").is_file())
    ):
        model, meta = load_vidrop_export(p)
        return model.to(device).eval(), {**meta, "format": "vidrop"}
    if (p / "config.json").is_file():
        cfg, state, fmt = _read_hf(p, config)
    elif p.is_file():
        cfg, state, fmt = _read_torch_file(p, part, config)
    else:
        raise FileNotFoundError(
            f"{path}: not a file, and not a folder with backbone.json (vidrop export) or "
            "config.json (HF transformers VideoMAE)"
        )
    if cls_token is not None:
        cfg.cls_token = cls_token
    model, report = build_and_load(cfg, state, str(p))
    return model.to(device).eval(), {"format": fmt, "source": str(p), **report}


def build_and_load(cfg: ViTConfig, state: Tensors, source: str) -> tuple[VideoViT, dict]:
    """Build VideoViT(cfg) and load `state`: a shape mismatch names the tensor and both shapes;
    missing and unexpected keys are reported by name (only our CLS token may be missing)."""
    model = VideoViT(cfg)
    bad = shape_mismatches(state, model.state_dict())
    if bad:
        k, theirs, ours = bad[0]
        raise CheckpointError(f"{source}: tensor {k} has shape {theirs}, the model expects {ours}")
    missing, unexpected = model.load_state_dict(state, strict=False)
    added = [k for k in missing if k == "cls_token"]
    missing = [k for k in missing if k != "cls_token"]
    if missing or unexpected:
        raise CheckpointError(f"{source}: missing keys {missing}, unexpected keys {unexpected}")
    return model, {"missing": missing, "unexpected": unexpected, "added": added}


def shape_mismatches(state: Tensors, own: Tensors) -> list[tuple[str, tuple, tuple]]:
    """(name, given shape, expected shape) for every tensor of `state` that `own` holds in
    another shape."""
    return [
        (k, tuple(v.shape), tuple(own[k].shape))
        for k, v in state.items()
        if k in own and own[k].shape != v.shape
    ]


def _read_hf(folder: Path, config: dict[str, Any]) -> tuple[ViTConfig, Tensors, str]:
    hf_cfg = json.loads((folder / "config.json").read_text())
    if hf_cfg.get("model_type") != "videomae":
        raise CheckpointError(
            f"{folder}/config.json: model_type {hf_cfg.get('model_type')!r}; only videomae "
            "HF folders are supported"
        )
    if (folder / "model.safetensors").is_file():
        sd = load_file(str(folder / "model.safetensors"))
    elif (folder / "pytorch_model.bin").is_file():
        sd = load_torch_file(folder / "pytorch_model.bin")
    else:
        raise FileNotFoundError(f"{folder}: no model.safetensors or pytorch_model.bin")
    cfg = replace(videomae.config_from_hf(hf_cfg), **config)
    try:
        return cfg, videomae.state_from_hf(sd, cfg), "hf-videomae"
    except KeyError as exc:
        raise CheckpointError(f"{folder}: missing tensor {exc} for a VideoMAE model") from exc


def _read_torch_file(
    path: Path, part: str, config: dict[str, Any]
) -> tuple[ViTConfig, Tensors, str]:
    obj = load_torch_file(path)
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: holds a {type(obj).__name__}, not a state dict")
    if obj.get("format") == "vidrop-checkpoint":
        if part not in ("teacher", "student"):
            raise ValueError(f"part must be teacher or student, got {part!r}")
        prefix = f"{part}.backbone."
        state = {k[len(prefix) :]: v for k, v in obj["model"].items() if k.startswith(prefix)}
        return ViTConfig(**obj["config"]["model"]), state, f"vidrop-checkpoint:{part}"
    if isinstance(obj.get("target_encoder"), dict) or isinstance(obj.get("encoder"), dict):
        sd = vjepa.encoder_state(obj)
        try:
            cfg = replace(vjepa.config_from_vjepa(sd, config.pop("num_frames", 16)), **config)
            return cfg, vjepa.state_from_vjepa(sd, cfg), "vjepa"
        except KeyError as exc:
            raise CheckpointError(f"{path}: missing tensor {exc} for a V-JEPA encoder") from exc
    for wrapper in ("model", "module", "state_dict"):
        if isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
            break
    obj = {k.removeprefix("module."): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if "encoder.patch_embed.proj.weight" in obj or "patch_embed.proj.weight" in obj:
        cfg = replace(videomae.config_from_original(obj), **config)
        try:
            return cfg, videomae.state_from_original(obj, cfg), "videomae"
        except KeyError as exc:
            raise CheckpointError(f"{path}: missing tensor {exc} for a VideoMAE model") from exc
    keys = ", ".join(list(obj)[:5])
    raise CheckpointError(
        f"{path}: layout not recognised (first keys: {keys}); vidrop reads vidrop exports and "
        "checkpoints, HF transformers VideoMAE folders, original VideoMAE and V-JEPA checkpoints"
    )
