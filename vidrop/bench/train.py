"""`vidrop bench train`: training throughput of several methods (default: ViDROP, the dense
student and transformers' VideoMAE pretraining), in one run, on device-resident inputs (data
loading excluded, as in the paper's Table 5). Each method trains its recipe as `vidrop compare`
does (vidrop.methods.resolve_config, per-method overrides included); one sample = one video
(ViDROP: its 2 large + 8 small clips; VideoMAE: its 2 large clips, each a sample of its own loss:
`videomae:views.large_clips=1` times one clip a video, as VideoMAE's own loader gives).

Per method: samples/s and step time (median of 3 windows of back-to-back steps), peak memory,
FLOPs per step counted by torch's FlopCounterMode on one step, MFU against the card's dense bf16
peak when the card is known, and with `--batch auto` (CUDA) the largest batch that fits a memory
budget. `train.compile=true` compiles every method (our backbones; VideoMAE's whole model). A
method that fails (out of memory, no transformers) is reported in the table; the others still run.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from vidrop.atomic import write_json_atomic
from vidrop.bench.flops import count_flops
from vidrop.bench.step import WARM_STEPS, build_runner
from vidrop.config import METHODS, Config
from vidrop.machine import command_line, describe_machine, resolve_device, sync_device
from vidrop.methods import resolve_config

# dense bf16 tensor-core peaks (TFLOP/s), for MFU; unknown cards report no MFU
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "RTX 4090": 165.2, "L40S": 362.0}


def make_step(cfg: Config, batch: int, device: torch.device) -> Callable[[int], Any]:
    """Step i of cfg.train.method on device-resident random views (a fresh model)."""
    if cfg.train.compile:
        # each method compiles from a clean Dynamo state: a model compiled after another in one
        # process can run at its eager speed, and compiled graphs bake in the SDPA kernel
        # chosen when they were traced
        torch._dynamo.reset()
    batches = build_runner(cfg, batch, device, 1000)
    return lambda i: batches.run(WARM_STEPS + i)


def measure(
    cfg: Config,
    batch: int,
    device: torch.device,
    steps: int,
    warmup: int,
    windows: int = 3,
) -> dict[str, Any]:
    step = make_step(cfg, batch, device)
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    for i in range(warmup):
        step(i)
    # steps back to back, one sync per window (as in training, where the host prepares the next
    # step while the GPU runs this one); median over `windows` windows
    times = []
    for w in range(windows):
        sync_device(device)
        t = time.perf_counter()
        for i in range(steps):
            step(warmup + w * steps + i)
        sync_device(device)
        times.append((time.perf_counter() - t) / steps)
    median = statistics.median(times)
    # FLOPs counted after the timing: a compiled model stepped first under FlopCounterMode (a
    # dispatch mode) can lose its compiled speed
    flops, _ = count_flops(lambda: step(warmup + windows * steps))
    peak = PEAK_TFLOPS.get(_card(device))
    return {
        "method": cfg.train.method,
        "batch": batch,
        "large_clips_per_s": batch * cfg.views.large_clips / median,
        "step_s_median": median,
        "samples_per_s": batch / median,
        "flops_per_step": flops,
        "tflops_per_s": flops / median / 1e12,
        "mfu": flops / median / (peak * 1e12) if peak else None,
        "peak_mem_gib": torch.cuda.max_memory_allocated(device) / 2**30
        if device.type == "cuda"
        else None,
    }


def _card(device: torch.device) -> str:
    if device.type != "cuda":
        return "cpu"
    name = torch.cuda.get_device_name(device)
    return next((k for k in PEAK_TFLOPS if k in name), name)


def largest_batch(cfg: Config, device: torch.device, budget_gib: float, start: int = 8) -> int:
    """Largest batch whose training step fits `budget_gib` of GPU memory (doubling from `start`,
    then bisection; each try runs two steps)."""
    total = torch.cuda.get_device_properties(device).total_memory / 2**30
    torch.cuda.set_per_process_memory_fraction(min(1.0, budget_gib / total), device)

    def fits(b: int) -> bool:
        try:
            step = make_step(cfg, b, device)
            step(0)
            step(1)
            sync_device(device)
            return True
        except torch.OutOfMemoryError:
            return False
        finally:
            torch.cuda.empty_cache()

    try:
        return largest_fitting(fits, start)
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, device)


def largest_fitting(fits: Callable[[int], bool], start: int = 8) -> int:
    """Largest n >= 1 with fits(n) (0 if none), for a `fits` that stays False once False:
    doubling from `start` while it fits, then bisection; every size is tried at most once."""
    lo, hi = 0, start  # invariant: fits(lo) or lo == 0; not fits(hi) once the doubling stops
    if fits(start):
        lo, hi = start, 2 * start
        while fits(hi):
            lo, hi = hi, 2 * hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def parse_batch(text: str) -> int | str | dict[str, int]:
    """--batch: "32", "auto", or per method "vidrop=64,videomae=128" (one method's best batch
    differs from another's: VideoMAE's light step needs a larger batch to fill a GPU)."""
    if text == "auto":
        return text
    if "=" not in text:
        return int(text)
    pairs = (item.split("=", 1) for item in text.split(",") if item.strip())
    return {m.strip(): int(n) for m, n in pairs}


def bench_train(
    config: str = "vit_b",
    methods: tuple[str, ...] = METHODS,
    batch: int | str | dict[str, int] = 32,
    *,
    steps: int = 5,
    warmup: int = 3,
    budget_gib: float = 24.0,
    json_path: str | None = None,
    overrides: list[str] | None = None,
) -> dict[str, Any]:
    cfgs = {m: resolve_config(config, overrides, method=m) for m in methods}
    device = resolve_device(cfgs[methods[0]].train.device)
    out: dict[str, Any] = {
        "command": command_line(),
        "machine": describe_machine(device),
        "config": config,
        "arch": cfgs[methods[0]].model.arch,
        "results": [],
    }
    for method in methods:
        b = batch.get(method) if isinstance(batch, dict) else batch
        if b is None:
            raise ValueError(f"--batch-size names no batch for method {method!r}: {batch}")
        r = measure_or_fail(cfgs[method], b, device, steps, warmup, budget_gib)
        out["results"].append(r)
        print(json.dumps(r), flush=True)
    base = {r["method"]: r["samples_per_s"] for r in out["results"] if "error" not in r}
    if "vidrop" in base:
        out["ratios"] = {
            f"vidrop/{k}": base["vidrop"] / v for k, v in base.items() if k != "vidrop"
        }
    print_table(out)
    if json_path:
        write_json_atomic(json_path, out)
    return out


def measure_or_fail(
    cfg: Config,
    batch: int | str,
    device: torch.device,
    steps: int,
    warmup: int,
    budget_gib: float,
) -> dict[str, Any]:
    """One method's measurement (batch "auto": the largest that fits the budget), or its error
    (out of memory, a failed compile, no transformers) in place of the figures."""
    fit = None
    if batch == "auto":
        if device.type != "cuda":
            raise ValueError("--batch-size auto needs a CUDA device (it searches GPU memory)")
        fit = batch = largest_batch(cfg, device, budget_gib)
    try:
        r = measure(cfg, int(batch), device, steps, warmup)
    except (RuntimeError, ImportError) as exc:
        error = f"{type(exc).__name__}: {exc}"
        r = {"method": cfg.train.method, "batch": int(batch), "error": error}
        if device.type == "cuda":
            torch.cuda.empty_cache()
    r["largest_batch_in_budget"] = fit
    return r


def print_table(out: dict[str, Any]) -> None:
    print(f"command: {out['command']}\nmachine: {out['machine']}")
    print("| method | batch | samples/s | step ms | TFLOP/s | MFU | peak GiB |")
    print("|---|---|---|---|---|---|---|")
    for r in out["results"]:
        if "error" in r:
            print(f"| {r['method']} | {r['batch']} | {r['error'][:120]} | | | | |")
            continue
        mfu = f"{r['mfu']:.1%}" if r["mfu"] is not None else "-"
        mem = f"{r['peak_mem_gib']:.1f}" if r["peak_mem_gib"] is not None else "-"
        print(
            f"| {r['method']} | {r['batch']} | {r['samples_per_s']:.1f} | "
            f"{r['step_s_median'] * 1000:.0f} | {r['tflops_per_s']:.1f} | {mfu} | {mem} |"
        )
    for k, v in out.get("ratios", {}).items():
        print(f"{k}: {v:.2f}x")
