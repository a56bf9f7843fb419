"""Equal compute for every method: a budget in steps, training seconds or counted FLOPs, and how
many steps of a method it buys.

A method's cost is measured, not assumed: `calibrate` trains it for a few steps on the real data
(the loop's own clock: data loading, first-pass decoding and the step itself) and counts one
step's FLOPs. Seconds are then turned into a first plan of steps from those timings; the run
re-plans its schedule from its own measured pace as it goes (`train.budget_seconds`) and stops
when the seconds are spent, so it uses its whole budget whether the calibration was optimistic or
not.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from dataclasses import asdict, dataclass, replace
from functools import partial

import torch

from vidrop.bench.flops import count_flops
from vidrop.bench.step import build_runner
from vidrop.compare.spec import Budget
from vidrop.config import Config
from vidrop.train.metrics import read_metrics
from vidrop.train.sizing import accumulation


@dataclass(frozen=True)
class Calibration:
    """A method's measured cost: cumulative training seconds after each of its first steps,
    and the FLOPs of one optimizer step."""

    seconds: tuple[float, ...]
    flops_per_step: float

    @property
    def step_seconds(self) -> float:
        """Seconds a step once running: the median step of the calibration's last 24 steps, or
        of its second half when shorter (its first steps also start the loader and decode
        videos the cache then keeps)."""
        steps = [b - a for a, b in zip(self.seconds, self.seconds[1:], strict=False)]
        return statistics.median(steps[-min(24, max(1, len(steps) // 2)) :])

    def to_dict(self) -> dict:
        return {**asdict(self), "step_seconds": self.step_seconds}


def steps_for(budget: Budget, cal: Calibration | None) -> int:
    """Steps `budget` buys a method of calibration `cal` (at least one)."""
    if budget.kind == "steps":
        return max(1, int(budget.value))
    if cal is None:
        raise ValueError(f"a {budget.kind} budget needs the method's calibration")
    if budget.kind == "tflop":
        return max(1, math.floor(budget.value * 1e12 / cal.flops_per_step))
    done = sum(t <= budget.value for t in cal.seconds)
    if done < len(cal.seconds):
        return max(1, done)
    extra = (budget.value - cal.seconds[-1]) / cal.step_seconds
    return len(cal.seconds) + math.floor(extra)


def step_flops(cfg: Config, device: torch.device, steps: tuple[int, ...] = (50, 51, 52)) -> float:
    """FLOPs of one optimizer step of cfg.train.method (all its micro-batches: the total batch),
    the mean over a few steps' token draws, on random views of the run's shapes."""
    accum = accumulation(cfg.optim, world=1)
    cfg = replace(cfg, train=replace(cfg.train, compile=False))
    batches = build_runner(cfg, cfg.optim.batch_size, device, max(steps) + 1, accum)
    counts = [count_flops(partial(batches.run, s))[0] for s in steps]
    return sum(counts) / len(counts)


# what a step's cost depends on: every key of these sections, and these of the others (not the
# learning rates, weight decays, schedule lengths or seeds a config's trials vary)
COST_SECTIONS = ("data", "views", "model", "mask", "head", "loss", "decoder")
COST_KEYS = {
    "optim": ("batch_size", "accum_steps", "total_batch"),
    "train": ("method", "device", "precision", "compile", "activation_checkpointing", "attention"),
}


def cost_key(cfg: Config) -> str:
    """A short hash of what one step of `cfg` costs (its FLOPs, its seconds): configs that
    differ only in lr or schedule share one calibration and one FLOP count."""
    d = cfg.to_dict()
    cost = {s: d[s] for s in COST_SECTIONS}
    cost.update({s: {k: d[s][k] for k in keys} for s, keys in COST_KEYS.items()})
    return hashlib.sha256(json.dumps(cost, sort_keys=True).encode()).hexdigest()[:10]


def calibration_from(metrics_path: str, flops: float) -> Calibration:
    records = read_metrics(metrics_path)
    return Calibration(tuple(r["seconds"] for r in records), flops)
