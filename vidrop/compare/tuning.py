"""How `vidrop compare` tunes every method alike: the same trials (a log grid of peak learning
rates times the settings of the one knob the method's own paper ablates), each a short run of the
same share of the budget, scored on held-out TRAINING videos by a score neutral between feature
kinds (the mean of kNN and linear top-1), never on val videos. Where any method's best lr is at
the grid's edge, the grid grows one step that way for every method (at most MAX_WIDENINGS times),
so no method is judged at a learning rate the grid cut short. Then the best trial at each of the
FINALISTS best lrs trains the full budget (the first seed), and the best of those, scored the same
way, trains every seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

from vidrop.compare.runs import export_features
from vidrop.config import Config, ConfigError, with_overrides
from vidrop.data.manifest import Manifest
from vidrop.eval.knn import knn_accuracy
from vidrop.eval.labels import probe_sets
from vidrop.eval.linear import linear_epochs, linear_probe
from vidrop.eval.probe import stratified_folds
from vidrop.eval.settings import LinearConfig
from vidrop.progress import ProgressBar
from vidrop.train.schedules import scaled_lr
from vidrop.train.sizing import accumulation

MIN_LR_SHARE = 0.01  # every trial's (and final run's) cosine ends at this share of its peak
HELDOUT_FOLDS = 5  # each training video held out once, the other four fifths its reference set
HELDOUT_K = 20
MAX_WIDENINGS = 2  # grid steps the tuning may add past each edge of the asked grid
FINALISTS = 2  # learning rates whose best trial is continued to the full budget
# the settings every trial writes (Trial.overrides): an override of one would silently lose
TUNED_KEYS = ("optim.base_lr", "optim.lr_scaling", "optim.min_lr")


@dataclass(frozen=True)
class Trial:
    """One tuning trial of a method: its peak lr and its knob's setting."""

    lr: float
    settings: dict[str, Any] = field(default_factory=dict)  # {"section.key": value}

    def overrides(self) -> list[str]:
        """The trial on the method's recipe: the peak lr as given (no batch scaling), a cosine
        down to MIN_LR_SHARE of it (the same shape for every method), the knob."""
        knob = [f"{k}={_yaml_value(v)}" for k, v in self.settings.items()]
        lr = [f"optim.base_lr={self.lr!r}", "optim.lr_scaling=none"]
        return [*lr, f"optim.min_lr={self.lr * MIN_LR_SHARE!r}", *knob]

    def apply(self, cfg: Config) -> Config:
        return with_overrides(cfg, self.overrides())

    def to_dict(self) -> dict[str, Any]:
        return {"lr": self.lr, "settings": self.settings}


def refuse_tuned(overrides: list[str]) -> None:
    """Stop on an override (for every method or `METHOD:` one) of a setting the tuning sets
    itself: it would be replaced without a word. The knob is not refused: an override of it sets
    the method's own setting, the one its trials try first."""
    for item in overrides:
        key = item.split("=", 1)[0].split(":")[-1].strip()
        if key in TUNED_KEYS:
            raise ConfigError(
                f"{item!r}: tuning sets {key} for every trial (peak lr from --lrs, a cosine to "
                f"{MIN_LR_SHARE:g} of it); give --lrs to change the grid, or --no-tuning to "
                "train every method at its recipe's lr and your overrides"
            )


def _yaml_value(value: Any) -> str:
    """`value` as the override text that parses back to it ([0.1, 0.5], 0.75, true)."""
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("\n...")


def trials(lrs: tuple[float, ...], knob_settings: list[dict[str, Any]]) -> list[Trial]:
    """Every (lr, knob setting) pair, the knob's first (the recipe's own) setting first."""
    return [Trial(lr, dict(s)) for s in knob_settings for lr in sorted(lrs)]


def selection_score(heldout: dict[str, float]) -> float:
    """What chooses a trial: the mean of held-out kNN and linear top-1 (neither feature kind's
    favourite protocol alone)."""
    return (heldout["knn"] + heldout["linear"]) / 2


