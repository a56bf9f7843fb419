"""One markdown table from several comparisons: each method's accuracy (mean ± std over seeds)
and the reference's gains with their pooled intervals, the README's and comparing.md's table.

    python scripts/compare_table.py NAME=COMPARE_DIR [NAME=COMPARE_DIR ...] [--metrics ...]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vidrop.compare.report import claim_holds, drop_and_mask
from vidrop.eval.suite import format_bounds

METRICS = ("kNN k=20", "linear", "J&F", "copy mAP", "copy µAP")
FLOORS = ("random_init", "random_init_mean")


def cell(summary: dict | None) -> str:
    if not summary:
        return ""
    if len(summary["values"]) > 1:
        return f"{summary['mean']:.1f} ± {summary['std']:.1f}"
    return f"{summary['mean']:.1f}"


def gain_cell(gain: dict | None) -> str:
    if not gain:
        return ""
    text = f"{gain['mean']:+.1f} {format_bounds(gain['pooled'])}"
    return f"**{text}**" if claim_holds(gain) else text  # bold: what a claim may rest on


def rows(name: str, report: dict, metrics: tuple[str, ...]) -> list[str]:
    out = []
    budget = report["budget"]
    seeds = len(report["seeds"])
    for method, e in report["methods"].items():
        if "error" in e:
            continue
        label = method if method not in FLOORS else f"{method} ({e.get('feature')})"
        steps = e.get("steps", 0)
        cells = [cell(e.get("summary", {}).get(m)) for m in metrics]
        recipe = ""
        if method not in FLOORS:
            drop, masked = drop_and_mask(e)
            recipe = (
                f"{e['peak_lr']:.0e}; drop {drop}; masked {masked}; "
                f"{e['visible_tokens']}/{e['clip_tokens']}"
            )
        out.append(f"| {name} | {label} | {recipe} | {steps} | " + " | ".join(cells) + " |")
    ref = report["reference"]
    for pair, g in report["gains"].items():
        a, _, b = pair.partition(" vs ")
        if a == ref and b not in FLOORS:
            cells = [gain_cell(g.get(m)) for m in metrics]
            out.append(f"| {name} | {a}'s gain over {b} | | | " + " | ".join(cells) + " |")
    out.append(
        f"| {name} | ({budget['kind']} {budget['value']:.4g}, {seeds} seeds) | | | "
        + " | ".join("" for _ in metrics)
        + " |"
    )
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("comparisons", nargs="+", help="NAME=COMPARE_DIR")
    p.add_argument("--metrics", default=",".join(METRICS))
    a = p.parse_args()
    metrics = tuple(a.metrics.split(","))
    print(
        "| data | method | peak lr; drop; masked; visible tokens | steps | "
        + " | ".join(metrics)
        + " |"
    )
    print("|---|---|---|---:|" + "---:|" * len(metrics))
    for item in a.comparisons:
        name, folder = item.split("=", 1)
        report = json.loads((Path(folder) / "compare.json").read_text())
        for line in rows(name, report, metrics):
            print(line)


if __name__ == "__main__":
    main()
