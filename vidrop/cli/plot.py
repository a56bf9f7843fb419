"""`vidrop plot RUN [RUN ...]`: training curves from metrics.jsonl, one line per run."""

from __future__ import annotations

import argparse
from pathlib import Path

from vidrop.cli.common import UserError, command, out_file, results


def cmd_plot(args: argparse.Namespace) -> None:
    from vidrop.plots import MissingExtra, plot_curves
    from vidrop.train.metrics import read_metrics

    for run in args.runs:
        if not (Path(run) / "metrics.jsonl").is_file():
            raise UserError(f"{run} holds no metrics.jsonl; give a run folder of vidrop pretrain")
    target = out_file(args.out_file or Path(args.runs[0]) / "curves.png")
    try:
        records = {Path(r).name or r: read_metrics(Path(r) / "metrics.jsonl") for r in args.runs}
        plot_curves(records, target)
    except MissingExtra as exc:
        raise UserError(str(exc)) from exc
    results.print(f"wrote {target}")


def register(sub: argparse._SubParsersAction) -> None:
    p = command(
        sub, "plot", "training curves of runs: losses, schedules, collapse monitors", cmd_plot
    )
    p.add_argument("runs", nargs="+", help="run folders (several: one line per run)")
    p.add_argument("--out-file", help="the PNG to write (default: FIRST_RUN/curves.png)")
