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
from pathlib import Path

import torch

from vidrop.bench.step import bench_step
from vidrop.config import load_config
from vidrop.data.views import normalize
from vidrop.machine import command_line, describe_machine
from vidrop.train.meta_arch import ViDROP
from vidrop.train.step import token_plan


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
    keep, masks = token_plan(cfg, v.large_clips * b, step=0, rank=0)
    keep, masks = keep.to(device), masks.to(device)
    out = {}
    for name, enabled in (("fp32", False), ("bf16", True)):
        model.zero_grad(set_to_none=True)
        torch.manual_seed(1)
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=enabled):
            terms = model(normalize(large), normalize(small), keep, masks, 0.07)
        terms.loss.backward()
        grad = torch.cat([p.grad.flatten().float() for p in model.student.parameters()])
        out[name] = (float(terms.loss), grad)
    g32, g16 = out["fp32"][1], out["bf16"][1]
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
    """Codes assigned per second on frames already on the device (the codebook search alone)."""
    from vidrop.compress.codebook import Codebook, CodebookMeta

    g = torch.Generator().manual_seed(0)
    cb = Codebook(
        torch.randint(0, 256, (k, 300), generator=g).float(), CodebookMeta(10, k, size[0])
    ).to(device)
    x = torch.randint(0, 256, (frames, *size, 3), dtype=torch.uint8, generator=g).to(device)
    cb.encode(x[:2])  # warm-up
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    sync()
    t = time.perf_counter()
    codes = cb.encode(x)
    sync()
    dt = time.perf_counter() - t
    return {"k": k, "frames": frames, "size": list(size), "seconds": dt,
            "frames_per_s": frames / dt, "codes_max": int(codes.max())}  # fmt: skip


def compress_fit_rate(device: str, k: int, samples: int, iterations: int) -> dict:
    """k-means on `samples` patches of smooth random images: seconds per Lloyd iteration."""
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
    r = kmeans(x, k, iterations=iterations, seed=0, tol=0.0)
    sync()
    dt = time.perf_counter() - t
    return {"k": k, "samples": len(x), "iterations": r.iterations, "seconds": dt,
            "s_per_iteration": dt / r.iterations, "inertia": r.inertia}  # fmt: skip


def store_training(out: Path, train_csv: str, device: str, steps: int) -> dict:
    """Codebook fit + encode of the demo videos on the device, then tiny pretraining steps from
    the store with the lookup on the device (data.decode_on=device): the GPU data path."""
    from vidrop.compress.encode import encode_dataset
    from vidrop.compress.fit import fit_codebook
    from vidrop.train.loop import pretrain

    cb = out / "store_check" / "codebook"
    fit_codebook(train_csv, cb, patch=8, clusters=1024, samples=200_000, short_side=0,
                 iterations=5, device=device, workers=4)  # fmt: skip
    enc = encode_dataset(train_csv, cb, out / "store_check" / "store", workers=4, device=device)
    cfg = load_config("tiny", [f"data.store={out / 'store_check' / 'store'}",
                               "data.decode_on=device", f"train.device={device}",
                               f"train.max_steps={steps}", "data.num_workers=4"])  # fmt: skip
    run = pretrain(cfg, out / "store_check" / "run")
    last = json.loads(run.metrics.read_text().splitlines()[-1])
    return {"encode_frames_per_s": enc.frames_per_s, "steps": run.step, "loss": last["loss"],
            "clips_per_s": last["clips_per_s"], "ok": math.isfinite(last["loss"])}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--skip-demo", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="CPU dry run of this script, tiny sizes")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = "cpu" if args.smoke else "cuda"
    results: dict = {"command": command_line(), "machine": describe_machine(device)}
    print(results["machine"])

    def section(name: str, fn) -> None:
        t = time.perf_counter()
        try:
            results[name] = fn()
        except Exception as exc:  # record and go on: one call must report everything it can
            error = f"{type(exc).__name__}: {exc}"
            results[name] = {"error": error, "trace": traceback.format_exc()}
            print(results[name]["trace"])
        results[name]["wall_s"] = time.perf_counter() - t
        shown = {k: v for k, v in results[name].items() if k != "trace"}
        print(f"== {name}: {json.dumps(shown, default=str)[:600]}")
        if device == "cuda":
            torch.cuda.empty_cache()

    section("bf16_agreement", lambda: bf16_agreement("tiny" if args.smoke else "vit_s", device))
    benches = [
        ("vit_s_b32_eager", "vit_s", 32, []),
        ("vit_b_b32_eager", "vit_b", 32, []),
        ("vit_b_b32_compile", "vit_b", 32, ["train.compile=true"]),
        ("vit_b_b16_dense", "vit_b", 16, ["mask.drop_ratio=0.0"]),
    ]
    if args.smoke:
        benches = [(n, "tiny", 2, [*e, "train.device=cpu"]) for n, _, _, e in benches[2:]]
    for name, config, batch, extra in benches:
        warmup = 3 if "compile" in name else 2
        section(name, lambda c=config, b=batch, e=extra, w=warmup: bench_step(c, b, 5, w, None, e))
    from vidrop.bench.train import bench_train

    if args.smoke:
        tiny = ["views.small_clips=2", "train.device=cpu", "head.prototypes=64"]
        section("bench_train", lambda: bench_train("tiny", batch=2, steps=1, warmup=1,
                                                   overrides=tiny))  # fmt: skip
    else:
        section("bench_train_vit_b", lambda: bench_train("vit_b", batch=32, steps=5, warmup=3))
        section("largest_batch_24gib", lambda: bench_train("vit_b", ("vidrop",), "auto", 3, 2))
    if args.smoke:
        section("compress_encode", lambda: compress_encode_rate(device, 256, 4, (40, 60)))
        section("compress_fit", lambda: compress_fit_rate(device, 64, 5000, 2))
    else:
        section("compress_encode", lambda: compress_encode_rate(device, 65536, 256, (240, 320)))
        section("compress_fit", lambda: compress_fit_rate(device, 65536, 2_500_000, 3))
    if not args.skip_demo:
        from vidrop.demo import run_demo

        smoke = ["train.max_steps=3", "data.num_workers=0"]
        extra = smoke if args.smoke else ["data.num_workers=8"]
        videos = 48 if args.smoke else 720
        section("demo_on_gpu", lambda: run_demo(out / "demo", videos=videos, overrides=extra))
        train_csv = str(out / "demo" / "data" / "train.csv")
        section(
            "store_training",
            lambda: store_training(out, train_csv, device, 3 if args.smoke else 100),
        )

    (out / "gpu_check.json").write_text(json.dumps(results, indent=2, default=str))
    print("\n| check | result | wall s |\n|---|---|---|")
    for name, r in results.items():
        if name not in ("command", "machine"):
            print(f"| {name} | {summarize(r)} | {r['wall_s']:.0f} |")


