"""`load_backbone(path)`: any backbone vidrop can read, detected from what the path holds.

- backbone.json + backbone.safetensors (a folder, or either file): a vidrop export;
- config.json (model_type videomae or vjepa2) + model.safetensors or pytorch_model.bin: HF
  VideoMAE or V-JEPA 2;
- a vidrop training checkpoint (checkpoint.pt): its teacher (or student) backbone;
- a V-JEPA checkpoint (`target_encoder` preferred, else `encoder`): its encoder;
- a .pth/.pt/.bin with VideoMAE keys (`encoder.patch_embed...`, or `patch_embed...` and
  `blocks...`), bare or under `model` / `module`: an original VideoMAE checkpoint.

The returned VideoViT is in eval mode; `forward_features(video)` gives {"cls": (B, D), "patch":
(B, N, D)} for video (B, C, T, H, W). VideoMAE and V-JEPA (2) have no CLS token: `cls_token=True`
adds one (initialised as DINOv2 does, reported in meta["added"]) for ViDROP training from them.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal, overload

import torch
from safetensors.torch import load_file

from vidrop.models.export import load_vidrop_export
from vidrop.models.formats import videomae, vjepa, vjepa2
from vidrop.models.safe_load import CheckpointError, load_torch_file
from vidrop.models.vit import VideoViT, ViTConfig

Tensors = dict[str, torch.Tensor]

# Parts of other people's checkpoints that a backbone never uses: pretraining decoders and
# predictors, classifier heads and the norm of their pooled feature. Any other tensor the reader
# does not take stops the load with its name (a weight dropped silently damages a run).
UNUSED_PARTS = (
    "decoder.",
    "encoder_to_decoder.",
    "mask_token",
    "fc_norm.",
    "classifier.",
    "head.",
    "predictor.",
    "pooler.",
)


class _Tracked(dict):
    """A state dict that remembers which keys were read, so the leftovers can be audited."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> torch.Tensor:
        self.read.add(key)
        return super().__getitem__(key)


def _audit(sd: _Tracked, source: str) -> list[str]:
    """The keys of `sd` no reader took: known unused parts are returned (reported as ignored);
    anything else is an error naming the keys."""
    left = sorted(set(sd) - sd.read)
    unknown = [k for k in left if not k.startswith(UNUSED_PARTS)]
    if unknown:
        raise CheckpointError(
            f"{source}: tensors vidrop does not know where to put: {unknown[:8]}"
            f"{' ...' if len(unknown) > 8 else ''}; refusing rather than dropping them. If they "
            "are not part of the encoder, remove them from the checkpoint first"
        )
    parts = sorted({k.split(".")[0] for k in left})
    return [f"{p} ({sum(k.split('.')[0] == p for k in left)} tensors)" for p in parts]


@overload
def load_backbone(
    path: str | Path,
    device: str | torch.device = ...,
    cls_token: bool | None = ...,
    part: str = ...,
    with_meta: Literal[False] = ...,
    **config: Any,
) -> VideoViT: ...


@overload
def load_backbone(
    path: str | Path,
    device: str | torch.device = ...,
    cls_token: bool | None = ...,
    part: str = ...,
    *,
    with_meta: Literal[True],
    **config: Any,
) -> tuple[VideoViT, dict[str, Any]]: ...


def load_backbone(
    path: str | Path,
    device: str | torch.device = "cpu",
    cls_token: bool | None = None,
    part: str = "teacher",
    with_meta: bool = False,
    **config: Any,
) -> VideoViT | tuple[VideoViT, dict[str, Any]]:
    """The backbone in eval mode, its metadata on `model.meta` (format, source, the clip it was
    trained on, what was added or ignored); `with_meta` also returns the metadata. `cls_token`
    None keeps the source's layout; `part` picks teacher or student from a training checkpoint;
    `config` sets ViTConfig fields that original VideoMAE weights do not record (num_frames,
    img_size, num_heads; defaults 16, 224, by width)."""
    model, meta = _load(Path(path), device, cls_token, part, config)
    model.meta = meta
    return (model, meta) if with_meta else model


def _load(
    p: Path, device: str | torch.device, cls_token: bool | None, part: str, config: dict
) -> tuple[VideoViT, dict[str, Any]]:
    if (
        (p / "backbone.json").is_file()
        or p.suffix in (".json", ".safetensors")
        and (p.with_name("backbone.json").is_file())
    ):
        model, meta = load_vidrop_export(p)
        return model.to(device).eval(), {**meta, "format": "vidrop"}
    views = None
    if (p / "config.json").is_file():
        cfg, state, fmt, ignored, views = _read_hf(p, config)
    elif p.is_file():
        cfg, state, fmt, ignored, views = _read_torch_file(p, part, config)
    else:
        raise FileNotFoundError(
            f"{p}: not a file, and not a folder with backbone.json (vidrop export) or "
            "config.json (HF transformers VideoMAE or V-JEPA 2)"
        )
    if cls_token is not None:
        cfg.cls_token = cls_token
    model, report = build_and_load(cfg, state, str(p))
    meta = {"format": fmt, "source": str(p), **report, "ignored": ignored}
    if views:
        meta["eval"] = views
    return model.to(device).eval(), meta


