"""The probes' settings, free of torch: `vidrop eval ...` takes its flags' defaults from these
dataclasses, so each default is written once (the probe modules and `eval all` read the same ones);
a field's `help` metadata is its flag's help.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LinearConfig:
    lrs: tuple[float, ...] = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
    wds: tuple[float, ...] = (0.0, 1e-4, 1e-3)
    epochs: int = field(default=50, metadata={"help": "training epochs of each (lr, wd) probe"})
    batch_size: int = 256
    momentum: float = 0.9
    holdout: float = 0.2  # share of each class's training videos that chooses (lr, wd)
    seed: int = 0


@dataclass(frozen=True)
class AttentiveConfig:
    lrs: tuple[float, ...] = (1e-3, 3e-3, 1e-2)
    weight_decay: float = 0.01
    epochs: int = field(
        default=20, metadata={"help": "epochs at least (V-JEPA: 20); more to reach --min-steps"}
    )
    min_steps: int = field(
        default=1200, metadata={"help": "optimizer steps at least (small sets need more epochs)"}
    )
    batch_size: int = 64
    heads: int = 4
    holdout: float = 0.2
    seed: int = 0


@dataclass(frozen=True)
class PropagationConfig:
    """DINO's `eval_video_segmentation.py` defaults (vidrop.eval.propagate says what each does)."""

    short_side: int = field(
        default=0, metadata={"help": "resize frames to this short side first, pixels (0: keep)"}
    )
    shifts: int = field(
        default=1, metadata={"help": "n > 1: an n-times finer feature grid from n^2 shifted passes"}
    )
    topk: int = field(default=5, metadata={"help": "votes per feature cell (DINO: 5)"})
    context: int = field(default=7, metadata={"help": "previous frames used besides the first"})
    radius: int = field(default=12, metadata={"help": "neighbourhood, in feature cells"})
    temperature: float = field(default=0.1, metadata={"help": "softmax temperature of the votes"})
    per_frame: bool = field(
        default=False,
        metadata={"help": "each frame alone as a one-tubelet clip (the paper's DAVIS protocol)"},
    )


@dataclass
class SuiteConfig:
    """What `eval all` runs; `propagate`: a synthetic manifest (masks/ beside), "davis:ROOT", "";
    `copies`: a manifest of edited copies of the val videos (`vidrop data copies`), "": none."""

    ks: tuple[int, ...] = (10, 20, 100)
    temp: float = 0.07
    linear: LinearConfig = field(default_factory=LinearConfig)
    attentive: AttentiveConfig | None = field(default_factory=AttentiveConfig)
    lowshot_fractions: tuple[float, ...] = (0.05, 0.1, 0.5)
    lowshot_seeds: tuple[int, ...] = (0, 1, 2)
    propagate: str = ""
    propagate_limit: int = 0  # first N sequences (0: all)
    propagation: PropagationConfig = field(default_factory=PropagationConfig)
    # the attentive probe's patch tokens held in memory; more are written to OUT/tokens and read
    # from there a batch at a time (any dataset size; disk instead of RAM)
    max_token_gib: float = 16.0
    copies: str = ""  # searched among the val videos, whitened on the train videos
    copy_topk: int = 20
