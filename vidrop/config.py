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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from vidrop.atomic import write_bytes_atomic
from vidrop.errors import VidropError

RECIPES = Path(__file__).parent / "configs"

# Settings that take one of a few names: the coercion checks them once, with the choices in
# the message (models/layers.py and tokens/drop.py key their tables by the same names, tested)
Arch = Literal["vit_t", "vit_s", "vit_b", "vit_l", "vit_h"]
QkvBias = Literal["qkv", "qv", "none"]
PosEmbed = Literal["learned", "rope3d"]
DropPattern = Literal["random", "tube", "block"]
Attention = Literal["auto", "cudnn", "flash", "efficient", "math"]

# name: (embed_dim, depth, num_heads); ViT-H uses 16 heads of 80 dims as in VideoMAE / V-JEPA.
ARCHS: dict[str, tuple[int, int, int]] = {
    "vit_t": (192, 12, 3),
    "vit_s": (384, 12, 6),
    "vit_b": (768, 12, 12),
    "vit_l": (1024, 24, 16),
    "vit_h": (1280, 32, 16),
}


class ConfigError(VidropError, ValueError):
    """A config key or value that cannot be used; the message names it and what to do."""


@dataclass
class DataConfig:
    train: str = ""  # manifest of training videos (labels ignored by pretraining)
    root: str = ""  # base folder for relative paths (default: the manifest's folder)
    short_side: int = 0  # resize decoded frames' short side first (0 keeps the stored size)
    num_workers: int = 2  # loader worker processes (0: load in the training process)
    max_retries: int = 10  # broken videos replaced by others before a sample gives up
    cache_mb: int = 0  # keep decoded videos in RAM, per loader worker (small datasets only)
    store: str = ""  # a code store (`vidrop compress encode`): train from it, not from data.train
    decode_on: Literal["auto", "worker", "device"] = "auto"  # store codes to pixels (auto: GPU)
    # check each video's stored codes (CRC32, codes below k) where they are read; a changed
    # video is skipped and named like an unreadable one
    verify_store: bool = True


@dataclass
class ViewsConfig:
    # large (global) clips per video: the teacher's input, the student's dropped
    large_clips: int = 2
    large_frames: int = 16  # frames per large clip
    large_size: int = 224  # large clip side, pixels
    # area share of the frame a large clip's crop covers (DINOv2's global crops)
    large_scale: tuple[float, float] = (0.32, 1.0)
    small_clips: int = 8  # small (local) clips per video, seen densely by the student (0: none)
    small_frames: int = 8  # frames per small clip
    small_size: int = 96  # small clip side, pixels
    # area share of the frame a small clip's crop covers (DINOv2's local crops)
    small_scale: tuple[float, float] = (0.05, 0.32)
    ratio: tuple[float, float] = (0.75, 1.3333)  # aspect ratio range of the crops
    frame_stride: int = 4  # frames between a clip's frames (views.sampling=stride)
    flip: float = 0.5  # probability of a horizontal flip, per clip
    # the large clips of a video never share a frame (where it is long enough): the DINO loss
    # then pairs views of other moments, not two views of the same frames
    # (docs/experiments/2026-11-27-tiny-recipe.md)
    large_disjoint: bool = False
    # none (crop + flip: the paper's "noaug" rows) | dino (DINO's colour jitter, grayscale,
    # blur and solarisation, per clip: its "+aug" rows), vidrop.data.augment
    augment: Literal["none", "dino"] = "none"
    # stride: clips of frames frame_stride apart (Kinetics) | segments: one frame from each of
    # equal segments of the whole video (TSN; VideoMAE's Something-Something v2 protocol)
    sampling: Literal["stride", "segments"] = "stride"


@dataclass
class MaskConfig:
    drop_ratio: float = 0.85  # share of a large clip's tokens the student never sees (removed)
    # which tokens are dropped: random tokens, tubes (every frame alike) or V-JEPA blocks
    drop_pattern: DropPattern = "random"
    mask_prob: float = 0.5  # share of large clips that get masked tokens
    mask_ratio: tuple[float, float] = (0.1, 0.4)  # share of kept tokens masked, per masked clip


