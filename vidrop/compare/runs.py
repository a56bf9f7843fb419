"""One method's training run for `vidrop compare`: its config sized to a number of steps, trained
in a child `vidrop pretrain` process (its own memory, a clean Dynamo state, a failure that cannot
take the comparison down), stopped at curve points to score kNN along the way.

Run folders are named by what they train (method, seed and a hash of the resolved config and
budget), so a run that two comparisons share (ViDROP's reference run under a seconds and a FLOPs
budget) is trained once, and a comparison started again finds its finished runs.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from vidrop.atomic import write_json_atomic, write_text_atomic
from vidrop.config import Config, config_yaml
from vidrop.data.manifest import Manifest
from vidrop.eval.features import Features, extract_features, views_of_backbone
from vidrop.eval.knn import knn_accuracy
from vidrop.eval.labels import probe_sets
from vidrop.models.load import load_backbone
from vidrop.progress import ProgressBar
from vidrop.stops import Stopped, StopRequests
from vidrop.train.metrics import read_metrics
from vidrop.train.sizing import scale_schedule, size_run

KS = (10, 20, 100)


def sized(cfg: Config, steps: int, videos: int) -> Config:
    """`cfg` with a schedule of exactly `steps` optimizer steps on `videos` training videos, its
    warmups keeping their share (`scale_schedule`)."""
    length = size_run(cfg.optim, videos).epoch_length
    assert length is not None  # the videos are counted
    return replace(cfg, optim=scale_schedule(cfg.optim, steps / length))


def run_key(cfg: Config) -> str:
    """A short hash of what a run's weights depend on: its settings that differ from vidrop's
    defaults (so a setting added later, at its default, keeps the key), logging cadence aside;
    a run stopped by train.max_seconds is keyed by its limit."""
    ours, defaults = cfg.to_dict(), Config().to_dict()
    changed = {
        f"{section}.{k}": v
        for section, values in ours.items()
        for k, v in values.items()
        if v != defaults[section][k] and k not in ("log_every", "max_steps")
    }
    return hashlib.sha256(json.dumps(changed, sort_keys=True).encode()).hexdigest()[:10]


@dataclass
class MethodRun:
    """What a comparison keeps of one method's training run."""

    folder: str
    steps_planned: int
    steps: int = 0
    seconds: float = 0.0  # the training loop's clock (data loading included)
    clips_per_s: float = 0.0
    peak_mem_gib: float = 0.0  # GPU: allocated by torch; CPU: the child process's peak RSS
    curve: list[dict[str, float]] = field(default_factory=list)
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _tail(path: Path, lines: int = 12) -> str:
    text = path.read_text(errors="replace").splitlines() if path.exists() else []
    return "\n".join(text[-lines:])


def _last_step(metrics: Path) -> int:
    """The last step a child logged; a line cut off by a kill or read mid-write is passed over."""
    if not metrics.exists():
        return 0
    for line in reversed(metrics.read_text().splitlines()):
        try:
            return int(json.loads(line)["step"])
        except (ValueError, KeyError, TypeError):
            continue
    return 0


def follow(bar: ProgressBar, step: int) -> None:
    """Move `bar` to the child's last logged step. A child killed between checkpoints restarts
    from an earlier step than the log it left: the bar restarts there, so its rate stays true."""
    if step < bar.done:
        bar.start_at(step)
    bar.update(step - bar.done)


def train_child(config: Path, folder: Path, label: str, total: int, stop: int = 0) -> float:
    """`vidrop pretrain` of `config` in a child process (it resumes from the folder's
    checkpoint), to the end of its schedule or its time limit, or to step `stop`; a progress
    bar follows its metrics.jsonl. SIGTERM or SIGUSR1 sent to this process goes on to the child,
    which checkpoints and stops; then Stopped is raised here (the comparison resumes when run
    again). Returns the child's peak RSS in GiB; raises RuntimeError with the end of its log
    (folder/train.log) if it fails."""
    log = folder / "train.log"
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "vidrop",
        "pretrain",
        "--config",
        str(config),
        "--out",
        str(folder),
        "train.log_every=1",
    ]
    cmd += [f"train.max_steps={stop}"] if stop else []
    stops = StopRequests()
    with open(log, "a") as out, ProgressBar(total, label, unit="step") as bar:
        child = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        result: dict[str, Any] = {}
        waiter = threading.Thread(target=lambda: result.update(done=os.wait4(child.pid, 0)))
        waiter.start()
        bar.start_at(_last_step(folder / "metrics.jsonl"))
        with stops.listening():
            passed = None
            while waiter.is_alive():
                waiter.join(1.0)
                follow(bar, _last_step(folder / "metrics.jsonl"))
                if stops.signum is not None and passed is None:
                    passed = stops.signum
                    child.send_signal(passed)  # the child saves its state, then exits
        _, status, usage = result["done"]
        child.returncode = os.waitstatus_to_exitcode(status)
    if stops.signum is not None:  # however the child ended, the comparison stops here
        saved = f"{label}: stopped with its state saved in {folder}; run the same command to resume"
        raise Stopped(stops.signum, saved)
    if child.returncode != 0:
        raise RuntimeError(f"exit code {child.returncode}; the end of {log}:\n{_tail(log)}")
    return usage.ru_maxrss / 2**20  # KiB on Linux


