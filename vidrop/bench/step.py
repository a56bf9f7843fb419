"""Time complete ViDROP training steps (forward, backward, AdamW, EMA) on synthetic uint8 views
that already sit on the device, so the figure is the model's cost without data loading."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from vidrop.config import Config, load_config
from vidrop.data.batch import ViewBatch
from vidrop.machine import command_line, describe_machine, resolve_device, sync_device
from vidrop.train.inputs import plan_spec
from vidrop.train.method import build_method
from vidrop.train.schedules import build_schedules
from vidrop.train.step import compile_backbones


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
    """The batch of step i: the same device-resident views, step i's token plan (drawn as the
    loader draws it, ahead of the step)."""

    def __init__(self, cfg: Config, batch: int, device: torch.device) -> None:
        self.large, self.small = random_views(cfg, batch, device)
        self.spec, self.batch = plan_spec(cfg, rank=0), batch

    def __getitem__(self, step: int) -> ViewBatch:
        n_clips = self.batch * self.large.shape[1]
        return ViewBatch(self.large, self.small, torch.arange(self.batch), [], step,
                         plan=self.spec.draw(n_clips, step))  # fmt: skip


def build_runner(
    cfg: Config, batch: int, device: torch.device, schedule_steps: int
) -> tuple[Any, StepBatches]:
    """The step runner of cfg.train.method (compiled when train.compile: our backbones, or
    VideoMAE's whole model) and device-resident random views."""
    model, optimizer, runner = build_method(cfg, device)
    if cfg.train.compile:
        if cfg.train.method == "vidrop":
            compile_backbones(model)
        else:
            model.compile()
    schedules = build_schedules(cfg.optim, schedule_steps, batch)
    return runner(cfg, model, optimizer, schedules, device), StepBatches(cfg, batch, device)


def bench_step(
    config: str,
    batch: int,
    *,
    steps: int = 5,
    warmup: int = 2,
    json_out: str | None = None,
    overrides: list[str] | None = None,
) -> dict:
    cfg = load_config(config, [f"optim.batch_size={batch}", *(overrides or [])])
    device = resolve_device(cfg.train.device)
    runner, batches = build_runner(cfg, batch, device, max(steps + warmup, 100))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times, logs = time_steps(runner, batches, device, steps, warmup)
    median = statistics.median(times)
    result = {
        "command": command_line(), "machine": describe_machine(device), "config": config,
        "arch": cfg.model.arch, "batch_videos": batch, "steps_timed": steps,
        "step_s_median": median, "step_s_all": times, "videos_per_s": batch / median,
        "student_tokens": int(logs["student_tokens"]),
        "teacher_tokens": int(logs["teacher_tokens"]),
        "precision": "bf16" if runner.bf16 else "fp32",
        "peak_mem_gib": torch.cuda.max_memory_allocated(device) / 2**30
        if device.type == "cuda" else None,
    }  # fmt: skip
    print(f"command: {result['command']}\nmachine: {result['machine']}")
    print(
        f"{cfg.model.arch} batch {batch}: step {median:.3f} s (median of {steps}), "
        f"{result['videos_per_s']:.2f} videos/s, {result['precision']}, "
        f"student tokens {result['student_tokens']}, teacher tokens {result['teacher_tokens']}"
    )
    if json_out:
        Path(json_out).write_text(json.dumps(result, indent=2))
    return result


def time_steps(runner, batches: StepBatches, device: torch.device, steps: int, warmup: int):
    """(seconds of each timed step, the last step's logs); steps past the schedules' warmup."""
    times, logs = [], {}
    for i in range(warmup + steps):
        views = batches[i + 50]
        sync_device(device)
        t = time.perf_counter()
        logs = runner(views, i + 50)
        sync_device(device)
        if i >= warmup:
            times.append(time.perf_counter() - t)
    return times, logs
