"""`vidrop bench step | train | loader`: measured speed; each prints its command, the machine
and its figures, and writes them to --json."""

from __future__ import annotations

import argparse

from vidrop.cli.common import command, group, overrides_argument
from vidrop.config import METHODS


def cmd_step(args: argparse.Namespace) -> None:
    from vidrop.bench.step import bench_step

    bench_step(
        args.config,
        args.batch_size,
        steps=args.steps,
        warmup=args.warmup,
        json_out=args.json,
        overrides=args.overrides,
    )


def cmd_train(args: argparse.Namespace) -> None:
    from vidrop.bench.train import bench_train, parse_batch

    bench_train(
        args.config,
        tuple(args.methods.split(",")),
        parse_batch(args.batch_size),
        steps=args.steps,
        warmup=args.warmup,
        budget_gib=args.budget_gib,
        json_path=args.json,
        overrides=args.overrides,
    )


def cmd_loader(args: argparse.Namespace) -> None:
    from vidrop.bench.loader import bench_loader

    bench_loader(
        args.data,
        args.store,
        config=args.config,
        videos=args.videos,
        batch=args.batch_size,
        workers=args.workers,
        json_path=args.json,
        overrides=args.overrides,
        min_seconds=args.min_seconds,
        device=args.device,
    )


def register(sub: argparse._SubParsersAction) -> None:
    b = group(sub, "bench", "speed: training steps, methods side by side, data loading")
    s = command(b, "step", "time full training steps on device-resident random views", cmd_step)
    s.add_argument("--config", default="vit_s", help="recipe name or YAML path")
    s.add_argument("--batch-size", type=int, default=1, help="videos per step")
    s.add_argument("--steps", type=int, default=5, help="steps timed")
    s.add_argument("--warmup", type=int, default=2, help="steps run before timing")
    s.add_argument("--json", help="write the measurements to this JSON file")
    overrides_argument(s, "the recipe")
    t = command(b, "train", "samples/s of vidrop, dense and VideoMAE training steps", cmd_train)
    t.add_argument("--config", default="vit_b", help="recipe (model size and views)")
    t.add_argument("--methods", default=",".join(METHODS), help="comma-separated")
    t.add_argument(
        "--batch-size",
        default="32",
        help="videos per step, auto (largest that fits), or per method: vidrop=64,videomae=128",
    )
    t.add_argument("--budget-gib", type=float, default=24.0, help="memory budget of auto, GiB")
    t.add_argument("--steps", type=int, default=5, help="steps per timed window")
    t.add_argument("--warmup", type=int, default=3, help="steps run before timing")
    t.add_argument("--json", help="write the measurements to this JSON file")
    overrides_argument(t, "the recipe (every method's)")
    lo = command(b, "loader", "clips/s of full views: mp4 via PyAV vs a code store", cmd_loader)
    lo.add_argument("--data", required=True, help="the manifest the store was encoded from")
    lo.add_argument("--store", required=True, help="code store folder")
    lo.add_argument("--config", default="vit_s", help="recipe whose views to build")
    lo.add_argument("--videos", type=int, default=32, help="videos timed per loader, at least")
    lo.add_argument(
        "--min-seconds", type=float, default=10.0, help="seconds each loader is timed, at least"
    )
    lo.add_argument("--batch-size", type=int, default=8, help="videos per batch")
    lo.add_argument("--workers", type=int, default=2, help="loader workers (the same for both)")
    lo.add_argument(
        "--device", default="auto", help="where views.augment=dino runs, as in training (auto)"
    )
    lo.add_argument("--json", help="write the measurements to this JSON file")
    overrides_argument(lo, "the views")
