"""`vidrop compare`: ViDROP against the dense student and VideoMAE, the same encoder, videos and
compute, every backbone through the same frozen suite (vidrop.compare says how)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from vidrop.cli.common import (
    UserError,
    command,
    float_list,
    int_list,
    out_folder,
    overrides_argument,
    results,
)
from vidrop.machine import command_line
from vidrop.progress import console


def cmd_compare(args: argparse.Namespace) -> None:
    from vidrop.compare import Budget, CompareSpec, run_compare
    from vidrop.demo import demo_data
    from vidrop.eval.settings import SuiteConfig

    given = [
        (k, v)
        for k, v in (
            ("seconds", args.budget_s),
            ("tflop", args.budget_tflop),
            ("steps", args.steps),
        )
        if v
    ]
    if len(given) > 1:
        raise UserError("give one of --budget-s, --budget-tflop, --steps")
    out = out_folder(args.out)
    if args.synth:  # beside the runs, so comparisons that share runs share the data too
        demo = demo_data(Path(args.runs or out) / "synth-data")
        train, val, suite, clips = demo.train, demo.val, demo.suite, demo.clips
    elif args.data and args.val:
        train, val, clips, suite = (
            args.data,
            args.val,
            args.clips,
            SuiteConfig(copies=args.copies or ""),
        )
    else:
        raise UserError("give --data TRAIN.csv and --val VAL.csv, or --synth")
    suite = replace(suite, attentive=None) if args.no_attentive else suite
    spec = CompareSpec(
        train=train,
        val=val,
        out=out,
        methods=tuple(args.methods.split(",")),
        budget=Budget(*given[0]) if given else None,
        match=args.match,
        recipe=args.config,
        overrides=args.overrides,
        seeds=args.seeds,
        curve=args.curve,
        lr_grid=args.lr_grid,
        clips=clips,
        crops=args.crops,
        suite=suite,
        runs=Path(args.runs) if args.runs else None,
        command=command_line(),
    )
    run_compare(spec)
    results.print((out / "compare.md").read_text(), markup=False, highlight=False)
    console.print(f"wrote {out}/compare.json, compare.md and compare.png")


def register(sub: argparse._SubParsersAction) -> None:
    c = command(
        sub, "compare", "ViDROP vs dense vs VideoMAE: same encoder, videos and compute", cmd_compare
    )
    c.add_argument("--data", help="labelled manifest of the training videos")
    c.add_argument("--val", help="labelled manifest of the val videos")
    c.add_argument("--synth", action="store_true", help="the demo's synthetic videos instead")
    c.add_argument("--out", required=True, help="output folder (a comparison there resumes)")
    c.add_argument("--methods", default="vidrop,dense,videomae", help="comma-separated")
    c.add_argument("--budget-s", type=float, help="training seconds per method")
    c.add_argument("--budget-tflop", type=float, help="counted training TFLOP per method")
    c.add_argument("--steps", type=int, help="optimizer steps per method")
    c.add_argument(
        "--match",
        default="seconds",
        choices=["seconds", "tflop"],
        help="without a budget: ViDROP trains its recipe, the others get its seconds or its TFLOP",
    )
    c.add_argument("--config", default="tiny", help="ViDROP's recipe (the encoder and views)")
    c.add_argument("--seeds", type=int_list, default=(0,), help="training seeds, e.g. 0,1,2")
    c.add_argument("--curve", type=int, default=0, help="kNN on val at K points along each run")
    c.add_argument(
        "--lr-grid",
        type=float_list,
        default=(),
        help="factors of each method's lr, scored on held-out training videos",
    )
    c.add_argument("--clips", type=int, default=1, help="test clips per video")
    c.add_argument("--crops", type=int, default=1, choices=[1, 3], help="test crops per clip")
    c.add_argument("--copies", help="copy-detection queries of the val videos")
    c.add_argument("--runs", help="folder of the training runs (default OUT/runs; shareable)")
    c.add_argument("--no-attentive", action="store_true", help="skip the attentive probe")
    overrides_argument(c, "the recipe (the base every method derives its own from)")
