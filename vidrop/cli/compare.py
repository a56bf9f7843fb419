"""`vidrop compare`: ViDROP against the dense student and VideoMAE, the same encoder, videos and
compute, every backbone through the same frozen suite (vidrop.compare says how)."""

from __future__ import annotations

import argparse
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from vidrop.cli.common import (
    OptionalChoice,
    UserError,
    command,
    float_list,
    int_list,
    out_folder,
    overrides_argument,
    results,
)
from vidrop.compare.spec import DEFAULT_LRS, TRIAL_SHARE
from vidrop.config import METHODS
from vidrop.machine import command_line
from vidrop.progress import console


def cmd_compare(args: argparse.Namespace) -> None:
    from vidrop.compare import CompareSpec, run_compare
    from vidrop.compare.tuning import refuse_tuned

    if not args.no_tuning:
        refuse_tuned(args.overrides)  # before any videos are rendered
    budget, out = _budget(args), out_folder(args.out)
    train, val, clips, suite = _data(args, out)
    suite = replace(suite, attentive=None) if args.no_attentive else suite
    spec = CompareSpec(
        train=train,
        val=val,
        out=out,
        methods=tuple(args.methods.split(",")),
        reference=args.reference,
        budget=budget,
        match=args.match,
        recipe=args.config,
        overrides=args.overrides,
        seeds=args.seeds,
        curve=args.curve,
        lrs=() if args.no_tuning else args.lrs,
        trial_share=args.trial_share,
        clips=clips,
        crops=args.crops,
        suite=suite,
        runs=Path(args.runs) if args.runs else None,
        all_parts=args.all_parts,
        command=command_line(),
    )
    run_compare(spec)
    results.print((out / "compare.md").read_text(), markup=False, highlight=False)
    console.print(f"wrote {out}/compare.json, compare.md and compare.png")


def _budget(args: argparse.Namespace) -> Any:
    """The one budget given (None: the reference's recipe sets it)."""
    from vidrop.compare import Budget

    flags = (("seconds", args.budget_s), ("tflop", args.budget_tflop), ("steps", args.steps))
    given = [(k, v) for k, v in flags if v]
    if len(given) > 1:
        raise UserError("give one of --budget-s, --budget-tflop, --steps")
    return Budget(*given[0]) if given else None


def _data(args: argparse.Namespace, out: Path) -> tuple[str, str, int, Any]:
    """(train, val, test clips, suite): --data/--val with the suite's defaults, or a synthetic
    family with the demo's protocol, rendered beside the runs (shared when the runs are) at a
    size that holds the recipe's large clip."""
    from vidrop.config import load_config, split_overrides
    from vidrop.demo import demo_data, synth_folder
    from vidrop.eval.settings import SuiteConfig

    if args.synth:
        large = load_config(args.config, split_overrides(args.overrides)[0]).views.large_size
        size = 64 * 2 ** max(0, math.ceil(math.log2(large / 64)))
        folder = Path(args.runs or out) / synth_folder(args.synth, size)
        demo = demo_data(folder, family=args.synth, size=size)
        return demo.train, demo.val, demo.clips, demo.suite
    if args.data and args.val:
        return args.data, args.val, args.clips, SuiteConfig(copies=args.copies or "")
    raise UserError("give --data TRAIN.csv and --val VAL.csv, or --synth [FAMILY]")


def register(sub: argparse._SubParsersAction) -> None:
    c = command(
        sub,
        "compare",
        "methods side by side (ViDROP, dense, VideoMAE): same encoder, videos and compute, each "
        "tuned alike, every backbone through the same frozen suite",
        cmd_compare,
    )
    c.add_argument("--data", help="labelled manifest of the training videos")
    c.add_argument("--val", help="labelled manifest of the val videos")
    c.add_argument(
        "--synth",
        action=OptionalChoice,
        options=("shapes", "glyphs"),
        const="shapes",
        help="synthetic videos instead: the demo's family (shapes), or glyphs",
    )
    c.add_argument("--out", required=True, help="output folder (a comparison there resumes)")
    c.add_argument("--methods", default=",".join(METHODS), help="comma-separated")
    c.add_argument("--reference", default="vidrop", help="the method whose gains are reported")
    c.add_argument("--budget-s", type=float, help="training seconds per method")
    c.add_argument("--budget-tflop", type=float, help="counted training TFLOP per method")
    c.add_argument("--steps", type=int, help="optimizer steps per method")
    c.add_argument(
        "--match",
        default="seconds",
        choices=["seconds", "tflop"],
        help="without a budget: the reference's recipe sets it, in seconds or in TFLOP",
    )
    c.add_argument("--config", default="tiny", help="the base recipe (ViDROP's): encoder, views")
    c.add_argument("--seeds", type=int_list, default=(0,), help="training seeds, e.g. 0,1,2")
    c.add_argument("--curve", type=int, default=0, help="kNN on val at K points along each run")
    _tuning_flags(c)
    c.add_argument("--clips", type=int, default=1, help="test clips per video")
    c.add_argument("--crops", type=int, default=1, choices=[1, 3], help="test crops per clip")
    c.add_argument("--copies", help="copy-detection queries of the val videos")
    c.add_argument("--runs", help="folder of the training runs (default OUT/runs; shareable)")
    c.add_argument("--no-attentive", action="store_true", help="skip the attentive probe")
    c.add_argument(
        "--all-parts",
        action="store_true",
        help="also evaluate every other backbone a method exports (ViDROP's student)",
    )
    overrides_argument(c, "the base recipe (every method derives its own from it)")


def _tuning_flags(c: argparse.ArgumentParser) -> None:
    c.add_argument(
        "--lrs",
        type=float_list,
        default=DEFAULT_LRS,
        help="peak learning rates every method's tuning tries (times its knob's 2 settings)",
    )
    c.add_argument(
        "--trial-share",
        type=float,
        default=TRIAL_SHARE,
        help="each tuning trial's share of the budget",
    )
    c.add_argument(
        "--no-tuning",
        action="store_true",
        help="every method at its recipe as given: quick, not a fair verdict",
    )