@dataclass
class HeadConfig:
    prototypes: int = 16384  # prototypes of the CLS (DINO) head
    patch_prototypes: int = 16384  # prototypes of the patch (iBOT) head
    shared: bool = False  # one head for the CLS (DINO) and patch (iBOT) losses (paper, Table 1)
    hidden_dim: int = 2048  # heads' MLP width
    bottleneck_dim: int = 256  # heads' bottleneck before the prototypes
    nlayers: int = 3  # heads' MLP layers


@dataclass
class LossConfig:
    dino_weight: float = 1.0  # weight of the DINO loss (CLS)
    ibot_weight: float = 1.0  # weight of the iBOT loss (patches)
    koleo_weight: float = 0.1  # weight of the KoLeo loss on the student's CLS
    student_temp: float = 0.1  # student softmax temperature
    # teacher centring: Sinkhorn-Knopp, or DINO's softmax with a running centre
    centering: Literal["sinkhorn", "softmax"] = "sinkhorn"
    sinkhorn_iters: int = 3  # Sinkhorn-Knopp iterations
    center_momentum: float = 0.9  # softmax centering only
    # which kept student tokens the iBOT loss scores: the masked ones (iBOT, DINOv2) or the
    # visible ones (the paper's Table 1 ablation)
    ibot_tokens: Literal["masked", "visible"] = "masked"


@dataclass
class OptimConfig:
    epochs: float = 100  # passes over the training videos (fractions allowed)
    epoch_length: int = 0  # steps per epoch; 0 = one pass over the training videos
    batch_size: int = 64  # videos per process and micro-batch
    # videos per optimizer step over all processes (world x accumulation x batch_size); 0: not
    # fixed, optim.accum_steps says how many micro-batches make a step
    total_batch: int = 0
    accum_steps: int = 1  # micro-batches per optimizer step (centring, KoLeo: per micro-batch)
    base_lr: float = 0.004  # peak learning rate before optim.lr_scaling
    # lr = base_lr * sqrt(total_batch / 1024), or * total_batch / 256, or base_lr
    lr_scaling: Literal["sqrt_wrt_1024", "linear_wrt_256", "none"] = "sqrt_wrt_1024"
    min_lr: float = 1e-6  # learning rate at the end of the cosine
    warmup_epochs: float = 10  # linear lr warmup, epochs
    weight_decay: float = 0.04  # weight decay at the start (cosine to weight_decay_end)
    weight_decay_end: float = 0.4  # weight decay at the end
    momentum_teacher: float = 0.992  # teacher EMA momentum at the start (cosine to the final one)
    final_momentum_teacher: float = 1.0  # teacher EMA momentum at the end
    teacher_temp: float = 0.07  # teacher temperature after its warmup
    warmup_teacher_temp: float = 0.04  # teacher temperature at the start
    warmup_teacher_temp_epochs: float = 30  # teacher temperature ramp, epochs
    freeze_last_layer_epochs: float = 1  # prototypes frozen this long, epochs
    layerwise_decay: float = 0.9  # lr multiplier per block below the top (layer-wise decay)
    patch_embed_lr_mult: float = 0.2  # extra lr multiplier of the patch embedding
    clip_grad: float = 3.0  # 0 disables
    beta1: float = 0.9  # AdamW beta1
    beta2: float = 0.999  # AdamW beta2


@dataclass
class DecoderConfig:
    """VideoMAE's pixel decoder (train.method=videomae only); 0 = VideoMAE's rule for the size."""

    width: int = 0  # 0: half the encoder's width (VideoMAE: 384 for ViT-B)
    depth: int = 0  # 0: VideoMAE's 4 blocks, fewer for an encoder under 12 blocks (depth / 3)
    heads: int = 0  # 0: 64-dim heads where the width allows, else 32-dim
    # VideoMAE's target: each patch's pixels normalised by their own mean and variance (its
    # default); false: the raw pixels (its paper's ablation, and our copy-detection study)
    norm_pix_loss: bool = True


# the built-in methods, torch-free (vidrop.methods registers them; a comparison's default)
METHODS = ("vidrop", "dense", "videomae")


