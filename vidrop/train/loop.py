"""`pretrain(cfg, out)`: a whole pretraining run of cfg.train.method, resumable from its output
folder.

The method (vidrop.methods) says what a step computes; the batches come from train/stream.py and
the step is made by train/runner.py. Every random choice is seeded from (seed, rank, micro-step)
(vidrop.seeds) or (seed, epoch, video), so a resumed run repeats the batches, crops, drops, masks
and drop-path draws it would have made.
"""

from __future__ import annotations

import json
import logging
import math
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import torch
import yaml

from vidrop import dist, runlock
from vidrop.atomic import write_bytes_atomic
from vidrop.config import Config, ConfigError, save_config
from vidrop.data.batch import DeviceBatch
from vidrop.machine import command_line, resolve_device
from vidrop.models.load import training_views
from vidrop.parallel import (
    full_state,
    is_sharded,
    load_full_state,
    load_optimizer_state,
    optimizer_state,
)
from vidrop.plots import plot_curves, try_plot
from vidrop.progress import ProgressBar
from vidrop.stops import Stopped, StopRequests
from vidrop.train.build import build_training
from vidrop.train.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from vidrop.train.inputs import build_source
from vidrop.train.metrics import MetricsLog, read_metrics
from vidrop.train.result import RunResult
from vidrop.train.runner import StepRunner
from vidrop.train.schedules import build_schedules
from vidrop.train.sizing import scale_schedule, size_run
from vidrop.train.stream import BatchStream

log = logging.getLogger("vidrop")

# train.budget_seconds: shares of the planned run at which its length is re-planned from the pace
REPLAN_AT = (0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)  # the last: a pace that quickens late


def _config_differences(old: dict, new: dict) -> list[str]:
    diffs = []
    for section in sorted(set(old) | set(new)):
        a, b = old.get(section, {}), new.get(section, {})
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                diffs.append(f"{section}.{key}: {a.get(key)!r} -> {b.get(key)!r}")
    return diffs


def _check_resume_config(saved: dict, cfg: Config, out: Path) -> None:
    diffs = _config_differences(saved, cfg.to_dict())
    arch = [d for d in diffs if d.startswith(("model.", "head."))]
    if arch:
        raise ConfigError(
            f"{out} holds a checkpoint of a different model ({'; '.join(arch)}); "
            "use another --out or the same model settings"
        )
    if diffs:
        log.warning("resuming %s with changed settings: %s", out, "; ".join(diffs))


