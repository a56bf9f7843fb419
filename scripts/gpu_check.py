"""GPU checks and timings for vidrop in one run (bf16 autocast, fused AdamW, torch.compile,
throughput, an end-to-end demo run). Prints a table last and writes gpu_check.json.

Each section is timed and isolated: a failure is recorded and the next section still runs.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

from vidrop.config import load_config
from vidrop.data.views import normalize
from vidrop.machine import command_line, describe_machine, resolve_device
from vidrop.methods import get_method
from vidrop.methods.meta_arch import ViDROP


def bf16_agreement(config: str, device: str) -> dict:
    """Same weights, same views: the bf16-autocast loss and gradients track fp32."""
    cfg = load_config(config, ["head.prototypes=4096", "head.patch_prototypes=4096"])
    torch.manual_seed(0)
    model = ViDROP(cfg.model, cfg.head, cfg.loss).to(device).train()
    b, v = 4, cfg.views
    g = torch.Generator().manual_seed(0)
    shape_l = (b, v.large_clips, 3, v.large_frames, v.large_size, v.large_size)
    shape_s = (b, v.small_clips, 3, v.small_frames, v.small_size, v.small_size)
    large = torch.randint(0, 256, shape_l, dtype=torch.uint8, generator=g).to(device)
    small = torch.randint(0, 256, shape_s, dtype=torch.uint8, generator=g).to(device)
    spec = get_method("vidrop").plan_spec(cfg, rank=0)
    plan = spec.draw(v.large_clips * b, 0).to(torch.device(device))
    out = {}
    for name, enabled in (("fp32", False), ("bf16", True)):
        model.zero_grad(set_to_none=True)
        torch.manual_seed(1)
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=enabled):
            terms = model(normalize(large), normalize(small), plan, 0.07)
        terms.loss.backward()
        grad = torch.cat([p.grad.flatten().float() for p in model.student.parameters()])
        out[name] = (float(terms.loss), grad)
    g32, g16 = out["fp32"][1].double(), out["bf16"][1].double()  # float32 sums over 3M: cos > 1
    rel_grad = float((g16 - g32).norm() / g32.norm())
    cos = float(torch.nn.functional.cosine_similarity(g16, g32, dim=0))
    rel_loss = abs(out["bf16"][0] - out["fp32"][0]) / abs(out["fp32"][0])
    return {
        "loss_fp32": out["fp32"][0],
        "loss_bf16": out["bf16"][0],
        "loss_rel_diff": rel_loss,
        "grad_rel_diff": rel_grad,
        "grad_cosine": cos,
        "ok": rel_loss < 2e-2 and cos > 0.98,  # bf16 keeps ~3 digits; the step direction must hold
    }


def compress_encode_rate(device: str, k: int, frames: int, size: tuple[int, int]) -> dict:
    """Codes assigned per second to frames already on the device (the codebook search alone,
    video decoding excluded), by the fused kernel and by the chunked torch search, and whether
    they agree (both exact: equal codes except between equally near entries)."""
    from vidrop.compress.codebook import Codebook, CodebookMeta

    g = torch.Generator().manual_seed(0)
    cb = Codebook(
        torch.randint(0, 256, (k, 300), generator=g).float(), CodebookMeta(10, k, size[0])
    ).to(device)
    # smooth frames, as camera footage is (uniform noise would be a needlessly odd input)
    low = torch.rand(frames, 3, size[0] // 20, size[1] // 20, generator=g) * 255
    img = torch.nn.functional.interpolate(low, size=size, mode="bilinear")
    x = img.round().to(torch.uint8).permute(0, 2, 3, 1).contiguous().to(device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    out: dict = {"k": k, "frames": frames, "size": list(size)}
    codes = {}
    for name, fused in (("fused", True), ("torch", False)):
        if fused and device != "cuda":
            continue
        cb.encode(x, fused=fused)  # warm-up (and the kernel's tile choice, timed once per size)
        sync()
        t = time.perf_counter()
        codes[name] = cb.encode(x, fused=fused)
        sync()
        dt = time.perf_counter() - t
        out[f"{name}_seconds"] = dt
        out[f"{name}_frames_per_s"] = frames / dt
    out["frames_per_s"] = max(v for n, v in out.items() if n.endswith("_frames_per_s"))
    if "fused" in codes:
        same = codes["fused"] == codes["torch"]
        out["codes_equal_fraction"] = float(same.float().mean())
        if not bool(same.all()):  # differing codes must be equally near (ties), checked exactly
            from vidrop.compress.patches import patchify

            p = patchify(x, 10).reshape(-1, 300)[~same.flatten()][:4096].double()
            table = cb.table.double()
            d = lambda ids: ((p - table[ids]) ** 2).sum(1)  # noqa: E731
            gap = d(codes["fused"].flatten()[~same.flatten()][:4096])
            gap = gap - d(codes["torch"].flatten()[~same.flatten()][:4096])
            out["differing_codes_max_distance_gap"] = float(gap.abs().max())
    return out


def compress_fit_rate(device: str, k: int, samples: int, iterations: int) -> dict:
    """A whole k-means fit (init + up to `iterations` Lloyd passes, stopping as `vidrop compress
    fit` does) on `samples` patches of smooth random images: total seconds."""
    from vidrop.compress.kmeans import kmeans

    g = torch.Generator(device=device).manual_seed(0)
    n_img = samples // (24 * 32) + 1
    low = torch.rand(n_img, 3, 12, 16, generator=g, device=device) * 255
    img = torch.nn.functional.interpolate(low, size=(240, 320), mode="bilinear")
    img = (img + torch.randn(img.shape, generator=g, device=device) * 8).clamp(0, 255)
    frames = img.round().to(torch.uint8).permute(0, 2, 3, 1)
    from vidrop.compress.patches import patchify

    x = patchify(frames, 10).reshape(-1, 300)[:samples]
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    sync()
    t = time.perf_counter()
    r = kmeans(x, k, iterations=iterations, seed=0)
    sync()
    dt = time.perf_counter() - t
    return {
        "k": k,
        "samples": len(x),
        "iterations": r.iterations,
        "seconds": dt,
        "s_per_iteration": dt / r.iterations,
        "inertia": r.inertia,
    }


def _pyav_frames(path: str, shared: bool, threads: bool) -> Iterator[np.ndarray]:
    """Every frame of `path` as RGB, decoded by PyAV directly: its per-frame conversion or one
    reformatter for the video, frame threading ("AUTO") on or off (variants vidrop does not ship,
    timed against the one it does)."""
    import av
    from av.video.reformatter import VideoReformatter

    with av.open(path) as container:
        stream = container.streams.video[0]
        if threads:
            stream.thread_type = "AUTO"
        r = VideoReformatter()
        for f in container.decode(stream):
            yield (
                r.reformat(f, format="rgb24") if shared else f.reformat(format="rgb24")
            ).to_ndarray()


def _timed_frames(
    read: Callable[[str], Iterable[np.ndarray]], paths: list[str]
) -> tuple[float, list]:
    """Seconds to read every frame of `paths` with `read`, and the frames."""
    t = time.perf_counter()
    frames = [f for p in paths for f in read(p)]
    return time.perf_counter() - t, frames


def decode_rates(out: Path, videos: int, sizes: tuple[int, ...]) -> dict:
    """Frames/s of decoding synthetic mp4s to RGB on this host, one process: PyAV's per-frame
    conversion against vidrop's `iter_frames` (one reformatter per video, frame threading on) and
    the same without frame threading; and whether the pixels agree."""
    from vidrop.data.manifest import read_manifest
    from vidrop.data.synth import SynthSpec, make_dataset
    from vidrop.data.video import iter_frames

    readers = {
        "per_frame_auto": lambda p: _pyav_frames(p, shared=False, threads=True),
        "shared_auto": lambda p: (f for chunk in iter_frames(p) for f in chunk),
        "shared_no_threads": lambda p: _pyav_frames(p, shared=True, threads=False),
    }
    res: dict = {}
    for size in sizes:
        data = make_dataset(out / f"decode_{size}", SynthSpec(videos=videos, size=size), workers=8)
        paths = read_manifest(data["train"]).paths
        _timed_frames(readers["shared_auto"], paths[:4])  # warm the codec and the page cache
        row, ref = {}, None
        for name, read in readers.items():
            s, frames = _timed_frames(read, paths)
            row[f"{name}_frames_per_s"] = len(frames) / s
            ref = frames if ref is None else ref
            row[f"{name}_equal"] = all(
                bool((a == b).all()) for a, b in zip(ref, frames, strict=True)
            )
        res[f"{size}px"] = row
    return res


def eval_path(out: Path, device: str, videos: int) -> dict:
    """The frozen-evaluation path on this machine, random-init tiny ViT: feature extraction with
    one decoding worker and with `default_workers()`, and label propagation profiled (where its
    seconds per video go; the top of the table in eval_profile.txt)."""
    import cProfile
    import io
    import pstats

    from vidrop.data.manifest import read_manifest
    from vidrop.data.synth import SynthSpec, make_dataset
    from vidrop.eval.features import extract_features
    from vidrop.eval.propagate import PropagationConfig, evaluate_propagation
    from vidrop.eval.sequences import synth_sequences
    from vidrop.eval.views import EvalViews
    from vidrop.machine import default_workers
    from vidrop.models.vit import VideoViT

    data = make_dataset(out / "eval_data", SynthSpec(videos=videos), workers=8)
    torch.manual_seed(0)
    model = VideoViT(load_config("tiny", []).model).eval()
    views = EvalViews(frames=8, size=64, stride=2, clips=3)
    manifest = read_manifest(data["train"])
    res: dict = {"videos": len(manifest), "default_workers": default_workers()}
    for workers in sorted({1, default_workers()}):
        t = time.perf_counter()
        extract_features(model, manifest, views, batch_size=8, num_workers=workers, device=device)
        res[f"extract_videos_per_s_{workers}_workers"] = len(manifest) / (time.perf_counter() - t)
    n, seqs = synth_sequences(data["val"])
    prof = cProfile.Profile()
    t = time.perf_counter()
    prof.enable()
    evaluate_propagation(model, seqs, n, PropagationConfig(shifts=2), device)
    prof.disable()
    res["propagation_s_per_video"] = (time.perf_counter() - t) / n
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(25)
    (out / "eval_profile.txt").write_text(text.getvalue())
    print(text.getvalue()[:4000])
    return res


def store_training(out: Path, device: str, videos: int, steps: int, batch: int) -> dict:
    """Synthetic videos -> codebook fit and encode on the device -> tiny pretraining steps from
    the store with the lookup on the device (data.decode_on=device): the GPU data path."""
    from vidrop.compress.encode import encode_dataset
    from vidrop.compress.fit import fit_codebook
    from vidrop.data.synth import SynthSpec, make_dataset
    from vidrop.train.loop import pretrain

    root = out / "store_check"
    data = make_dataset(root / "data", SynthSpec(videos=videos), workers=8)
    cb = root / "codebook"
    fit_codebook(
        data["train"],
        cb,
        patch=8,
        clusters=1024,
        samples=200_000,
        short_side=0,
        iterations=5,
        device=device,
        workers=4,
    )
    enc = encode_dataset(data["train"], cb, root / "store", workers=4, device=device)
    cfg = load_config(
        "tiny",
        [
            f"data.store={root / 'store'}",
            "data.decode_on=device",
            f"train.device={device}",
            f"train.max_steps={steps}",
            "data.num_workers=4",
            f"optim.batch_size={batch}",
        ],
    )
    run = pretrain(cfg, root / "run")
    last = json.loads(run.metrics.read_text().splitlines()[-1])
    return {
        "encode_frames_per_s": enc.frames_per_s,
        "steps": run.step,
        "loss": last["loss"],
        "clips_per_s": last["clips_per_s"],
        "ok": math.isfinite(last["loss"]),
    }


def loader_augment(out: Path, device: str, videos: int, workers: int, seconds: float) -> dict:
    """`vidrop bench loader` with views.augment=dino, the augmentations on the device: the
    paper's views of 240x240 synthetic videos from mp4 (PyAV) and from a k=1024 store, each
    loader alone, the augmentations alone, and both as training runs them (issue: the store
    loader stays >= 20x PyAV with the augmentations on)."""
    from vidrop.bench.loader import bench_loader
    from vidrop.compress.encode import encode_dataset
    from vidrop.compress.fit import fit_codebook
    from vidrop.data.synth import SynthSpec, make_dataset

    root = out / "loader_check"
    spec = SynthSpec(videos=videos, size=240, frames=64, val_fraction=0.0)
    data = make_dataset(root / "data", spec, workers=workers)
    fit_codebook(
        data["train"],
        root / "codebook",
        patch=10,
        clusters=1024,
        samples=200_000,
        short_side=0,
        iterations=8,
        device=device,
        workers=workers,
    )
    encode_dataset(data["train"], root / "codebook", root / "store", workers=workers, device=device)
    r = bench_loader(
        data["train"],
        str(root / "store"),
        config="vit_s",
        videos=64,
        batch=8,
        workers=workers,
        min_seconds=seconds,
        device=device,
        overrides=["views.augment=dino"],
    )
    names = ("pyav", "store", "pyav+augment", "store+augment")
    return {
        **{f"{n}_clips_per_s": r[n]["clips_per_s"] for n in names},
        "augment_clips_per_s": r["augment"]["clips_per_s"],
        "speedup": r["speedup"],
        "speedup_with_augment": r["speedup_with_augment"],
    }


def host_syncs(config: str, batch: int) -> dict:
    """Synchronising CUDA calls in one eager training step (torch.cuda.set_sync_debug_mode): each
    one stalls the host until the GPU catches up, so the host cannot queue the next work ahead."""
    import warnings

    from vidrop.bench.step import build_runner
    from vidrop.machine import sync_device

    cfg = load_config(config, [f"optim.batch_size={batch}"])
    device = torch.device("cuda")
    batches = build_runner(cfg, batch, device, 100)
    batches.run(50)
    sync_device(device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            batches.run(51)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    syncs = [w for w in caught if "synchroniz" in str(w.message)]
    where = sorted({f"{w.filename}:{w.lineno}" for w in syncs})
    return {"syncs_per_step": len(syncs), "where": where[:10]}


def sdpa_kernels(device: str, shapes: dict[str, tuple[int, int, int, int]], reps: int) -> dict:
    """Forward + backward of scaled_dot_product_attention at a step's shapes, per kernel (the
    `train.attention` choices), bf16: milliseconds, and each output's largest difference from the
    flash kernel's (same inputs), so a faster kernel is also shown to compute the same thing."""
    import torch.nn.functional as F

    from vidrop.models.layers import attention_backend

    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    out: dict = {}
    for where, shape in shapes.items():
        g = torch.Generator(device=device).manual_seed(0)
        q, k, v = (torch.randn(shape, generator=g, device=device, dtype=dtype) for _ in range(3))
        grad = torch.randn(shape, generator=g, device=device, dtype=dtype)
        ref = None
        for name in ("flash", "cudnn", "efficient"):
            qq, kk, vv = (t.detach().requires_grad_() for t in (q, k, v))
            try:
                with attention_backend(name):
                    o = F.scaled_dot_product_attention(qq, kk, vv)
                    o.backward(grad)
                    sync()
                    t = time.perf_counter()
                    for _ in range(reps):
                        o = F.scaled_dot_product_attention(qq, kk, vv)
                        o.backward(grad)
                    sync()
            except RuntimeError as exc:  # a kernel that cannot run this shape or card
                out[f"{where}_{name}"] = f"{type(exc).__name__}: {str(exc)[:100]}"
                continue
            entry = {"ms": (time.perf_counter() - t) / reps * 1000}
            if ref is None:
                ref = o.detach().float()
            entry["max_abs_diff_vs_flash"] = float((o.detach().float() - ref).abs().max())
            out[f"{where}_{name}"] = entry
    return out


