"""Held-out scores along training runs: does a run's choice, made on a quarter of the budget,
still hold at the full budget?

    python scripts/heldout_along.py --train TRAIN.csv RUN_DIR [RUN_DIR ...] [--json OUT]

For every backbone a run saved along the way (RUN_DIR/points/STEP, written by `vidrop compare
--curve K`) and its final export: kNN (k = 20) and linear top-1 on the TRAINING videos, each held
out once in stratified five-fold cross-validation, exactly as `vidrop compare` scores its tuning
trials (`heldout_scores`). The val videos are not read: this diagnoses a protocol, it chooses
nothing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from vidrop.atomic import write_json_atomic
from vidrop.compare.tuning import heldout_scores, selection_score
from vidrop.data.manifest import read_manifest
from vidrop.machine import command_line, describe_machine


def along(run: Path) -> list[tuple[int, Path]]:
    """(step, export folder) of every backbone the run saved, in step order."""
    points = [(int(p.name), p) for p in (run / "points").glob("*") if p.name.isdigit()]
    return sorted(points)


def recipe(run: Path) -> str:
    """The run's method, peak lr and knob, as its run.yaml trained them."""
    cfg = yaml.safe_load((run / "run.yaml").read_text())
    m = cfg.get("mask", {})
    knob = f"drop {m.get('drop_ratio')}, mask {m.get('mask_prob')} x {m.get('mask_ratio')}"
    return f"{cfg['train']['method']} lr {cfg['optim']['base_lr']:g} ({knob})"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("runs", nargs="+", help="run folders of a comparison (their points/)")
    p.add_argument("--train", required=True, help="the comparison's training manifest")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", help="write every figure to this file")
    a = p.parse_args()
    train = read_manifest(a.train)
    print(f"command: {command_line()}\nmachine: {describe_machine()}", flush=True)
    rows = []
    for run in map(Path, a.runs):
        for step, export in along(run):
            scores = heldout_scores(export, train, a.device)
            rows.append({"run": str(run), "recipe": recipe(run), "step": step, **scores})
            print(json.dumps(rows[-1]), flush=True)
    print("\n| run | step | held-out kNN | held-out linear | score |\n|---|---:|---:|---:|---:|")
    for r in rows:
        score = selection_score(r)
        print(f"| {r['recipe']} | {r['step']} | {r['knn']:.1f} | {r['linear']:.1f} | {score:.1f} |")
    if a.json:
        write_json_atomic(a.json, {"command": command_line(), "rows": rows})


if __name__ == "__main__":
    main()