@dataclass
class TrainConfig:
    # vidrop (ViDROP) | dense (its student sees every token) | videomae (transformers'
    # VideoMAEForPreTraining on the same encoder) | a registered method of your own
    method: str = "vidrop"
    seed: int = 0  # seed of the initial weights and every random draw
    max_steps: int = 0  # stop early (0 = epochs * epoch_length); the schedules keep their length
    max_seconds: float = 0  # stop once the training loop has run this long (0 = no limit)
    # lay the schedule over this many training-loop seconds: its length is re-planned from the
    # measured pace at 10, 25, 50, 75, 90, 95 and 99% of the run, which stops once they are spent
    # (0: the schedule's own steps). optim.epochs is the first plan.
    budget_seconds: float = 0
    log_every: int = 10  # steps between metrics.jsonl lines
    checkpoint_every: int = 500  # steps; a final checkpoint is always written
    # every metrics.jsonl scalar also as TensorBoard events in RUN/tb (`vidrop[tensorboard]`)
    tensorboard: bool = False
    export_every: int = 0  # also keep the backbone every N steps in RUN/points/STEP (0: never)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: Literal["auto", "bf16", "fp32"] = "auto"  # auto: bf16 on CUDA, fp32 on CPU
    compile: bool = False  # torch.compile the backbones (GPUs; the first steps compile)
    activation_checkpointing: bool = False  # recompute block activations in backward (memory)
    threads: int = 0  # torch CPU threads (0 = torch's default)
    init: str = ""  # start from these backbone weights (vidrop, VideoMAE, HF VideoMAE, V-JEPA)
    # the checkpoint a recipe continues (e.g. "VideoMAE ViT-L/16"): a fresh run without
    # train.init stops and names it, instead of silently training from random weights
    init_from: str = ""
    # under torchrun: ddp (a replica per rank) or fsdp (FSDP2, sharded)
    parallel: Literal["ddp", "fsdp"] = "ddp"
    attention: Attention = "auto"  # SDPA kernel tried first; auto: torch's order


@dataclass
class ViTConfig:
    """Backbone shape. embed_dim/depth/num_heads of 0 take the value of `arch`."""

    arch: Arch = "vit_s"  # width, depth and heads by name (vit_t, vit_s, vit_b, vit_l, vit_h)
    embed_dim: int = 0  # width (0: the arch's)
    depth: int = 0  # blocks (0: the arch's)
    num_heads: int = 0  # attention heads (0: the arch's)
    mlp_ratio: float = 4.0  # MLP hidden width / width
    patch_size: int = 16  # patch side, pixels
    tubelet: int = 2  # frames per token
    num_frames: int = 16  # position embeddings live on the large clip's grid
    img_size: int = 224  # clip side the position embeddings are laid out for, pixels
    in_chans: int = 3  # input channels
    # VideoMAE's learned q and v biases (k's bias is redundant: softmax cancels it), so VideoMAE
    # weights load unchanged; "qkv" (timm/DINOv2) and "none" also load them exactly
    qkv_bias: QkvBias = "qv"
    drop_path: float = 0.1  # stochastic depth of the last block (linear from 0), student only
    layerscale: float = 0.0  # 0 disables; DINOv2 uses 1e-5
    cls_token: bool = True  # False: VideoMAE/V-JEPA layout; "cls" is then the mean patch token
    final_norm: bool = True  # False: no LayerNorm after the last block (VideoMAE mean pooling)
    norm_eps: float = 1e-6  # HF transformers' VideoMAE uses 1e-12
    # learned: a table added to the tokens (VideoMAE, V-JEPA); rope3d: V-JEPA 2's rotary
    # positions, each head's dims split across time, height and width (vidrop.models.rope)
    pos_embed: PosEmbed = "learned"

    def resolved(self) -> ViTConfig:
        if self.arch not in ARCHS:
            raise ValueError(f"unknown arch {self.arch!r}; choose one of {sorted(ARCHS)}")
        dim, depth, heads = ARCHS[self.arch]
        return replace(
            self,
            embed_dim=self.embed_dim or dim,
            depth=self.depth or depth,
            num_heads=self.num_heads or heads,
        )

    def to_dict(self) -> dict:
        return asdict(self.resolved())


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
        return _coerce_union(where, value, typing.get_args(hint))
    if origin is Literal:
        return _coerce_choice(where, value, typing.get_args(hint))
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, list | tuple) or len(value) != len(args):
            raise ConfigError(f"{where}: expected a list of {len(args)} numbers, got {value!r}")
        return tuple(
            _coerce(f"{where}[{i}]", v, a) for i, (v, a) in enumerate(zip(value, args, strict=True))
        )
    if hint in _SCALARS:
        return _SCALARS[hint](where, value)
    raise ConfigError(f"{where}: unsupported type {hint}")


