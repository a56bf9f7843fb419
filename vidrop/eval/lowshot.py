"""Low-shot probing: a share of each class's training videos (5/10/50% by default, at least one),
several random draws, mean and spread of the linear probe's and kNN's top-1.

With one or two videos per class no held-out choice of hyperparameters is possible, so the linear
probe uses the (lr, wd) the full-label probe chose (pass them in), the usual low-shot practice.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace

from vidrop.eval.knn import knn_accuracy
from vidrop.eval.labels import LabelledSet
from vidrop.eval.linear import LinearConfig, linear_probe
from vidrop.eval.probe import per_class_subset


@dataclass
class LowShotRow:
    fraction: float
    seeds: int
    videos: int  # training videos per draw
    linear_mean: float
    linear_std: float
    knn_mean: float
    knn_std: float
    linear_runs: list[float]
    knn_runs: list[float]


def lowshot(
    train: LabelledSet,
    val: LabelledSet,
    n_classes: int,
    lr: float,
    wd: float,
    fractions: tuple[float, ...] = (0.05, 0.1, 0.5),
    seeds: tuple[int, ...] = (0, 1, 2),
    linear: LinearConfig | None = None,
    k: int = 20,
    device: str = "cpu",
    tick: Callable[[int], None] | None = None,
) -> list[LowShotRow]:
    """Per fraction, per seed: a linear probe at (lr, wd) and kNN on that share of each class's
    training videos; `tick(1)` after each of the fractions x seeds probes."""
    cfg = replace(linear or LinearConfig(), lrs=(lr,), wds=(wd,))
    rows = []
    for frac in fractions:
        lin, knn, n = [], [], 0
        for seed in seeds:
            sub = train.subset(per_class_subset(train.y, frac, seed))
            n = len(sub.y)
            lin.append(linear_probe(sub, val, n_classes, replace(cfg, seed=seed), device).top1)
            knn.append(knn_accuracy(sub.x, sub.y, val.x, val.y, (k,))[k])
            if tick is not None:
                tick(1)
        rows.append(
            LowShotRow(
                frac,
                len(seeds),
                n,
                statistics.mean(lin),
                statistics.pstdev(lin),
                statistics.mean(knn),
                statistics.pstdev(knn),
                lin,
                knn,
            )
        )
    return rows
