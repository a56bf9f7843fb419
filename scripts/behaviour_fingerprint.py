"""What a refactor must not change: the demo's first training steps and a short comparison.

    python scripts/behaviour_fingerprint.py OUT [--data DIR] [--steps 50] [--compare-steps 20]

Runs, through the command line only (so it works on any commit):
1. `vidrop pretrain --config tiny` on the demo's synthetic training videos for `--steps` steps,
   logging every step (the demo's run, cut short);
2. `vidrop compare --steps N` on a small synthetic set (120 videos, no attentive probe): every
   method's training run (logged every step) and evaluation.
Writes OUT/fingerprint.json: every metrics.jsonl field but the clocks (seconds, clips/s,
videos/s, peak memory), and compare.json's accuracies per method. Run it on two commits and
compare the two files: equal means the training draws, losses and evaluations are bit-identical.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

CLOCKS = {"seconds", "clips_per_s", "videos_per_s", "peak_mem_gib"}


def vidrop(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "vidrop", *args], check=True)


def compare_help() -> str:
    help_ = [sys.executable, "-m", "vidrop", "compare", "--help"]
    return subprocess.run(help_, capture_output=True, text=True, check=True).stdout


def metrics(run: Path) -> list[dict]:
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x]
    return [{k: v for k, v in r.items() if k not in CLOCKS} for r in rows]


def accuracies(report: dict) -> dict:
    out = {}
    for name, entry in report["methods"].items():
        ev = entry.get("eval") or {}
        out[name] = {
            "steps": entry.get("steps"),
            "knn": ev.get("knn"),
            "linear": (ev.get("linear") or {}).get("top1"),
            "copy": ev.get("copy"),
            "propagation": ev.get("propagation"),
        }
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("out")
    p.add_argument("--data", help="a folder holding (or to hold) the demo's synthetic videos")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--compare-steps", type=int, default=20)
    a = p.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    data = Path(a.data) if a.data else out / "demo-data"
    sys.path.insert(0, str(Path.cwd()))
    from vidrop.demo import demo_data

    demo = demo_data(data)
    small = out / "small-data"
    vidrop("data", "synth", "--out", str(small), "--videos", "120", "--seed", "3")
    run = out / "pretrain"
    vidrop(
        "pretrain",
        "--config",
        "tiny",
        "--out",
        str(run),
        f"data.train={demo.train}",
        f"train.max_steps={a.steps}",
        "train.log_every=1",
    )
    found: dict = {"pretrain": metrics(run)}
    cmp = out / "compare"
    vidrop(
        "compare",
        "--data",
        str(small / "train.csv"),
        "--val",
        str(small / "val.csv"),
        "--out",
        str(cmp),
        "--steps",
        str(a.compare_steps),
        "--no-attentive",
        "data.num_workers=0",
        "optim.batch_size=8",
    )
    report = json.loads((cmp / "compare.json").read_text())
    found["compare"] = accuracies(report)
    found["compare_runs"] = {
        name: metrics(Path(e["backbone"]).parent)
        for name, e in report["methods"].items()
        if e.get("backbone") and name not in ("random_init", "random_init_mean")
    }
    (out / "fingerprint.json").write_text(json.dumps(found, indent=1, sort_keys=True))
    print(f"wrote {out / 'fingerprint.json'}")


if __name__ == "__main__":
    main()