def _coerce_union(where: str, value: Any, options: tuple) -> Any:
    error = None
    for option in options:
        try:
            return _coerce(where, value, option)
        except ConfigError as exc:
            error = exc
    raise error  # type: ignore[misc]


def _coerce_choice(where: str, value: Any, choices: tuple) -> Any:
    if value in choices:
        return value
    hint = _suggest(str(value), list(choices))
    raise ConfigError(f"{where}={value!r}{hint}; choose one of {', '.join(choices)}")


def _as_none(where: str, value: Any) -> None:
    if value is None:
        return None
    raise ConfigError(f"{where}: expected null, got {value!r}")


def _as_bool(where: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ConfigError(f"{where}: expected true or false, got {value!r}")


def _as_int(where: str, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ConfigError(f"{where}: expected an integer, got {value!r}")


def _as_float(where: str, value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
        try:
            return float(value)
        except ValueError:
            pass
    raise ConfigError(f"{where}: expected a number, got {value!r}")


def _as_str(where: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:  # `key=` on the command line, `key:` in YAML: empty
        return ""
    raise ConfigError(f"{where}: expected a string, got {value!r}")


_SCALARS = {type(None): _as_none, bool: _as_bool, int: _as_int, float: _as_float, str: _as_str}


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
    _check_views(cfg)
    _check_mask_and_head(cfg)
    _check_optim(cfg.optim)
    t = cfg.train
    _check(0.0 <= cfg.model.drop_path < 1.0, "model.drop_path must be in [0, 1)")
    _check(cfg.loss.student_temp > 0, "loss.student_temp must be > 0")
    _check(t.max_seconds >= 0, "train.max_seconds must be >= 0 (0: no limit)")
    _check(t.budget_seconds >= 0, "train.budget_seconds must be >= 0 (0: no budget)")
    _check(t.export_every >= 0, "train.export_every must be >= 0 (0: never)")
    _check(
        t.log_every >= 1 and t.checkpoint_every >= 1,
        "train.log_every and train.checkpoint_every must be >= 1",
    )


def _check_views(cfg: Config) -> None:
    v, mo = cfg.views, cfg.model
    _check(v.large_clips >= 1, "views.large_clips must be >= 1")
    _check(v.small_clips >= 0, "views.small_clips must be >= 0")
    for name in ("large_scale", "small_scale"):
        lo, hi = getattr(v, name)
        _check(0 < lo <= hi <= 1, f"views.{name} must satisfy 0 < min <= max <= 1, got {(lo, hi)}")
    _check(0 < v.ratio[0] <= v.ratio[1], f"views.ratio must satisfy 0 < min <= max, got {v.ratio}")
    _check(0.0 <= v.flip <= 1.0, f"views.flip is a probability, got {v.flip}")
    _check(v.frame_stride >= 1, "views.frame_stride must be >= 1")
    _check(
        not (v.sampling == "segments" and v.large_disjoint),
        "views.large_disjoint places strided clips apart; it has no meaning with segments",
    )
    for what in ("large", "small"):
        frames, size = getattr(v, f"{what}_frames"), getattr(v, f"{what}_size")
        _check(
            frames % mo.tubelet == 0 and size % mo.patch_size == 0,
            f"views.{what}_frames={frames} / views.{what}_size={size} must be multiples of "
            f"model.tubelet={mo.tubelet} / model.patch_size={mo.patch_size}",
        )


def _check_mask_and_head(cfg: Config) -> None:
    m, h = cfg.mask, cfg.head
    _check(0.0 <= m.drop_ratio < 1.0, f"mask.drop_ratio must be in [0, 1), got {m.drop_ratio}")
    _check(0.0 <= m.mask_prob <= 1.0, f"mask.mask_prob must be in [0, 1], got {m.mask_prob}")
    lo, hi = m.mask_ratio
    _check(
        0.0 <= lo <= hi < 1.0, f"mask.mask_ratio must satisfy 0 <= min <= max < 1, got {(lo, hi)}"
    )
    _check(
        not h.shared or h.prototypes == h.patch_prototypes,
        "head.shared=true needs head.patch_prototypes equal to head.prototypes (one head)",
    )


def _check_optim(o: OptimConfig) -> None:
    _check(o.accum_steps >= 1, f"optim.accum_steps must be >= 1, got {o.accum_steps}")
    _check(o.batch_size >= 1 and o.epochs > 0, "optim.batch_size must be >= 1, optim.epochs > 0")
    _check(
        o.total_batch == 0 or o.accum_steps == 1,
        "give optim.total_batch or optim.accum_steps, not both (the accumulation follows from "
        "the total batch, the world size and optim.batch_size)",
    )
    for name in ("warmup_epochs", "warmup_teacher_temp_epochs", "freeze_last_layer_epochs"):
        value = getattr(o, name)
        _check(
            0 <= value <= o.epochs,
            f"optim.{name}={value:g} does not fit in optim.epochs={o.epochs:g}; for a shorter "
            f"run scale it too, e.g. optim.{name}={value * 0.1:g} at optim.epochs="
            f"{o.epochs * 0.1:g} (`vidrop expand --epochs N` does it for a grown model)",
        )
    _check(o.base_lr > 0 and o.min_lr >= 0, "optim.base_lr must be > 0 and optim.min_lr >= 0")
    _check(0 < o.layerwise_decay <= 1, "optim.layerwise_decay must be in (0, 1]")
    _check(o.teacher_temp > 0 and o.warmup_teacher_temp > 0, "teacher temperatures must be > 0")


RESOLVED = "resolved"  # a saved config's marker: the method's recipe is applied already


def read_recipe(source: str | Path) -> tuple[dict[str, Any], bool]:
    """A recipe's sections (its `base` merged in) and whether it is a resolved config (a run's
    config.yaml), whose method recipe must not be applied again."""
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
    resolved = bool(raw.pop(RESOLVED, False))
    base = raw.pop("base", None)
    if base is None:
        return raw, resolved
    base_path = path.parent / f"{base}.yaml" if not str(base).endswith(".yaml") else Path(base)
    return merge(read_recipe(base_path if base_path.exists() else base)[0], raw), resolved


def merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def split_overrides(items: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Overrides for every method (`section.key=value`) and for one (`METHOD:section.key=value`,
    by method name)."""
    general: list[str] = []
    scoped: dict[str, list[str]] = {}
    for item in items:
        key = item.split("=", 1)[0]
        if ":" in key:
            method, rest = item.split(":", 1)
            scoped.setdefault(method.strip(), []).append(rest)
        else:
            general.append(item)
    return general, scoped


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
    """Recipe (path or packaged name, or defaults) + overrides -> validated Config, as written:
    no method's recipe applied (vidrop.methods.resolve_config does that)."""
    raw = read_recipe(source)[0] if source else {}
    return from_dict(merge(raw, parse_overrides(overrides or [])))


def with_overrides(cfg: Config, overrides: list[str]) -> Config:
    """`cfg` with `section.key=value` overrides on top, validated."""
    if not overrides:
        return cfg
    return from_dict(merge(cfg.to_dict(), parse_overrides(overrides)))


def config_yaml(cfg: Config) -> str:
    """A resolved config as YAML, marked so that loading it applies no method recipe again."""
    return yaml.safe_dump({RESOLVED: True, **cfg.to_dict()}, sort_keys=False)


def save_config(cfg: Config, path: str | Path) -> None:
    write_bytes_atomic(path, config_yaml(cfg).encode())
