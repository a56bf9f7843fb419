"""`vidrop demo`: synthetic videos -> tiny ViDROP pretraining -> eval all against random init."""

from __future__ import annotations

import argparse

from vidrop.cli.common import command, out_folder, overrides_argument
from vidrop.machine import command_line


def cmd_demo(args: argparse.Namespace) -> None:
    from vidrop.demo import DEMO_VIDEOS, run_demo

    out = out_folder(args.out)
    run_demo(
        out,
        videos=args.videos or DEMO_VIDEOS,
        seed=args.seed,
        overrides=args.overrides,
        command=command_line(),
    )


def register(sub: argparse._SubParsersAction) -> None:
    d = command(sub, "demo", "synthetic data -> tiny pretraining -> eval vs random init", cmd_demo)
    d.add_argument("--out", default="vidrop-demo", help="output folder")
    d.add_argument(
        "--videos",
        type=int,
        default=0,
        help="synthetic videos, 3 of every 7 for training (0: the demo's 1260)",
    )
    d.add_argument("--seed", type=int, default=0, help="seed of the data and the training")
    overrides_argument(d, "the tiny recipe")
