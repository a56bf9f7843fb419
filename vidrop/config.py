"""Run configuration: small dataclasses, YAML recipes, `key=value` overrides, checked up front.

A recipe is a YAML file with one mapping per section; `base: NAME` merges the file on top of
another recipe. Packaged recipes (vidrop/configs/*.yaml) are found by name. The resolved config
is saved as RUN/config.yaml, so a run always says exactly what it ran.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vidrop.models.layers import ATTENTION_BACKENDS
from vidrop.models.vit import ARCHS, ViTConfig
from vidrop.tokens.drop import DROP_PATTERNS

RECIPES = Path(__file__).parent / "configs"


class ConfigError(ValueError):
    """A config key or value that cannot be used; the message names it and what to do."""


@dataclass
class DataConfig:
    train: str = ""  # manifest of training videos (labels ignored by pretraining)
    root: str = ""  # base folder for relative paths (default: the manifest's folder)
    short_side: int = 0  # resize decoded frames' short side first (0 keeps the stored size)
    num_workers: int = 2
    max_retries: int = 10  # broken videos replaced by others before a sample gives up
    cache_mb: int = 0  # keep decoded videos in RAM, per loader worker (small datasets only)
    store: str = ""  # a code store (`vidrop compress encode`): train from it, not from data.train
    decode_on: str = "auto"  # where store codes become pixels: auto (device on GPU), worker, device


@dataclass
class ViewsConfig:
    large_clips: int = 2
    large_frames: int = 16
    large_size: int = 224
    large_scale: tuple[float, float] = (0.32, 1.0)
    small_clips: int = 8
    small_frames: int = 8
    small_size: int = 96
    small_scale: tuple[float, float] = (0.05, 0.32)
    ratio: tuple[float, float] = (0.75, 1.3333)
    frame_stride: int = 4
    flip: float = 0.5
    # the large clips of a video never share a frame (where it is long enough): the DINO loss
    # then pairs views of other moments, not two views of the same frames (docs/evaluation.md)
    large_disjoint: bool = False
    # none (crop + flip: the paper's "noaug" rows) | dino (DINO's colour jitter, grayscale,
    # blur and solarisation, per clip: its "+aug" rows), vidrop.data.augment
    augment: str = "none"
    # stride: clips of frames frame_stride apart (Kinetics) | segments: one frame from each of
    # equal segments of the whole video (TSN; VideoMAE's Something-Something v2 protocol)
    sampling: str = "stride"


@dataclass
class MaskConfig:
    drop_ratio: float = 0.85
    drop_pattern: str = "random"  # random | tube | block
    mask_prob: float = 0.5  # share of large clips that get masked tokens
    mask_ratio: tuple[float, float] = (0.1, 0.4)  # share of kept tokens masked, per masked clip


@dataclass
class HeadConfig:
    prototypes: int = 16384
    patch_prototypes: int = 16384
    shared: bool = False  # one head for the CLS (DINO) and patch (iBOT) losses (paper, Table 1)
    hidden_dim: int = 2048
    bottleneck_dim: int = 256
    nlayers: int = 3


@dataclass
class LossConfig:
    dino_weight: float = 1.0
    ibot_weight: float = 1.0
    koleo_weight: float = 0.1
    student_temp: float = 0.1
    centering: str = "sinkhorn"  # sinkhorn | softmax
    sinkhorn_iters: int = 3
    center_momentum: float = 0.9  # softmax centering only
    # which kept student tokens the iBOT loss scores: the masked ones (iBOT, DINOv2) or the
    # visible ones (the paper's Table 1 ablation)
    ibot_tokens: str = "masked"


@dataclass
class OptimConfig:
    epochs: float = 100  # passes over the training videos (fractions allowed)
    epoch_length: int = 0  # steps per epoch; 0 = one pass over the training videos
    batch_size: int = 64  # videos per process and micro-batch
    # videos per optimizer step over all processes (world x accumulation x batch_size); 0: not
    # fixed, optim.accum_steps says how many micro-batches make a step
    total_batch: int = 0
    accum_steps: int = 1  # micro-batches per optimizer step (centring, KoLeo: per micro-batch)
    base_lr: float = 0.004
    lr_scaling: str = "sqrt_wrt_1024"  # lr = base_lr * sqrt(total_batch / 1024); or linear/none
    min_lr: float = 1e-6
    warmup_epochs: float = 10
    weight_decay: float = 0.04
    weight_decay_end: float = 0.4
    momentum_teacher: float = 0.992
    final_momentum_teacher: float = 1.0
    teacher_temp: float = 0.07
    warmup_teacher_temp: float = 0.04
    warmup_teacher_temp_epochs: float = 30
    freeze_last_layer_epochs: float = 1
    layerwise_decay: float = 0.9
    patch_embed_lr_mult: float = 0.2
    clip_grad: float = 3.0  # 0 disables
    beta1: float = 0.9
    beta2: float = 0.999


@dataclass
class DecoderConfig:
    """VideoMAE's pixel decoder (train.method=videomae only); 0 = VideoMAE's rule for the size."""

    width: int = 0  # 0: half the encoder's width (VideoMAE: 384 for ViT-B)
    depth: int = 0  # 0: VideoMAE's 4 blocks, fewer for an encoder under 12 blocks (depth / 3)
    heads: int = 0  # 0: 64-dim heads where the width allows, else 32-dim


@dataclass
class TrainConfig:
    # vidrop (ViDROP) | videomae (transformers' VideoMAEForPreTraining, the same encoder)
    method: str = "vidrop"
    seed: int = 0
    max_steps: int = 0  # stop early (0 = epochs * epoch_length); the schedules keep their length
    max_seconds: float = 0  # stop once the training loop has run this long (0 = no limit)
    log_every: int = 10
    checkpoint_every: int = 500  # steps; a final checkpoint is always written
    export_every: int = 0  # also keep the backbone every N steps in RUN/points/STEP (0: never)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: str = "auto"  # auto (bf16 on CUDA, fp32 on CPU) | bf16 | fp32
    compile: bool = False
    activation_checkpointing: bool = False  # recompute block activations in backward (memory)
    threads: int = 0  # torch CPU threads (0 = torch's default)
    init: str = ""  # start from these backbone weights (vidrop, VideoMAE, HF VideoMAE, V-JEPA)
    # the checkpoint a recipe continues (e.g. "VideoMAE ViT-L/16"): a fresh run without
    # train.init stops and names it, instead of silently training from random weights
    init_from: str = ""
    parallel: str = "ddp"  # under torchrun: ddp (a replica per rank) or fsdp (FSDP2, sharded)
    attention: str = "auto"  # SDPA kernel first tried: auto (torch's order) | cudnn | flash | ...


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    views: ViewsConfig = field(default_factory=ViewsConfig)
    model: ViTConfig = field(default_factory=ViTConfig)
    mask: MaskConfig = field(default_factory=MaskConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))


def _plain(value: Any) -> Any:
    """Tuples -> lists so that YAML and JSON stay plain."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _suggest(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _coerce(where: str, value: Any, hint: Any) -> Any:
    """Check `value` against the dataclass field type `hint`, converting ints to floats etc."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        last_error = None
        for option in typing.get_args(hint):
            try:
                return _coerce(where, value, option)
            except ConfigError as exc:
                last_error = exc
        raise last_error  # type: ignore[misc]
    if hint is type(None):
        if value is None:
            return None
        raise ConfigError(f"{where}: expected null, got {value!r}")
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, list | tuple) or len(value) != len(args):
            raise ConfigError(f"{where}: expected a list of {len(args)} numbers, got {value!r}")
        return tuple(
            _coerce(f"{where}[{i}]", v, a) for i, (v, a) in enumerate(zip(value, args, strict=True))
        )
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        if value is None:  # `key=` on the command line, `key:` in YAML: empty
            return ""
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    raise ConfigError(f"{where}: unsupported type {hint}")


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in values.items():
        if key not in names:
            raise ConfigError(
                f"unknown config key {where}.{key}{_suggest(key, names)}; valid keys: {names}"
            )
        kwargs[key] = _coerce(f"{where}.{key}", value, hints[key])
    return cls(**kwargs)


def from_dict(raw: dict[str, Any]) -> Config:
    """Typed, validated Config from nested plain values (missing keys keep their defaults)."""
    sections = {f.name: f for f in dataclasses.fields(Config)}
    hints = typing.get_type_hints(Config)
    built = {}
    for name, values in raw.items():
        if name not in sections:
            raise ConfigError(
                f"unknown config section {name!r}{_suggest(name, list(sections))}; "
                f"valid sections: {list(sections)}"
            )
        if not isinstance(values, dict):
            raise ConfigError(f"config section {name!r} must be a mapping, got {values!r}")
        built[name] = _build(hints[name], values, name)
    cfg = Config(**built)
    validate(cfg)
    return cfg


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def validate(cfg: Config) -> None:
    """Value checks that types alone do not catch; each error says which key to change."""
    v, m, o, mo = cfg.views, cfg.mask, cfg.optim, cfg.model
    _check(
        v.large_clips >= (2 if cfg.train.method == "vidrop" else 1),
        "views.large_clips must be >= 2 (the DINO loss swaps two clips)",
    )
    _check(v.small_clips >= 0, "views.small_clips must be >= 0")
    for name in ("large_scale", "small_scale"):
        lo, hi = getattr(v, name)
        _check(0 < lo <= hi <= 1, f"views.{name} must satisfy 0 < min <= max <= 1, got {(lo, hi)}")
    _check(0 < v.ratio[0] <= v.ratio[1], f"views.ratio must satisfy 0 < min <= max, got {v.ratio}")
    _check(0.0 <= v.flip <= 1.0, f"views.flip is a probability, got {v.flip}")
    _check(v.frame_stride >= 1, "views.frame_stride must be >= 1")
    _check(v.augment in ("none", "dino"), f"views.augment={v.augment!r}; choose none or dino")
    _check(v.sampling in ("stride", "segments"), "views.sampling: stride or segments")
    _check(
        not (v.sampling == "segments" and v.large_disjoint),
        "views.large_disjoint places strided clips apart; it has no meaning with segments",
    )
    for frames, size, what in (
        (v.large_frames, v.large_size, "large"),
        (v.small_frames, v.small_size, "small"),
    ):
        _check(
            frames % mo.tubelet == 0 and size % mo.patch_size == 0,
            f"views.{what}_frames={frames} / views.{what}_size={size} must be multiples of "
            f"model.tubelet={mo.tubelet} / model.patch_size={mo.patch_size}",
        )
    _check(
        cfg.data.decode_on in ("auto", "worker", "device"),
        f"data.decode_on={cfg.data.decode_on!r}; choose auto, worker or device",
    )
    _check(o.accum_steps >= 1, f"optim.accum_steps must be >= 1, got {o.accum_steps}")
    _check(mo.arch in ARCHS, f"model.arch={mo.arch!r} is unknown; choose one of {sorted(ARCHS)}")
    _check(mo.qkv_bias in ("qkv", "qv", "none"), "model.qkv_bias must be qkv, qv or none")
    _check(0.0 <= mo.drop_path < 1.0, "model.drop_path must be in [0, 1)")
    _check(
        m.drop_pattern in DROP_PATTERNS,
        f"mask.drop_pattern={m.drop_pattern!r}; choose one of {sorted(DROP_PATTERNS)}",
    )
    _check(0.0 <= m.drop_ratio < 1.0, f"mask.drop_ratio must be in [0, 1), got {m.drop_ratio}")
    _check(0.0 <= m.mask_prob <= 1.0, f"mask.mask_prob must be in [0, 1], got {m.mask_prob}")
    lo, hi = m.mask_ratio
    _check(
        0.0 <= lo <= hi < 1.0, f"mask.mask_ratio must satisfy 0 <= min <= max < 1, got {(lo, hi)}"
    )
    _check(cfg.loss.centering in ("sinkhorn", "softmax"), "loss.centering: sinkhorn or softmax")
    _check(cfg.loss.student_temp > 0, "loss.student_temp must be > 0")
    _check(cfg.loss.ibot_tokens in ("masked", "visible"), "loss.ibot_tokens: masked or visible")
    _check(
        not cfg.head.shared or cfg.head.prototypes == cfg.head.patch_prototypes,
        "head.shared=true needs head.patch_prototypes equal to head.prototypes (one head)",
    )
    _check(o.batch_size >= 1 and o.epochs > 0, "optim.batch_size must be >= 1, optim.epochs > 0")
    _check(
        o.total_batch == 0 or o.accum_steps == 1,
        "give optim.total_batch or optim.accum_steps, not both (the accumulation follows from "
        "the total batch, the world size and optim.batch_size)",
    )
    for name in ("warmup_epochs", "warmup_teacher_temp_epochs", "freeze_last_layer_epochs"):
        share = getattr(o, name) / o.epochs
        _check(
            0 <= share <= 1,
            f"optim.{name}={getattr(o, name):g} does not fit in optim.epochs={o.epochs:g}; "
            f"for a shorter run scale it too, e.g. optim.{name}={getattr(o, name) * 0.1:g} at "
            f"optim.epochs={o.epochs * 0.1:g} (`vidrop expand --epochs N` does it for a grown "
            "model)",
        )
    _check(
        o.lr_scaling in ("sqrt_wrt_1024", "linear_wrt_256", "none"),
        "optim.lr_scaling: sqrt_wrt_1024, linear_wrt_256 or none",
    )
    _check(o.base_lr > 0 and o.min_lr >= 0, "optim.base_lr must be > 0 and optim.min_lr >= 0")
    _check(0 < o.layerwise_decay <= 1, "optim.layerwise_decay must be in (0, 1]")
    _check(o.teacher_temp > 0 and o.warmup_teacher_temp > 0, "teacher temperatures must be > 0")
    _check(cfg.train.precision in ("auto", "bf16", "fp32"), "train.precision: auto, bf16 or fp32")
    _check(cfg.train.parallel in ("ddp", "fsdp"), "train.parallel: ddp or fsdp")
    _check(cfg.train.method in ("vidrop", "videomae"), "train.method: vidrop or videomae")
    _check(cfg.train.max_seconds >= 0, "train.max_seconds must be >= 0 (0: no limit)")
    _check(cfg.train.export_every >= 0, "train.export_every must be >= 0 (0: never)")
    _check(
        cfg.train.attention in ATTENTION_BACKENDS,
        f"train.attention={cfg.train.attention!r}; choose one of {', '.join(ATTENTION_BACKENDS)}",
    )
    _check(
        cfg.train.log_every >= 1 and cfg.train.checkpoint_every >= 1,
        "train.log_every and train.checkpoint_every must be >= 1",
    )


def _load_yaml(source: str | Path) -> dict[str, Any]:
    path = Path(source)
    if not path.suffix and not path.exists():
        path = RECIPES / f"{source}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in RECIPES.glob("*.yaml"))
        raise ConfigError(f"config {source} not found; give a YAML path or a recipe name: {known}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config file must be a mapping of sections")
    base = raw.pop("base", None)
    if base is None:
        return raw
    base_path = path.parent / f"{base}.yaml" if not str(base).endswith(".yaml") else Path(base)
    return merge(_load_yaml(base_path if base_path.exists() else base), raw)


def merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """['optim.base_lr=1e-3', 'views.large_scale=[0.4,1]'] -> nested dict (YAML-typed values)."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        key, text = item.split("=", 1)
        parts = key.strip().split(".")
        if len(parts) != 2 or not all(parts):
            raise ConfigError(f"override key {key!r} must be section.key, e.g. optim.base_lr")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"override {item!r}: cannot parse value ({exc})") from exc
        out.setdefault(parts[0], {})[parts[1]] = value
    return out


def load_config(source: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Recipe (path or packaged name, or defaults) + overrides -> validated Config."""
    raw = _load_yaml(source) if source else {}
    return from_dict(merge(raw, parse_overrides(overrides or [])))


def save_config(cfg: Config, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
