"""Per-step schedules as in DINOv2: cosine with linear warmup, computed once as arrays."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vidrop.config import OptimConfig
from vidrop.train.sizing import steps_of


def cosine_schedule(
    base: float,
    final: float,
    total_steps: int,
    warmup_steps: int = 0,
    start_warmup: float = 0.0,
    freeze_steps: int = 0,
) -> np.ndarray:
    """`freeze_steps` zeros, then linear warmup start_warmup -> base, then cosine base -> final.

    Steps past the end take `final` (see Schedules.at)."""
    if freeze_steps + warmup_steps > total_steps:
        raise ValueError(
            f"warmup ({warmup_steps}) + freeze ({freeze_steps}) steps exceed the {total_steps} "
            "total steps; shorten the warmup or train longer"
        )
    freeze = np.zeros(freeze_steps)
    warmup = np.linspace(start_warmup, base, warmup_steps)
    n = total_steps - warmup_steps - freeze_steps
    iters = np.arange(n)
    main = final + 0.5 * (base - final) * (1 + np.cos(np.pi * iters / max(n, 1)))
    return np.concatenate((freeze, warmup, main))


def scaled_lr(cfg: OptimConfig, global_batch: int) -> float:
    if cfg.lr_scaling == "sqrt_wrt_1024":
        return cfg.base_lr * math.sqrt(global_batch / 1024.0)
    if cfg.lr_scaling == "linear_wrt_256":
        return cfg.base_lr * global_batch / 256.0
    return cfg.base_lr


@dataclass
class Schedules:
    lr: np.ndarray
    last_layer_lr: np.ndarray
    wd: np.ndarray
    momentum: np.ndarray
    teacher_temp: np.ndarray
    finals: dict[str, float]

    def at(self, step: int) -> dict[str, float]:
        out = {}
        for name in ("lr", "last_layer_lr", "wd", "momentum", "teacher_temp"):
            arr = getattr(self, name)
            out[name] = float(arr[step]) if step < len(arr) else self.finals[name]
        return out


def build_schedules(cfg: OptimConfig, epoch_length: int, global_batch: int) -> Schedules:
    total = steps_of(cfg.epochs, epoch_length)
    lr = scaled_lr(cfg, global_batch)
    warmup = steps_of(cfg.warmup_epochs, epoch_length)
    lr_sched = cosine_schedule(lr, cfg.min_lr, total, warmup)
    last = cosine_schedule(lr, cfg.min_lr, total, warmup)
    last[: steps_of(cfg.freeze_last_layer_epochs, epoch_length)] = 0.0  # prototypes frozen first
    wd = cosine_schedule(cfg.weight_decay, cfg.weight_decay_end, total)
    mom = cosine_schedule(cfg.momentum_teacher, cfg.final_momentum_teacher, total)
    tt_steps = min(steps_of(cfg.warmup_teacher_temp_epochs, epoch_length), total)
    tt = cosine_schedule(
        cfg.teacher_temp, cfg.teacher_temp, tt_steps, tt_steps, cfg.warmup_teacher_temp
    )
    finals = {
        "lr": cfg.min_lr,
        "last_layer_lr": cfg.min_lr,
        "wd": cfg.weight_decay_end,
        "momentum": cfg.final_momentum_teacher,
        "teacher_temp": cfg.teacher_temp,
    }
    return Schedules(lr_sched, last, wd, mom, tt, finals)