def export_features(
    export: Path, manifests: dict[str, Manifest], device: str, label: str
) -> dict[str, Features]:
    """Features of an exported backbone on each named manifest, one clip a video of the clip it
    trained on: what a comparison's cheap scores read (curve points, tuning trials)."""
    model, meta = load_backbone(export, with_meta=True)
    views = views_of_backbone(meta, model)
    return {
        name: extract_features(model, m, views, device=device, description=f"{label} {name}")
        for name, m in manifests.items()
    }


def knn_on(export: Path, train: Manifest, val: Manifest, device: str) -> dict:
    """kNN top-1 (k = 10, 20, 100) of a run's export on the val videos, one clip a video (the
    curve's cheap view; the final table uses the comparison's clips)."""
    f = export_features(export, {"train": train, "val": val}, device, "curve")
    _, tr, va = probe_sets(f["train"], f["val"], "cls")  # "cls": the mean token without a CLS
    acc = knn_accuracy(tr.x, tr.y, va.x, va.y, KS)
    return {str(k): v for k, v in acc.items()}


def train_run(
    cfg: Config,
    folder: Path,
    steps: int,
    label: str,
    curve_data: tuple[Manifest, Manifest, str] | None,
    flops_per_step: float,
) -> MethodRun:
    """Train `cfg` (sized to `steps`, with its train.export_every points) in `folder` in one
    go, the backbone kept at each point and at the end; with `curve_data` (train, val, device)
    every point is scored by kNN on the val videos. A finished run (folder/done.json)
    is not trained again; one trained without scores gets them later (folder/curve.json)."""
    done, config = folder / "done.json", folder / "run.yaml"
    if not done.exists():
        folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(config, config_yaml(cfg))
        rss = train_child(config, folder, label, steps)
        end = int(read_metrics(folder / "metrics.jsonl")[-1]["step"])  # the end, or time's up
        shutil.copytree(folder / "export", folder / "points" / str(end), dirs_exist_ok=True)
        write_json_atomic(done, {"peak_rss_gib": rss}, indent=None)
    records = {int(r["step"]): r for r in read_metrics(folder / "metrics.jsonl")}
    curve = score_points(folder, records, flops_per_step, curve_data)
    last = records[max(records)]
    gpu_peak = max((r.get("peak_mem_gib", 0.0) for r in records.values()), default=0.0)
    window = [records[k]["clips_per_s"] for k in sorted(records)[len(records) // 2 :]]
    rss = json.loads(done.read_text())["peak_rss_gib"]
    return MethodRun(
        str(folder),
        steps,
        int(last["step"]),
        float(last["seconds"]),
        sum(window) / len(window),
        gpu_peak if torch.cuda.is_available() else rss,
        curve,
    )


def score_points(
    folder: Path,
    records: dict[int, dict[str, Any]],
    flops_per_step: float,
    curve_data: tuple[Manifest, Manifest, str] | None,
) -> list[dict[str, Any]]:
    """The run's kept points (folder/points/STEP): step, seconds, TFLOP, and kNN where scored."""
    path = folder / "curve.json"
    scored = json.loads(path.read_text()) if path.exists() else {}
    curve = []
    for step in sorted(int(p.name) for p in (folder / "points").iterdir()):
        point = {
            "step": step,
            "seconds": float(records[step]["seconds"]),
            "tflop": step * flops_per_step / 1e12,
        }
        if curve_data is not None and str(step) not in scored:
            scored[str(step)] = knn_on(folder / "points" / str(step), *curve_data)
            write_json_atomic(path, scored)
        if str(step) in scored:
            point["knn"] = scored[str(step)]
        curve.append(point)
    return curve


def export_every(steps: int, k: int) -> int:
    """train.export_every that keeps about `k` points along `steps` (0: only the end)."""
    return math.ceil(steps / k) if k > 1 else 0
