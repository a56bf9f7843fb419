"""The `vidrop` command: parses arguments and calls one function per subcommand."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from rich.logging import RichHandler

from vidrop.compress.cli import add_parser as add_compress_parser
from vidrop.eval.cli import add_parsers as add_eval_parsers
from vidrop.machine import command_line
from vidrop.progress import console


def _user_errors() -> tuple[type[Exception], ...]:
    from vidrop.atomic import WriteError
    from vidrop.compress.store import StoreError
    from vidrop.config import ConfigError
    from vidrop.data.dataset import TooManyBrokenVideos
    from vidrop.data.manifest import ManifestError
    from vidrop.data.video import VideoError
    from vidrop.eval.errors import EvalError
    from vidrop.train.checkpoint import CheckpointError

    return (
        ConfigError,
        ManifestError,
        VideoError,
        CheckpointError,
        TooManyBrokenVideos,
        StoreError,
        EvalError,
        FileNotFoundError,
        FileExistsError,
        WriteError,
    )


def cmd_demo(args: argparse.Namespace) -> None:
    from vidrop.demo import run_demo

    videos = {} if args.videos is None else {"videos": args.videos}
    run_demo(args.out, seed=args.seed, overrides=args.overrides, command=command_line(), **videos)


def cmd_synth(args: argparse.Namespace) -> None:
    from vidrop.data.synth import SynthSpec, make_dataset
    from vidrop.progress import ProgressBar

    spec = SynthSpec(videos=args.videos, seed=args.seed, size=args.size, frames=args.frames)
    try:
        spec.check()
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from exc
    with ProgressBar(args.videos, "synth data", unit="video") as bar:
        paths = make_dataset(
            args.out, spec, progress=lambda done, total: bar.update(done - bar.done)
        )
    console.print(f"wrote {args.videos} videos; manifests: {paths['train']} {paths['val']}")


def cmd_copies(args: argparse.Namespace) -> None:
    from vidrop.data.copies import make_copies
    from vidrop.data.manifest import read_manifest

    distractors = read_manifest(args.distractors) if args.distractors else None
    made = make_copies(read_manifest(args.data), args.out, args.seed, None, distractors)
    lost = len(made.skipped)
    listed = f"; {lost} unreadable videos skipped, listed in {Path(args.out) / 'skipped.txt'}"
    console.print(f"{made.written} copies -> {made.queries}" + (listed if lost else ""))


def cmd_pretrain(args: argparse.Namespace) -> None:
    from vidrop.config import load_config
    from vidrop.train.loop import pretrain

    overrides = [*args.overrides, *([f"train.init={args.init}"] if args.init else [])]
    cfg = load_config(args.config, overrides)
    if args.print_config:
        import os

        import yaml

        from vidrop.train.inputs import count_training_videos
        from vidrop.train.sizing import size_run

        print(yaml.safe_dump(cfg.to_dict(), sort_keys=False), end="")
        videos, world = count_training_videos(cfg), int(os.environ.get("WORLD_SIZE", "1"))
        print(f"# {size_run(cfg.optim, videos, world).describe()}")
        return
    from vidrop import dist

    try:
        result = pretrain(cfg, args.out)
        main_process = dist.is_main()
    finally:
        dist.shutdown()
    if main_process:
        console.print(f"done at step {result.step}; backbone export: {result.export}")


def cmd_manifest(args: argparse.Namespace) -> None:
    from vidrop.data import benchmarks as b

    def need(*names: str) -> None:
        missing = [f"--{n.replace('_', '-')}" for n in names if not getattr(args, n)]
        if missing:
            raise SystemExit(f"error: --format {args.format} needs {' '.join(missing)}")

    if args.format == "kinetics":
        need("csv", "root")
        m = b.read_kinetics(args.csv, args.root)
    elif args.format == "ssv2":
        need("labels", "split_file", "root")
        m = b.read_ssv2(args.labels, args.split_file, args.root, args.allow_missing)
    elif args.format == "ucf101":
        need("split_file", "labels", "root")
        m = b.read_ucf101(args.split_file, args.labels, args.root, args.allow_missing)
    elif args.format == "hmdb51":
        need("split_file", "root")
        m = b.read_hmdb51(args.split_file, args.root, args.split, args.subset, args.allow_missing)
    else:
        need("root")
        m = b.read_folders(args.root)
    out = b.write_manifest(m, args.out)
    console.print(f"{len(m)} videos, {len(m.class_names)} classes -> {out}")


def cmd_export(args: argparse.Namespace) -> None:
    from vidrop.models.export import ExportError, export_hf_videomae, save_backbone
    from vidrop.models.load import load_backbone

    backbone, meta = load_backbone(args.checkpoint, part=args.part)
    if args.format == "hf-videomae":
        try:
            out = export_hf_videomae(backbone, args.out, meta.get("eval"))
        except ExportError as exc:
            raise SystemExit(f"error: {exc}") from exc
    else:
        extra = {"source": meta.get("source", args.checkpoint)}
        if "eval" in meta:
            extra["eval"] = meta["eval"]
        out = save_backbone(args.out, backbone, extra)
    console.print(f"exported the {meta['format']} backbone of {args.checkpoint} to {out}")


def cmd_expand(args: argparse.Namespace) -> None:
    from vidrop.train.expand import expand_run

    out = expand_run(
        args.checkpoint, args.to, args.out, args.seed, args.config, args.overrides, args.epochs
    )
    console.print(
        f"grown model in {out}; train it with: vidrop pretrain --config {out}/config.yaml "
        f"--out {out}"
    )


def cmd_compare(args: argparse.Namespace) -> None:
    from vidrop.compare import Budget, CompareSpec, run_compare
    from vidrop.compare.synth import synth_setup

    given = [(k, v) for k, v in (("seconds", args.budget_s), ("tflop", args.budget_tflop),
                                 ("steps", args.steps)) if v]  # fmt: skip
    if len(given) > 1:
        raise SystemExit("error: give one of --budget-s, --budget-tflop, --steps")
    out = Path(args.out)
    if args.synth:  # beside the runs, so comparisons that share runs share the data too
        data = Path(args.runs) / "synth-data" if args.runs else out / "data"
        train, val, suite, clips = synth_setup(data)
    elif args.data and args.val:
        from vidrop.eval.settings import SuiteConfig

        train, val, clips = args.data, args.val, args.clips
        suite = SuiteConfig(copies=args.copies or "")
    else:
        raise SystemExit("error: give --data TRAIN.csv and --val VAL.csv, or --synth")
    if args.no_attentive:
        from dataclasses import replace

        suite = replace(suite, attentive=None)
    spec = CompareSpec(
        train=train, val=val, out=out,
        methods=tuple(m.strip() for m in args.methods.split(",") if m.strip()),
        budget=Budget(*given[0]) if given else None, match=args.match, recipe=args.config,
        overrides=args.overrides, seeds=tuple(int(s) for s in args.seeds.split(",")),
        curve=args.curve, lr_grid=tuple(float(f) for f in args.lr_grid.split(",") if f),
        clips=clips, crops=args.crops, suite=suite, runs=Path(args.runs) if args.runs else None,
        command=command_line(),
    )  # fmt: skip
    run_compare(spec)
    print((out / "compare.md").read_text())  # results on stdout, unwrapped
    console.print(f"wrote {out}/compare.json, compare.md and compare.png")


def cmd_bench_train(args: argparse.Namespace) -> None:
    from vidrop.bench.train import bench_train, parse_batch

    batch = parse_batch(args.batch)
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    bench_train(
        args.config, methods, batch, args.steps, args.warmup, args.budget_gib, args.json,
        args.overrides,
    )  # fmt: skip


def cmd_bench_step(args: argparse.Namespace) -> None:
    from vidrop.bench.step import bench_step

    bench_step(args.config, args.batch, args.steps, args.warmup, args.json, args.overrides)


def cmd_bench_loader(args: argparse.Namespace) -> None:
    from vidrop.bench.loader import bench_loader

    bench_loader(
        args.data,
        args.store,
        args.config,
        args.videos,
        args.batch,
        args.workers,
        0,
        args.json,
        args.overrides,
        args.min_seconds,
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vidrop", description="ViDROP: self-supervised video ViTs with token dropping."
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="synthetic data -> tiny pretraining -> kNN vs random init")
    d.add_argument("--out", default="vidrop-demo", help="output folder (default: vidrop-demo)")
    d.add_argument(
        "--videos", type=int, default=None,
        help="synthetic videos, 3 of every 7 for training (default: 1260: 540 train, 720 val)",
    )  # fmt: skip
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("overrides", nargs="*", help="config overrides for the tiny recipe, key=value")
    d.set_defaults(func=cmd_demo)

    data = sub.add_parser("data", help="datasets").add_subparsers(
        dest="data_command", required=True
    )
    s = data.add_parser("synth", help="write the embedded synthetic dataset (mp4 + manifests)")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--videos", type=int, default=720)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--size", type=int, default=64, help="frame side in pixels (even)")
    s.add_argument("--frames", type=int, default=32, help="frames per video")
    s.set_defaults(func=cmd_synth)
    cp = data.add_parser("copies", help="edited copies of videos: copy-detection queries")
    cp.add_argument("--data", required=True, help="manifest of the originals (the database)")
    cp.add_argument("--out", required=True, help="output folder (videos/, queries.csv)")
    cp.add_argument("--distractors", help="manifest of videos NOT in the database to copy too")
    cp.add_argument("--seed", type=int, default=0)
    cp.set_defaults(func=cmd_copies)
    mf = data.add_parser("manifest", help="a vidrop CSV from a benchmark's own label files")
    mf.add_argument(
        "--format", required=True, choices=["kinetics", "ssv2", "ucf101", "hmdb51", "folders"]
    )
    mf.add_argument("--root", help="folder of the videos")
    mf.add_argument("--csv", help="kinetics: the split's CSV (label,youtube_id,time_start,...)")
    mf.add_argument(
        "--split-file",
        help="ssv2: train.json/validation.json; ucf101: trainlist01.txt/testlist01.txt; "
        "hmdb51: the folder of *_test_splitN.txt files",
    )
    mf.add_argument("--labels", help="ssv2: labels.json; ucf101: classInd.txt")
    mf.add_argument("--split", type=int, default=1, help="hmdb51: split 1, 2 or 3")
    mf.add_argument("--subset", default="train", choices=["train", "test"], help="hmdb51")
    mf.add_argument("--allow-missing", action="store_true", help="leave out missing videos")
    mf.add_argument("--out", required=True, help="output CSV (path,label)")
    mf.set_defaults(func=cmd_manifest)

    t = sub.add_parser("pretrain", help="ViDROP pretraining (resumes when --out holds a run)")
    t.add_argument("--config", required=True, help="recipe name (tiny, vit_s, ...) or YAML path")
    t.add_argument("--out", required=True, help="run folder")
    t.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    t.add_argument(
        "--init", help="start from these backbone weights (vidrop, VideoMAE, HF VideoMAE, V-JEPA)"
    )
    t.add_argument("overrides", nargs="*", help="section.key=value overrides")
    t.set_defaults(func=cmd_pretrain)

    cmp = sub.add_parser(
        "compare", help="ViDROP vs dense vs VideoMAE: same encoder, videos and compute, then eval"
    )
    cmp.add_argument("--data", help="manifest of the training videos (with labels, for eval)")
    cmp.add_argument("--val", help="labelled manifest of the val videos")
    cmp.add_argument("--synth", action="store_true", help="the demo's synthetic videos instead")
    cmp.add_argument("--out", required=True, help="output folder (resumes when run again)")
    cmp.add_argument("--methods", default="vidrop,dense,videomae", help="comma-separated")
    cmp.add_argument("--budget-s", type=float, help="training seconds per method")
    cmp.add_argument("--budget-tflop", type=float, help="counted training TFLOP per method")
    cmp.add_argument("--steps", type=int, help="optimizer steps per method")
    cmp.add_argument(
        "--match", default="seconds", choices=["seconds", "tflop"],
        help="without a budget: ViDROP trains its recipe, the others get its seconds or TFLOP",
    )  # fmt: skip
    cmp.add_argument("--config", default="tiny", help="ViDROP's recipe (the encoder and views)")
    cmp.add_argument("--seeds", default="0", help="training seeds, comma-separated")
    cmp.add_argument("--curve", type=int, default=0, help="kNN on val at K points per budget")
    cmp.add_argument(
        "--lr-grid", default="", help="factors of each method's lr tried on held-out train videos"
    )
    cmp.add_argument("--clips", type=int, default=1, help="test clips per video")
    cmp.add_argument("--crops", type=int, default=1, choices=[1, 3], help="test crops per clip")
    cmp.add_argument(
        "--copies", help="copy-detection queries of the val videos (vidrop data copies)"
    )
    cmp.add_argument("--runs", help="folder of the training runs (default OUT/runs; shareable)")
    cmp.add_argument("--no-attentive", action="store_true", help="skip the attentive probe")
    cmp.add_argument("overrides", nargs="*", help="section.key=value overrides of the recipe")
    cmp.set_defaults(func=cmd_compare)

    ev = sub.add_parser("eval", help="frozen-backbone evaluation").add_subparsers(
        dest="eval_command", required=True
    )
    add_eval_parsers(sub, ev)

    add_compress_parser(sub)

    x = sub.add_parser("export", help="backbone only, as a vidrop export or an HF VideoMAE folder")
    x.add_argument(
        "--checkpoint", required=True, help="RUN/checkpoint.pt, or any loadable backbone"
    )
    x.add_argument("--out", required=True, help="output folder")
    x.add_argument("--format", default="vidrop", choices=["vidrop", "hf-videomae"])
    x.add_argument("--part", default="teacher", choices=["teacher", "student"])
    x.set_defaults(func=cmd_export)

    e = sub.add_parser("expand", help="grow a trained model wider/deeper, losslessly (LEMON)")
    e.add_argument("--checkpoint", required=True, help="RUN/checkpoint.pt of the small model")
    e.add_argument("--to", required=True, help="target size: vit_b, vit_l, vit_h, ...")
    e.add_argument("--out", required=True, help="new run folder (checkpoint.pt + config.yaml)")
    e.add_argument("--seed", type=int, default=0, help="seed of the new units' random weights")
    e.add_argument(
        "--config", help="the stage's recipe (e.g. lemon_b): its settings but model, head, data"
    )
    e.add_argument(
        "--epochs", type=float, help="the stage's length in epochs; warmups keep their share"
    )
    e.add_argument("overrides", nargs="*", help="section.key=value overrides of the stage")
    e.set_defaults(func=cmd_expand)

    b = sub.add_parser("bench", help="benchmarks").add_subparsers(
        dest="bench_command", required=True
    )
    bs = b.add_parser("step", help="time full training steps on device-resident synthetic views")
    bs.add_argument("--config", default="vit_s", help="recipe name or YAML path")
    bs.add_argument("--batch", type=int, default=1, help="videos per step")
    bs.add_argument("--steps", type=int, default=5)
    bs.add_argument("--warmup", type=int, default=2)
    bs.add_argument("--json", help="write the measurements to this JSON file")
    bs.add_argument("overrides", nargs="*", help="section.key=value overrides")
    bs.set_defaults(func=cmd_bench_step)
    bt = b.add_parser("train", help="samples/s of vidrop, dense and VideoMAE training steps")
    bt.add_argument("--config", default="vit_b", help="recipe (model size and views)")
    bt.add_argument("--methods", default="vidrop,dense,videomae", help="comma-separated")
    bt.add_argument(
        "--batch",
        default="32",
        help="videos per step, auto (largest that fits), or per method: vidrop=64,videomae=128",
    )
    bt.add_argument("--budget-gib", type=float, default=24.0, help="memory budget for auto")
    bt.add_argument("--steps", type=int, default=5)
    bt.add_argument("--warmup", type=int, default=3)
    bt.add_argument("--json", help="write the measurements to this JSON file")
    bt.add_argument("overrides", nargs="*", help="section.key=value overrides")
    bt.set_defaults(func=cmd_bench_train)
    bl = b.add_parser("loader", help="clips/s of full ViDROP views: mp4 via PyAV vs a code store")
    bl.add_argument("--data", required=True, help="the manifest the store was encoded from")
    bl.add_argument("--store", required=True, help="code store folder")
    bl.add_argument(
        "--config", default="vit_s", help="recipe whose views to build (default: paper)"
    )
    bl.add_argument("--videos", type=int, default=32, help="videos timed per loader, at least")
    bl.add_argument(
        "--min-seconds", type=float, default=10.0, help="time each loader this long, at least"
    )
    bl.add_argument("--batch", type=int, default=8, help="videos per batch")
    bl.add_argument("--workers", type=int, default=2, help="loader workers (same for both)")
    bl.add_argument("--json", help="write the measurements to this JSON file")
    bl.add_argument("overrides", nargs="*", help="section.key=value overrides of the views")
    bl.set_defaults(func=cmd_bench_loader)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Rich on a terminal; plain unwrapped lines in logs and CI, where paths must stay whole.
    handler = (
        RichHandler(console=console, show_path=False, show_time=False)
        if console.is_terminal
        else logging.StreamHandler(sys.stderr)
    )
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(message)s" if console.is_terminal else "%(levelname)s %(message)s",
        handlers=[handler],
    )
    func: Callable[[argparse.Namespace], None] = args.func
    try:
        func(args)
    except _user_errors() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        console.print("interrupted; run the same command again to resume")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