def ranked(
    results: list[tuple[Trial, dict[str, float] | None]],
    own: dict[str, Any] | None = None,
    grid: tuple[float, ...] = (),
) -> list[Trial]:
    """The scored trials, best first by selection score (a failed trial: None, never ranked);
    ties go to the method's own knob setting (`own`, default the first trial's: trials() puts
    the recipe's first), then to the lr nearest the geometric middle of `grid` (default: of the
    trials' lrs), then to the earlier trial: the same rule for every method, whatever its
    recipe's lr."""
    scored = [(i, t, h) for i, (t, h) in enumerate(results) if h is not None]
    if not scored:
        raise RuntimeError("every tuning trial failed; see their runs' train.log")
    lrs = list(grid) or [t.lr for t, _ in results]
    middle = math.sqrt(min(lrs) * max(lrs))
    mine = results[0][0].settings if own is None else own

    def key(item: tuple[int, Trial, dict[str, float]]) -> tuple[float, int, float, int]:
        i, t, h = item
        own_setting = int(t.settings == mine)
        return (selection_score(h), own_setting, -abs(math.log(t.lr / middle)), -i)

    return [t for _, t, _ in sorted(scored, key=key, reverse=True)]


def choose(
    results: list[tuple[Trial, dict[str, float] | None]],
    own: dict[str, Any] | None = None,
    grid: tuple[float, ...] = (),
) -> Trial:
    """The best trial by `ranked`'s order."""
    return ranked(results, own, grid)[0]


def finalists(results: list[tuple[Trial, dict[str, float] | None]], n: int) -> list[Trial]:
    """The best trial at each of the `n` best learning rates, best first. A trial a quarter of
    the budget long ranks lrs for a short schedule; four times as many steps may want a lower
    one (docs/experiments/2026-12-07-honest-comparison.md), so the finalists, not the best
    trial alone, are continued to the full budget and judged there."""
    picks: list[Trial] = []
    for trial in ranked(results):
        if len(picks) < n and all(trial.lr != p.lr for p in picks):
            picks.append(trial)
    return picks


def at_edge(lr: float, lrs: tuple[float, ...]) -> bool:
    """`lr` is the grid's smallest or largest: a wider grid might have done better."""
    return len(lrs) > 1 and lr in (min(lrs), max(lrs))


def widened(lrs: tuple[float, ...], chosen: list[float]) -> tuple[float, ...]:
    """`lrs` with one more step past each edge some `chosen` lr sits on, the grid's own pattern
    continued (the ratio two steps back, so ..., 1e-3, 3e-3 continues to 1e-2); `lrs` itself
    where none does. A grid of one lr is a fixed lr, not a search: never widened."""
    grid = sorted(lrs)
    if len(grid) < 2:
        return tuple(grid)
    if len(grid) > 2:
        up, down = grid[-2] * grid[-1] / grid[-3], grid[1] * grid[0] / grid[2]
    else:
        up, down = grid[1] ** 2 / grid[0], grid[0] ** 2 / grid[1]
    if grid[-1] in chosen:
        grid.append(float(f"{up:.3g}"))  # 3 digits: 1e-2, not 0.009999999, names its runs
    if grid[0] in chosen:
        grid.insert(0, float(f"{down:.3g}"))
    return tuple(grid)


def peak_lr(cfg: Config) -> float:
    """The learning rate a config's schedule peaks at (its base lr after batch scaling)."""
    return scaled_lr(cfg.optim, cfg.optim.batch_size * accumulation(cfg.optim, world=1))


def heldout_scores(export: Path, train: Manifest, device: str) -> dict[str, float]:
    """kNN (k = 20) and linear top-1 of a backbone on the TRAINING videos, each held out once in
    stratified five-fold cross-validation, the other folds its reference set (one clip a video,
    the feature its method is read by): every training video scores, so the choice between
    trials rests on all of them. The linear probe chooses its own lr and weight decay inside
    the reference folds."""
    feats = export_features(export, {"training videos": train}, device, "held-out")
    f = feats["training videos"]
    classes, tr, _ = probe_sets(f, f, "cls")  # "cls": the mean token without a CLS
    folds = stratified_folds(tr.y, HELDOUT_FOLDS, seed=0)
    right = {"knn": 0.0, "linear": 0.0}
    epochs = linear_epochs(LinearConfig()) * len(folds)
    with ProgressBar(epochs, "held-out linear probes", unit="epoch") as bar:
        for held in folds:
            fit = torch.cat([other for other in folds if other is not held]).sort().values
            knn = knn_accuracy(tr.x[fit], tr.y[fit], tr.x[held], tr.y[held], (HELDOUT_K,))
            right["knn"] += knn[HELDOUT_K] * len(held)
            lin = linear_probe(
                tr.subset(fit), tr.subset(held), len(classes), device=device, tick=bar.update
            )
            right["linear"] += lin.top1 * len(held)
    return {k: v / len(tr.y) for k, v in right.items()}
