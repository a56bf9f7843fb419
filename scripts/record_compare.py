"""Copy a finished comparison's reports into docs/experiments/compare-NAME/ for the record.

    python scripts/record_compare.py COMPARE_DIR docs/experiments/compare-NAME

Copies compare.png and each seed's eval/seedN/eval.md (as seedN-eval.md), renders compare.md
from compare.json with this commit's report code (the same numbers; the format as the user guide
describes it now), and writes compare.json in the same layout with one thing left out: copy
detection's `per_query_pairs`
(every scored query-candidate pair, about 90% of the file; the µAP intervals in `gains` were
computed from them). Per-video predictions, per-query APs and per-sequence J&F stay, so the
other intervals can be recomputed. Written without indentation: compare.md is the readable one.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

from vidrop.compare.report import markdown

DROPPED = ("per_query_pairs",)


def slim(x: Any) -> Any:
    """`x` without the DROPPED keys, at any depth."""
    if isinstance(x, dict):
        return {k: slim(v) for k, v in x.items() if k not in DROPPED}
    if isinstance(x, list):
        return [slim(v) for v in x]
    return x


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("compare", type=Path, help="a finished `vidrop compare` output folder")
    p.add_argument("dest", type=Path, help="e.g. docs/experiments/compare-demo")
    a = p.parse_args(argv)
    report = json.loads((a.compare / "compare.json").read_text())
    a.dest.mkdir(parents=True, exist_ok=True)
    (a.dest / "compare.json").write_text(json.dumps(slim(report), ensure_ascii=False) + "\n")
    (a.dest / "compare.md").write_text(markdown(report))
    if (a.compare / "compare.png").exists():
        shutil.copyfile(a.compare / "compare.png", a.dest / "compare.png")
    for seed in sorted((a.compare / "eval").glob("seed*/eval.md")):
        shutil.copyfile(seed, a.dest / f"{seed.parent.name}-eval.md")
    print(f"wrote {a.dest}: " + ", ".join(sorted(f.name for f in a.dest.iterdir())))


if __name__ == "__main__":
    main()