def summarize(r: dict) -> str:
    if "error" in r:
        return "ERROR " + r["error"][:80]
    if "videos_per_s" in r:
        peak = f"{r['peak_mem_gib']:.1f} GiB" if r["peak_mem_gib"] is not None else "-"
        step_ms = r["step_s_median"] * 1000
        rate = f"{r['videos_per_s']:.1f} videos/s"
        return f"{rate}, step {step_ms:.0f} ms, peak {peak}, {r['precision']}"
    if "loss_rel_diff" in r:
        return (
            f"loss rel {r['loss_rel_diff']:.1e}, grad rel {r['grad_rel_diff']:.1e}, "
            f"grad cos {r['grad_cosine']:.4f}, ok={r['ok']}"
        )
    if "results" in r and "ratios" in r:
        parts = [f"{x['method']} {x['samples_per_s']:.1f}/s (b{x['batch']})" for x in r["results"]]
        return ", ".join(parts) + "; " + ", ".join(f"{k} {v:.2f}x" for k, v in r["ratios"].items())
    listed = isinstance(r.get("results"), list) and r["results"]
    if listed and "largest_batch_in_budget" in r["results"][0]:
        x = r["results"][0]
        best = x["largest_batch_in_budget"]
        return f"largest ViT-B batch in 24 GiB: {best}, {x['samples_per_s']:.1f} samples/s"
    if "frames_per_s" in r:
        return f"{r['frames_per_s']:.0f} frames/s ({r['size'][0]}x{r['size'][1]}, k={r['k']})"
    if "s_per_iteration" in r:
        return (
            f"k-means k={r['k']} on {r['samples']} patches: {r['s_per_iteration']:.1f} s per "
            f"iteration ({r['iterations']} run)"
        )
    if "encode_frames_per_s" in r:
        return f"store -> device decode: {r['clips_per_s']:.0f} clips/s, loss {r['loss']:.3f}"
    if "results" in r:
        ours, rnd = r["results"]["vidrop"], r["results"]["random_init"]
        scores = ", ".join(
            f"{m} {ours[m]:.1f} vs {rnd[m]:.1f}" for m in ("kNN k=20", "linear", "J&F")
        )
        t = r["timings"]
        return f"{scores}; pretrain {t['pretrain_s']:.0f}s, eval all {t['eval_s']:.0f}s"
    return str(r)[:80]


if __name__ == "__main__":
    main()