def training_views(config: dict[str, Any]) -> dict[str, int]:
    """The clip a run trained its large views on (a run's resolved config): what evaluation of
    its backbone should show it."""
    v, d = config["views"], config.get("data", {})
    views = {
        "frames": v["large_frames"],
        "size": v["large_size"],
        "stride": v["frame_stride"],
        "short_side": d.get("short_side", 0),
    }
    if v.get("sampling", "stride") != "stride":
        views["sampling"] = v["sampling"]
    return views


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


# HF model_type -> (format name, reader module, the prefix of the base model in task models)
HF_FORMATS = {
    "videomae": ("hf-videomae", videomae, "videomae."),
    "vjepa2": ("hf-vjepa2", vjepa2, "vjepa2."),
}


def _read_hf(
    folder: Path, config: dict[str, Any]
) -> tuple[ViTConfig, Tensors, str, list[str], dict | None]:
    hf_cfg = json.loads((folder / "config.json").read_text())
    kind = hf_cfg.get("model_type")
    if kind not in HF_FORMATS:
        raise CheckpointError(
            f"{folder}/config.json: model_type {kind!r}; HF folders of {sorted(HF_FORMATS)} "
            "are supported"
        )
    fmt, reader, prefix = HF_FORMATS[kind]
    if (folder / "model.safetensors").is_file():
        sd = load_file(str(folder / "model.safetensors"))
    elif (folder / "pytorch_model.bin").is_file():
        sd = load_torch_file(folder / "pytorch_model.bin")
    else:
        raise FileNotFoundError(f"{folder}: no model.safetensors or pytorch_model.bin")
    try:
        cfg = replace(reader.config_from_hf(hf_cfg), **config)
    except ValueError as exc:
        raise CheckpointError(f"{folder}/config.json: {exc}") from exc
    tracked = _Tracked({k.removeprefix(prefix): v for k, v in sd.items()})
    try:
        state = reader.state_from_hf(tracked, cfg)
    except KeyError as exc:
        raise CheckpointError(f"{folder}: missing tensor {exc} for a {kind} model") from exc
    ignored = _audit(tracked, str(folder))
    # views recorded by `vidrop export --format hf-*` or `vidrop compare` (not by HF)
    return cfg, state, fmt, ignored, hf_cfg.get("vidrop_eval")


def _read_torch_file(
    path: Path, part: str, config: dict[str, Any]
) -> tuple[ViTConfig, Tensors, str, list[str], dict | None]:
    obj = load_torch_file(path)
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: holds a {type(obj).__name__}, not a state dict")
    if obj.get("format") == "vidrop-checkpoint":
        if part not in ("teacher", "student"):
            raise ValueError(f"part must be teacher or student, got {part!r}")
        prefix = f"{part}.backbone."
        state = {k[len(prefix) :]: v for k, v in obj["model"].items() if k.startswith(prefix)}
        # the heads and the other part are training state, not the backbone
        ignored = [f"{p} (training state)" for p in ("dino_head", "ibot_head", "optimizer")]
        cfg = ViTConfig(**obj["config"]["model"])
        return cfg, state, f"vidrop-checkpoint:{part}", ignored, training_views(obj["config"])
    if isinstance(obj.get("target_encoder"), dict) or isinstance(obj.get("encoder"), dict):
        which = "target_encoder" if isinstance(obj.get("target_encoder"), dict) else "encoder"
        sd = _Tracked(vjepa.encoder_state(obj))
        try:
            cfg = replace(vjepa.config_from_vjepa(sd, config.pop("num_frames", 16)), **config)
            state = vjepa.state_from_vjepa(sd, cfg)
        except KeyError as exc:
            raise CheckpointError(f"{path}: missing tensor {exc} for a V-JEPA encoder") from exc
        others = [k for k in obj if k != which and isinstance(obj[k], dict)]
        ignored = [*_audit(sd, str(path)), *(f"{k} (not the encoder)" for k in others)]
        return cfg, state, "vjepa", ignored, None
    for wrapper in ("model", "module", "state_dict"):
        if isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
            break
    obj = {k.removeprefix("module."): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if "encoder.patch_embed.proj.weight" in obj or "patch_embed.proj.weight" in obj:
        cfg = replace(videomae.config_from_original(obj), **config)
        sd = _Tracked(obj)
        try:
            state = videomae.state_from_original(sd, cfg)
        except KeyError as exc:
            raise CheckpointError(f"{path}: missing tensor {exc} for a VideoMAE model") from exc
        return cfg, state, "videomae", _audit(sd, str(path)), None
    keys = ", ".join(list(obj)[:5])
    raise CheckpointError(
        f"{path}: layout not recognised (first keys: {keys}); vidrop reads vidrop exports and "
        "checkpoints, HF transformers VideoMAE folders, original VideoMAE and V-JEPA checkpoints"
    )