def step_anatomy(out: Path, config: str, batch: int, overrides: list[str], tag: str) -> dict:
    """Where a step's wall time goes: back-to-back steps timed by the host (until each call
    returns: the host's own cost when nothing makes it wait) and by CUDA events (the GPU's
    span, idle gaps included); one step under torch.profiler: its kernel time (the GPU's busy
    time), the ops by GPU time (profile_<tag>.txt) and by self CPU time (profile_<tag>_cpu.txt),
    Dynamo's graph counts (did compiled code run?); and the Python stack of the first
    synchronising call (sync debug mode 'error' raises there)."""
    import traceback as tb

    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    from vidrop.bench.step import build_runner
    from vidrop.machine import sync_device

    torch._dynamo.reset()  # compiled graphs bake in the SDPA kernel: never reuse another run's
    cfg = load_config(config, [f"optim.batch_size={batch}", *overrides])
    device = resolve_device(cfg.train.device)
    cuda = device.type == "cuda"
    batches = build_runner(cfg, batch, device, 100)
    for i in range(3):
        batches.run(50 + i)
    sync_device(device)
    n = 6
    host: list[float] = []
    if cuda:
        start, end = (torch.cuda.Event(enable_timing=True) for _ in range(2))
        start.record()
    t0 = time.perf_counter()
    for i in range(n):
        t = time.perf_counter()
        batches.run(53 + i)
        host.append(time.perf_counter() - t)
    if cuda:
        end.record()
    sync_device(device)
    wall = (time.perf_counter() - t0) / n
    gpu_span = start.elapsed_time(end) / 1000 / n if cuda else wall
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=acts) as prof:
        batches.run(60)
        sync_device(device)
    events = prof.key_averages()
    # kernels only, as torch's own table totals them (an op's entry repeats its kernels' time)
    kernel_s = (
        sum(
            e.self_device_time_total
            for e in events
            if e.device_type != DeviceType.CPU and not e.is_user_annotation
        )
        / 1e6
    )
    for sort_by, suffix in (("self_cpu_time_total", "_cpu"), ("self_device_time_total", "")):
        table = events.table(sort_by=sort_by, row_limit=40)
        (out / f"profile_{tag}{suffix}.txt").write_text(table)
    print(table)
    from torch._dynamo.utils import counters

    dynamo = {k: dict(v) for k, v in counters.items() if k in ("frames", "stats", "graph_break")}
    stack = None
    if cuda:
        torch.cuda.set_sync_debug_mode("error")
        try:
            batches.run(61)
        except RuntimeError:
            stack = tb.format_exc().splitlines()[-14:]
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return {
        "tag": tag,
        "batch": batch,
        "wall_s_per_step": wall,
        "samples_per_s": batch / wall,
        "host_s_per_step": sorted(host)[n // 2],
        "gpu_span_s_per_step": gpu_span,
        "gpu_kernel_s_one_step": kernel_s,
        "first_sync_stack": stack,
        "dynamo": dynamo,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--budget-s", type=float, default=480, help="start no section after this")
    ap.add_argument("--only", default="", help="comma-separated section names to run")
    ap.add_argument("--demo", action="store_true", help="also run `vidrop demo` on the GPU")
    ap.add_argument("--smoke", action="store_true", help="CPU dry run of this script, tiny sizes")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    smoke = args.smoke
    device = "cpu" if smoke else "cuda"
    results: dict = {"command": command_line(), "machine": describe_machine(device)}
    print(results["machine"])
    t_start = time.perf_counter()
    only = {x for x in args.only.split(",") if x}

    def section(name: str, fn) -> None:
        if only and name not in only:
            return
        if time.perf_counter() - t_start > args.budget_s:
            results[name] = {"skipped": f"past --budget-s {args.budget_s:.0f}", "wall_s": 0.0}
            print(f"== {name}: skipped (time budget)")
            return
        t = time.perf_counter()
        try:
            results[name] = fn()
        except Exception as exc:  # record and go on: one call must report everything it can
            error = f"{type(exc).__name__}: {exc}"
            results[name] = {"error": error, "trace": traceback.format_exc()}
            print(results[name]["trace"])
        results[name]["wall_s"] = time.perf_counter() - t
        shown = {k: v for k, v in results[name].items() if k != "trace"}
        print(f"== {name}: {json.dumps(shown, default=str)[:600]}", flush=True)
        # written after every section: a run cut short still leaves what it measured
        (out / "gpu_check.json").write_text(json.dumps(results, indent=2, default=str))
        if device == "cuda":
            torch.cuda.empty_cache()

    from vidrop.bench.train import bench_train

    # in order of what matters most, so a short lease loses the least
    if smoke:
        tiny = [
            "views.small_clips=2",
            "train.device=cpu",
            "head.prototypes=64",
            "head.patch_prototypes=64",
        ]
        batches = {"vidrop": 2, "dense": 2, "videomae": 2}
        section(
            "bench_train_vit_b",
            lambda: bench_train("tiny", batch=batches, steps=1, warmup=1, overrides=tiny),
        )
        section("decode_rates", lambda: decode_rates(out, 24, (64,)))
        section("eval_path", lambda: eval_path(out, device, 48))
        section("compress_encode", lambda: compress_encode_rate(device, 256, 4, (40, 60)))
        section("sdpa_kernels", lambda: sdpa_kernels(device, {"tiny": (2, 3, 17, 64)}, 1))
        section("anatomy_eager", lambda: step_anatomy(out, "tiny", 2, tiny, "eager"))
        section("compress_fit", lambda: compress_fit_rate(device, 64, 5000, 20))
        section("bf16_agreement", lambda: bf16_agreement("tiny", device))
        compiled = [*tiny, "train.compile=true"]
        one = {"steps": 1, "warmup": 1, "overrides": compiled}
        section("vit_b_compiled", lambda: bench_train("tiny", ("vidrop",), 2, **one))
        section("store_training", lambda: store_training(out, device, 24, 3, 8))
        section("loader_augment", lambda: loader_augment(out, device, 24, 2, 0.0))
        rope = [*tiny, "model.pos_embed=rope3d"]
        section(
            "rope3d", lambda: bench_train("tiny", ("vidrop",), 2, steps=1, warmup=1, overrides=rope)
        )
    else:
        batches = {"vidrop": 64, "dense": 16, "videomae": 128}
        compiled = ["train.compile=true"]
        # VideoMAE one clip a sample, as its own loader gives and the README's speed table shows
        one_clip = ["videomae:views.large_clips=1"]
        section(
            "bench_train_vit_b",
            lambda: bench_train("vit_b", batch=batches, steps=5, warmup=3, overrides=one_clip),
        )
        section("host_syncs", lambda: host_syncs("vit_s", 8))
        # ViT-B, batch 64: teacher 128 clips x 1569 tokens, student kept 128 x 236, small 512 x 145
        shapes = {
            "teacher": (128, 12, 1569, 64),
            "student_large": (128, 12, 236, 64),
            "student_small": (512, 12, 145, 64),
        }
        section("sdpa_kernels", lambda: sdpa_kernels(device, shapes, 10))
        cudnn = [*compiled, "train.attention=cudnn"]
        anatomies = {
            "eager": [],
            "eager_cudnn": cudnn[1:],
            "compiled": compiled,
            "compiled_cudnn": cudnn,
        }
        for tag, extra in anatomies.items():
            section(f"anatomy_{tag}", lambda t=tag, e=extra: step_anatomy(out, "vit_b", 64, e, t))
        section("compress_encode", lambda: compress_encode_rate(device, 65536, 256, (240, 320)))
        section("store_training", lambda: store_training(out, device, 96, 50, 32))
        section("loader_augment", lambda: loader_augment(out, device, 48, 8, 10.0))
        section(  # V-JEPA 2's rotary positions: bf16, compiled, beside the learned table above
            "rope3d",
            lambda: bench_train(
                "vit_b",
                ("vidrop",),
                64,
                steps=5,
                warmup=3,
                overrides=[*compiled, "model.pos_embed=rope3d"],
            ),
        )
        section("bf16_agreement", lambda: bf16_agreement("vit_s", device))
        section(
            "bench_train_vit_b_compiled",
            lambda: bench_train(
                "vit_b", batch=batches, steps=5, warmup=3, overrides=[*compiled, *one_clip]
            ),
        )
        section(  # each compiled method starts from a clean Dynamo state (bench train)
            "bench_train_vit_b_compiled_cudnn",
            lambda: bench_train(
                "vit_b", batch=batches, steps=5, warmup=3, overrides=[*cudnn, *one_clip]
            ),
        )
        section(
            "largest_batch_24gib",
            lambda: bench_train("vit_b", ("vidrop",), "auto", steps=3, warmup=2),
        )
        section("compress_fit", lambda: compress_fit_rate(device, 65536, 2_500_000, 20))
        section("decode_rates", lambda: decode_rates(out, 96, (64, 224)))
        section("eval_path", lambda: eval_path(out, device, 360))
    if args.demo:
        from vidrop.demo import run_demo

        extra = ["train.max_steps=3", "data.num_workers=0"] if smoke else ["data.num_workers=8"]
        size = {"videos": 84} if smoke else {}  # smoke: 3 training videos a class; else the demo's
        section("demo_on_gpu", lambda: run_demo(out / "demo", overrides=extra, **size))

    print(f"\ncommand: {results['command']}\nmachine: {results['machine']}")
    print("\n| check | result | wall s |\n|---|---|---|")
    for name, r in results.items():
        if name not in ("command", "machine"):
            print(f"| {name} | {summarize(r)} | {r['wall_s']:.0f} |")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def summarize(r: dict) -> str:
    if "error" in r:
        return "ERROR " + r["error"][:80]
    if "skipped" in r:
        return "skipped: " + r["skipped"]
    if "loss_rel_diff" in r:
        return (
            f"loss rel {r['loss_rel_diff']:.1e}, grad rel {r['grad_rel_diff']:.1e}, "
            f"grad cos {r['grad_cosine']:.4f}, ok={r['ok']}"
        )
    listed = isinstance(r.get("results"), list) and r["results"]
    if listed and r["results"][0].get("largest_batch_in_budget"):
        x = r["results"][0]
        return (
            f"largest ViT-B batch in 24 GiB: {x['largest_batch_in_budget']}, "
            f"{x['samples_per_s']:.1f} samples/s"
        )
    if listed:
        parts = [
            f"{x['method']} {x['samples_per_s']:.1f}/s (b{x['batch']}, MFU {_pct(x['mfu'])})"
            for x in r["results"]
        ]
        ratios = ", ".join(f"{k} {v:.2f}x" for k, v in r.get("ratios", {}).items())
        return ", ".join(parts) + (f"; {ratios}" if ratios else "")
    if "fused_frames_per_s" in r or "torch_frames_per_s" in r:
        rates = ", ".join(
            f"{n} {r[f'{n}_frames_per_s']:.0f}"
            for n in ("fused", "torch")
            if f"{n}_frames_per_s" in r
        )
        agree = r.get("codes_equal_fraction")
        agree = f", codes equal {agree:.6f}" if agree is not None else ""
        return f"frames/s {rates} ({r['size'][0]}x{r['size'][1]}, k={r['k']}){agree}"
    if "s_per_iteration" in r:
        return (
            f"k-means k={r['k']} on {r['samples']} patches: {r['seconds']:.0f} s for "
            f"{r['iterations']} iterations ({r['s_per_iteration']:.1f} s each)"
        )
    if "speedup_with_augment" in r:
        return (
            f"store / PyAV {r['speedup']:.1f}x alone, {r['speedup_with_augment']:.1f}x with "
            f"the augmentations ({r['augment_clips_per_s']:.0f} clips/s alone on the device)"
        )
    if "encode_frames_per_s" in r:
        return f"store -> device decode: {r['clips_per_s']:.0f} clips/s, loss {r['loss']:.3f}"
    if any(k.endswith("_flash") for k in r):
        return ", ".join(
            f"{k} {v['ms']:.2f} ms" if isinstance(v, dict) else f"{k} failed"
            for k, v in r.items()
            if k != "wall_s"
        )
    if "host_s_per_step" in r:
        return (
            f"{r['samples_per_s']:.1f} samples/s: wall {r['wall_s_per_step'] * 1e3:.0f} ms, host "
            f"{r['host_s_per_step'] * 1e3:.0f} ms, GPU span {r['gpu_span_s_per_step'] * 1e3:.0f}"
            f" ms, kernels {r['gpu_kernel_s_one_step'] * 1e3:.0f} ms"
        )
    if "propagation_s_per_video" in r:
        rates = ", ".join(
            f"{k.split('_')[4]} workers {v:.0f}"
            for k, v in r.items()
            if k.startswith("extract_videos_per_s")
        )
        return (
            f"extract videos/s: {rates}; propagation "
            f"{r['propagation_s_per_video'] * 1e3:.0f} ms/video"
        )
    if any(k.endswith("px") for k in r):
        return "; ".join(
            f"{k}: "
            + ", ".join(f"{n[:-13]} {x:.0f}" for n, x in v.items() if n.endswith("_per_s"))
            + f" frames/s, equal {all(x for n, x in v.items() if n.endswith('_equal'))}"
            for k, v in r.items()
            if k.endswith("px")
        )
    if "syncs_per_step" in r:
        return f"{r['syncs_per_step']} host syncs per step: {', '.join(r['where'])[:120]}"
    if "timings" in r:
        ours, rnd = r["results"]["vidrop"], r["results"]["random_init"]
        scores = ", ".join(
            f"{m} {ours[m]:.1f} vs {rnd[m]:.1f}" for m in ("kNN k=20", "linear", "J&F")
        )
        t = r["timings"]
        return f"{scores}; pretrain {t['pretrain_s']:.0f}s, eval all {t['eval_s']:.0f}s"
    return str(r)[:80]


if __name__ == "__main__":
    main()
