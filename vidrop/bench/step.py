"""Time complete training steps of a method (ViDROP: forward, backward, AdamW, EMA) on
synthetic uint8 views that already sit on the device, so the figure is the model's cost without
data loading (the views' augmentation and normalisation are timed, as the step does them)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator

import torch

from vidrop.atomic import write_json_atomic
from vidrop.config import Config
from vidrop.data.batch import DeviceBatch, device_batch
from vidrop.machine import command_line, describe_machine, resolve_device, sync_device
from vidrop.methods import resolve_config
from vidrop.seeds import StepDraws
from vidrop.train.build import build_training
from vidrop.train.runner import StepRunner
from vidrop.train.schedules import build_schedules

WARM_STEPS = 50  # timed steps start here: past the schedules' warmups, as most of a run is


def random_views(cfg: Config, batch: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    """Device-resident uint8 (large, small) views of `batch` videos, random pixels."""
    v = cfg.views
    g = torch.Generator().manual_seed(0)
    shape_l = (batch, v.large_clips, 3, v.large_frames, v.large_size, v.large_size)
    shape_s = (batch, v.small_clips, 3, v.small_frames, v.small_size, v.small_size)
    return tuple(
        torch.randint(0, 256, shape, dtype=torch.uint8, generator=g).to(device)
        for shape in (shape_l, shape_s)
    )


class StepBatches:
    """The micro-batches of step i: the same device-resident views, each micro-step's token
    plan drawn ahead (as the loader draws it); the views are augmented and normalised when the
    step takes them, inside its timing, as in training."""

    def __init__(self, runner: StepRunner, batch: int, accum: int = 1) -> None:
        self.runner, self.batch, self.accum = runner, batch, accum
        cfg = runner.cfg
        self.large, self.small = random_views(cfg, batch, runner.device)
        self.spec = runner.method.plan_spec(cfg, rank=0)

    def micro(self, step: int) -> Iterator[DeviceBatch]:
        """Step `step`'s micro-batches (micro-steps step * accum ... as the loop counts them)."""
        n_clips = self.batch * self.large.shape[1]
        micro_steps = [step * self.accum + j for j in range(self.accum)]
        plans = [self.spec.draw(n_clips, m) if self.spec else None for m in micro_steps]
        r, augment = self.runner, self.runner.cfg.views.augment == "dino"
        return (
            device_batch(
                self.large,
                self.small,
                plan,
                StepDraws.of(r.cfg.train.seed, 0, m),
                r.device,
                augment,
                r.dtype,
            )
            for m, plan in zip(micro_steps, plans, strict=True)
        )

    def run(self, step: int) -> dict[str, torch.Tensor]:
        """One optimizer step on step `step`'s micro-batches; its logs."""
        return self.runner.step(self.micro(step), self.accum, step)


def build_runner(
    cfg: Config, batch: int, device: torch.device, schedule_steps: int, accum: int = 1
) -> StepBatches:
    """cfg.train.method's step runner (compiled when train.compile) on device-resident random
    views of `batch` videos, `accum` micro-batches a step, with schedules laid out over
    `schedule_steps` steps."""
    method, model, optimizer, _ = build_training(cfg, device)
    schedules = build_schedules(cfg.optim, schedule_steps, batch)
    runner = StepRunner(method, cfg, model, optimizer, schedules, device)
    return StepBatches(runner, batch, accum)


def bench_step(
    config: str,
    batch: int,
    *,
    steps: int = 5,
    warmup: int = 2,
    json_out: str | None = None,
    overrides: list[str] | None = None,
) -> dict:
    cfg = resolve_config(config, [f"optim.batch_size={batch}", *(overrides or [])])
    device = resolve_device(cfg.train.device)
    batches = build_runner(cfg, batch, device, max(steps + warmup, 100))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times, logs = time_steps(batches, device, steps, warmup)
    median = statistics.median(times)
    result = {
        "command": command_line(),
        "machine": describe_machine(device),
        "config": config,
        "arch": cfg.model.arch,
        "batch_videos": batch,
        "steps_timed": steps,
        "step_s_median": median,
        "step_s_all": times,
        "videos_per_s": batch / median,
        # each method counts its own tokens (ViDROP: student_tokens, teacher_tokens, ...)
        **{k: int(v) for k, v in logs.items() if k.endswith("_tokens")},
        "precision": "bf16" if batches.runner.bf16 else "fp32",
        "peak_mem_gib": torch.cuda.max_memory_allocated(device) / 2**30
        if device.type == "cuda"
        else None,
    }
    print(f"command: {result['command']}\nmachine: {result['machine']}")
    tokens = ", ".join(
        f"{k.replace('_', ' ')} {v}" for k, v in result.items() if k.endswith("_tokens")
    )
    print(
        f"{cfg.train.method} {cfg.model.arch} batch {batch}: step {median:.3f} s (median of "
        f"{steps}), {result['videos_per_s']:.2f} videos/s, {result['precision']}, {tokens}"
    )
    if json_out:
        write_json_atomic(json_out, result)
    return result


def time_steps(
    batches: StepBatches, device: torch.device, steps: int, warmup: int
) -> tuple[list[float], dict[str, torch.Tensor]]:
    """(seconds of each timed step, the last step's logs); steps past the schedules' warmup."""
    times, logs = [], {}
    for i in range(warmup + steps):
        sync_device(device)
        t = time.perf_counter()
        logs = batches.run(i + WARM_STEPS)
        sync_device(device)
        if i >= warmup:
            times.append(time.perf_counter() - t)
    return times, logs
