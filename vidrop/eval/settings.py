"""The probes' settings, free of torch: `vidrop eval ...` takes its flags' defaults from these
dataclasses, so each default is written once (the probe modules and `eval all` read the same ones).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LinearConfig:
    lrs: tuple[float, ...] = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
    wds: tuple[float, ...] = (0.0, 1e-4, 1e-3)
    epochs: int = 50
    batch_size: int = 256
    momentum: float = 0.9
    holdout: float = 0.2  # share of each class's training videos that chooses (lr, wd)
    seed: int = 0


@dataclass(frozen=True)
class AttentiveConfig:
    lrs: tuple[float, ...] = (1e-3, 3e-3, 1e-2)
    weight_decay: float = 0.01
    epochs: int = 20  # at least (V-JEPA: 20); more when the set is too small for `min_steps`
    min_steps: int = 1200
    batch_size: int = 64
    heads: int = 4
    holdout: float = 0.2
    seed: int = 0


@dataclass(frozen=True)
class PropagationConfig:
    """DINO's `eval_video_segmentation.py` defaults (vidrop.eval.propagate says what each does)."""

    short_side: int = 0  # frames resized to this short side before the backbone (0: as they are)
    shifts: int = 1  # n > 1: an n-times finer feature grid from n^2 shifted passes
    topk: int = 5
    context: int = 7  # previous frames used besides the first
    radius: int = 12  # in feature cells
    temperature: float = 0.1
    # each frame alone as a one-tubelet clip (the paper's, after DINO), not the training clips
    per_frame: bool = False


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