class Trainer:
    """Holds the run's state; `run()` trains to the end, checkpointing and logging as it goes."""

    def __init__(self, cfg: Config, out: str | Path) -> None:
        self.cfg, self.out = cfg, Path(out)
        if cfg.train.threads:
            torch.set_num_threads(cfg.train.threads)
        self.device = resolve_device(cfg.train.device)
        self.clock = time.perf_counter  # the training loop's seconds (a test may simulate them)
        self._runner: StepRunner | None = None  # made once the model is
        dist.init_from_env(self.device.type)  # under torchrun: join the process group
        self.rank, self.world = dist.rank(), dist.world_size()

        self._data()  # its errors (a missing video, a bad store) come before any write
        if dist.is_main():  # one writer per run folder
            runlock.acquire(self.out, command_line())
        try:
            self._model()
        except BaseException:
            runlock.release(self.out)
            raise
        if dist.is_main():
            self._banner()

    def _data(self) -> None:
        """The training videos, the run's size and schedules."""
        cfg = self.cfg
        self.source, self.decoder, self._known_broken = build_source(cfg, self.device)
        try:
            self.sizing = size_run(cfg.optim, len(self.source), self.world)
        except ConfigError as exc:
            raise ConfigError(f"{cfg.data.store or cfg.data.train}: {exc}") from exc
        self.accum = self.sizing.accum
        self.global_batch = self.sizing.total_batch
        assert self.sizing.epoch_length is not None  # the source's videos are counted
        self.epoch_length: int = self.sizing.epoch_length
        self.set_plan(self.sizing.total_steps)

    def set_plan(self, total_steps: int) -> None:
        """The schedules laid out over `total_steps` steps (the recipe's, or a re-plan of
        train.budget_seconds: warmups keep their share), and where the run stops."""
        optim = self.cfg.optim
        if total_steps != self.sizing.total_steps:
            optim = scale_schedule(optim, total_steps / self.epoch_length)
        self.total_steps = total_steps
        self.stop_step = min(self.cfg.train.max_steps or total_steps, total_steps)
        self.schedules = build_schedules(optim, self.epoch_length, self.global_batch)
        if self._runner is not None:  # a re-plan: the runner steps by the new schedules
            self._runner.schedules = self.schedules

    def _model(self) -> None:
        """Method, model and optimizer (from train.init on a fresh run), the resumed state."""
        cfg = self.cfg
        fresh = not (self.out / CHECKPOINT_NAME).exists()
        if fresh and cfg.train.init_from and not cfg.train.init:
            raise ConfigError(
                f"this recipe continues a checkpoint ({cfg.train.init_from}); give it with "
                "--init PATH (or train.init_from= to train from random weights on purpose)"
            )
        self.method, self.model, self.optimizer, report = build_training(
            cfg, self.device, init=bool(cfg.train.init) and fresh
        )
        if report is not None and dist.is_main():  # what moved how from train.init
            self.out.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(self.out / "init.json", json.dumps(report, indent=2).encode())
        self.step = 0
        self._saved_at = -1  # the step of the last checkpoint this process wrote
        self.train_seconds = 0.0  # time spent in the training loop, over every resume
        self.skipped: dict[str, str] = {}
        self._resume_or_start()
        self._note_skipped(list(self._known_broken.items()))  # a store's failed videos
        self._runner = StepRunner(
            self.method, cfg, self.model, self.optimizer, self.schedules, self.device
        )

    @property
    def runner(self) -> StepRunner:
        assert self._runner is not None, "the runner is made with the model (_model)"
        return self._runner

    def _banner(self) -> None:
        """What this run is, before it starts: folder, method, device, size, how long."""
        trained = sum(p.numel() for g in self.optimizer.param_groups for p in g["params"])
        log.info(
            "%s %s in %s on %s: %.1fM trained parameters, from step %d of %d",
            self.cfg.train.method,
            self.cfg.model.arch,
            self.out,
            self.device,
            trained / 1e6,
            self.step,
            self.stop_step,
        )
        log.info("%s", self.sizing.describe())
        if self.stop_step < self.total_steps:
            log.warning(
                "train.max_steps=%d stops the run before its schedule ends (%d steps)",
                self.stop_step,
                self.total_steps,
            )

    # -- state -------------------------------------------------------------------------------
    def _resume_or_start(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        ckpt_path = self.out / CHECKPOINT_NAME
        resumed = None
        if ckpt_path.exists():
            state = load_checkpoint(ckpt_path)
            _check_resume_config(state["config"], self.cfg, self.out)
            load_full_state(self.model, state["model"])
            if state["optimizer"] is not None:  # None: a grown model (`vidrop expand`)
                try:
                    trained = self.method.trained(self.model)
                    load_optimizer_state(self.model, trained, self.optimizer, state["optimizer"])
                except ValueError as exc:
                    raise ConfigError(f"{ckpt_path}: {exc}") from exc
            self.step = int(state["step"])
            self.train_seconds = float(state.get("train_seconds", 0.0))
            if self.cfg.train.budget_seconds and "planned_steps" in state:
                self.set_plan(int(state["planned_steps"]))
            self.skipped = dict(state.get("skipped", {}))
            resumed = self.step
            log.info("resuming %s from step %d", self.out, self.step)
        if dist.is_main():
            save_config(self.cfg, self.out / "config.yaml")
        tb = self.out / "tb" if self.cfg.train.tensorboard and dist.is_main() else None
        text = yaml.safe_dump(self.cfg.to_dict(), sort_keys=False)
        self.metrics = MetricsLog(self.out / "metrics.jsonl", resumed, tb, text)

    def checkpoint(self) -> None:
        """One consolidated file from rank 0; under FSDP every rank takes part in gathering it.
        A step already saved is not saved again (the run's end or a stop on a periodic step)."""
        if self._saved_at == self.step:
            return
        self._saved_at = self.step
        if not dist.is_main() and not is_sharded(self.model):
            return
        model_state = full_state(self.model)
        trained = self.method.trained(self.model)
        optimizer = optimizer_state(self.model, trained, self.optimizer)
        if not dist.is_main():
            return
        save_checkpoint(
            self.out / CHECKPOINT_NAME,
            {
                "step": self.step,
                "model": model_state,
                "optimizer": optimizer,
                "config": self.cfg.to_dict(),
                "skipped": self.skipped,
                "train_seconds": self.train_seconds,
                "planned_steps": self.total_steps,
            },
        )

    def export(self, folder: Path | None = None) -> Path:
        """The backbone to RUN/export (or `folder`: train.export_every's RUN/points/STEP)."""
        meta = {"step": self.step, "eval": training_views(self.cfg.to_dict())}
        return self.method.export(self.model, folder or self.out / "export", meta)

    # -- data --------------------------------------------------------------------------------
    def stream(self) -> BatchStream:
        """The run's micro-batches from where it stands (the sampler counts micro-batches)."""
        return BatchStream(
            self.cfg,
            self.source,
            self.method.plan_spec(self.cfg, self.rank),
            self.device,
            self.runner.dtype,
            start=self.step * self.accum,
            rank=self.rank,
            world=self.world,
            accum=self.accum,
            decoder=self.decoder,
        )

    def _note_skipped(self, skipped: list[tuple[str, str]]) -> None:
        for path, reason in skipped:
            if path not in self.skipped:
                self.skipped[path] = reason
                log.warning("skipped unreadable video %s (%s)", path, reason)

    # -- the run -----------------------------------------------------------------------------
    def run(self) -> RunResult:
        """Train to the end (or the seconds' end, or a stop signal), checkpointing and logging
        as it goes; the run folder's lock is given back however it ends."""
        try:
            return self._run()
        finally:
            runlock.release(self.out)

    def _run(self) -> RunResult:
        if self.step >= self.stop_step:
            log.info("%s is already trained to step %d", self.out, self.step)
            return self.result()
        self._window = (time.perf_counter(), 0)  # (start, videos) of the logging window
        loop_start, seconds_before = self.clock(), self.train_seconds
        self._pace_mark = (self.step, self.train_seconds)
        batches = iter(self.stream())
        stops = StopRequests()
        limit = self._seconds_limit()
        spent = bool(limit) and self.train_seconds >= limit
        try:
            with stops.listening(), ProgressBar(self.stop_step, "pretrain", unit="step") as bar:
                bar.start_at(self.step)
                while self.step < self.stop_step and not spent:
                    logs = self._train_step(batches)
                    self.train_seconds = seconds_before + self.clock() - loop_start
                    self._log(logs, bar)
                    bar.update(1)
                    self._keep()
                    if self._replan():
                        bar.set_total(self.stop_step)
                    signum, spent = self._stop_or_spent(stops)
                    if signum:
                        self._stop(signum)
        except KeyboardInterrupt:
            log.warning("interrupted at step %d: saving a checkpoint to resume from", self.step)
            self.checkpoint()
            raise
        self.checkpoint()
        self.metrics.close()
        if dist.is_main():
            records = {self.out.name: read_metrics(self.out / "metrics.jsonl")}
            try_plot(plot_curves, records, self.out / "curves.png")
        return self.result()

    def result(self) -> RunResult:
        """The run's export (written now) and where it stands."""
        export = self.export()
        return RunResult(
            self.out, self.step, export, self.out / "metrics.jsonl", self.train_seconds
        )

    def _train_step(self, batches: Iterator[DeviceBatch]) -> dict[str, torch.Tensor]:
        """One optimizer step on the next micro-batches, noted (skipped videos, counts) as the
        step takes them."""

        def noted() -> Iterator[DeviceBatch]:
            for _ in range(self.accum):
                batch = next(batches)
                self._note_skipped(batch.skipped)
                start, videos = self._window
                self._window = (start, videos + batch.videos * self.world)
                yield batch

        logs = self.runner.step(noted(), self.accum, self.step)
        self.step += 1
        return logs

    def _log(self, logs: dict[str, torch.Tensor], bar: ProgressBar) -> None:
        """Every train.log_every steps (and the last): metrics.jsonl and the progress line."""
        if self.step % self.cfg.train.log_every and self.step != self.stop_step:
            return
        start, videos = self._window
        views = self.cfg.views.large_clips + self.cfg.views.small_clips
        record = self._record(logs, videos / (time.perf_counter() - start), views)
        if not math.isfinite(record["loss"]):
            raise FloatingPointError(
                f"loss is {record['loss']} at step {self.step}; lower optim.base_lr or check the "
                "data (the last checkpoint is intact)"
            )
        if dist.is_main():
            self.metrics.write(record)
        bar.update(0, f"loss {record['loss']:.3f} {record['clips_per_s']:.1f} clips/s")
        self._window = (time.perf_counter(), 0)

    def _keep(self) -> None:
        """The checkpoint every train.checkpoint_every steps, the backbone every export_every."""
        t = self.cfg.train
        if self.step % t.checkpoint_every == 0:
            self.checkpoint()
        if t.export_every and self.step % t.export_every == 0:
            self.export(self.out / "points" / str(self.step))

    def _stop_or_spent(self, stops: StopRequests) -> tuple[int, bool]:
        """(the stop signal received, 0 if none; whether train.max_seconds or
        train.budget_seconds is spent): decided together, over every rank when distributed (a
        signal on any rank, or rank 0's clock, stops them all at the same step), with no device
        round trip in a single process."""
        limit = self._seconds_limit()
        local = [float(stops.signum or 0), float(bool(limit) and self.train_seconds >= limit)]
        if dist.is_enabled():
            local = dist.all_reduce_max(torch.tensor(local, device=self.device)).tolist()
        signum, spent = int(local[0]), local[1] > 0
        if spent:
            log.info("the run's %g seconds are spent at step %d", limit, self.step)
        return signum, spent

    def _stop(self, signum: int) -> None:
        """A stop signal: the checkpoint of this step, then Stopped."""
        self.checkpoint()
        self.metrics.close()
        name = signal.Signals(signum).name
        message = f"{name} at step {self.step}: checkpoint saved; run the same command to resume"
        log.warning("%s", message)
        raise Stopped(signum, message)

    def _replan(self) -> bool:
        """train.budget_seconds: at each re-plan point, the run's length from the pace of the
        steps since the last one (rank 0's clock, so every rank plans alike); whether it moved.
        In a run of several epochs the first pass (videos decoded, caches filling) sets no pace:
        its points are skipped and the pace is measured from its end."""
        budget = self.cfg.train.budget_seconds
        if not budget:
            return False
        first_pass = self.total_steps > 2 * self.epoch_length and self.step <= self.epoch_length
        if first_pass:
            if self.step == self.epoch_length:
                self._pace_mark = (self.step, self.train_seconds)
            return False
        points = {round(f * self.total_steps) for f in REPLAN_AT}
        if self.step not in points or self.step <= self._pace_mark[0]:
            return False
        done, seconds = self._pace_mark
        pace = (self.train_seconds - seconds) / (self.step - done)
        self._pace_mark = (self.step, self.train_seconds)
        left = max(0.0, budget - self.train_seconds)
        # spent: the plan stays (the run stops here); decided on rank 0, as every rank must call
        # the all-reduce below
        steps = self.step + max(1, round(left / pace)) if left > 0 else self.total_steps
        planned = float(steps) if dist.is_main() else 0.0
        total = int(dist.all_reduce_max(torch.tensor(planned, device=self.device)).item())
        if total == self.total_steps:
            return False
        log.info(
            "step %d: %.3f s a step, %.0f of %.0f s left: the schedule now ends at step %d "
            "(was %d)",
            self.step,
            pace,
            left,
            budget,
            total,
            self.total_steps,
        )
        self.set_plan(total)
        return True

    def _seconds_limit(self) -> float:
        """train.max_seconds or train.budget_seconds, the smaller one given (0: none)."""
        t = self.cfg.train
        return min((s for s in (t.max_seconds, t.budget_seconds) if s), default=0.0)

    def _record(self, logs: dict[str, torch.Tensor], videos_per_s: float, clips_per_video: int):
        record: dict[str, float | int] = {"step": self.step}
        # over ranks, one collective per kind: token counts are totals, the rest means
        tokens = [k for k in logs if k.endswith("_tokens")]
        others = [k for k in logs if not k.endswith("_tokens")]
        for keys, reduce, cast in (
            (tokens, dist.all_reduce_sum, int),
            (others, dist.all_reduce_mean, float),
        ):
            if keys:
                # logs live on the device (losses) and on the CPU (schedule values, counts)
                stacked = torch.stack([logs[k].detach().float().to(self.device) for k in keys])
                values = reduce(stacked).tolist()
                record.update({k: cast(v) for k, v in zip(keys, values, strict=True)})
        if self.device.type == "cuda":
            record["peak_mem_gib"] = torch.cuda.max_memory_allocated(self.device) / 2**30
        record.update(
            seconds=self.train_seconds,
            epoch=self.step / self.epoch_length,
            videos_per_s=videos_per_s,
            clips_per_s=videos_per_s * clips_per_video,
            skipped_videos=len(self.skipped),
        )
        return record


def pretrain(cfg: Config, out: str | Path) -> RunResult:
    """Train (or resume) a run of cfg.train.method in `out`; returns where the export and
    metrics are."""
    return Trainer(cfg, out).run()
