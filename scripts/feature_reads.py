"""Read a comparison's backbones other ways: which feature carries what each protocol measures.

    python scripts/feature_reads.py COMPARE_DIR --copies QUERIES.csv [--seeds 0,1] [--json OUT]

For every trained backbone of every seed in COMPARE_DIR/compare.json, and its random-init floors:
kNN (k = 20) and linear top-1 on the val videos read by the CLS token and by the mean patch token
(a backbone without a CLS token has only the mean), and copy detection mAP with DINO's descriptor
(CLS ++ GeM of the patch tokens) and with each half alone (the other half zeroed, so the same
whitening and search run on one part). Prints a table, mean over seeds.
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import replace
from pathlib import Path

import torch

from vidrop.data.manifest import read_manifest
from vidrop.eval.copydetect import copy_detection
from vidrop.eval.features import Features, extract_features, views_of_backbone
from vidrop.eval.knn import knn_accuracy
from vidrop.eval.labels import probe_sets
from vidrop.eval.linear import linear_probe
from vidrop.machine import command_line, describe_machine
from vidrop.models.load import load_backbone

FLOORS = ("random_init", "random_init_mean")


def halves(f: Features) -> dict[str, Features]:
    """The copy descriptor whole, and each of its halves with the other zeroed."""
    assert f.gem is not None
    return {
        "cls+gem": f,
        "cls only": replace(f, gem=torch.zeros_like(f.gem)),
        "gem only": replace(f, cls=torch.zeros_like(f.cls)),
    }


def reads(export: str, data: dict[str, str], clips: int) -> dict[str, float]:
    model, meta = load_backbone(export, with_meta=True)
    views = views_of_backbone(meta, model, clips=clips)
    feats = {
        split: extract_features(model, read_manifest(path), views, description=split)
        for split, path in data.items()
    }
    out = {}
    kinds = ("cls", "mean") if model.cls_token is not None else ("mean",)
    for kind in kinds:
        classes, tr, va = probe_sets(feats["train"], feats["val"], kind)
        out[f"kNN k=20 {kind}"] = knn_accuracy(tr.x, tr.y, va.x, va.y, (20,))[20]
        out[f"linear {kind}"] = linear_probe(tr, va, len(classes)).top1
    originals = [e.label for e in read_manifest(data["copies"]).entries]
    queries, database, whitening = (halves(feats[s]) for s in ("copies", "val", "train"))
    for name in queries:
        r = copy_detection(queries[name], database[name], originals, whitening[name], 20)
        out[f"copy mAP {name}"] = r.summary()["map"]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("compare", help="a vidrop compare output folder")
    p.add_argument("--copies", required=True, help="the comparison's copy-detection queries")
    p.add_argument("--clips", type=int, default=3, help="test clips a video (the demo's: 3)")
    p.add_argument("--seeds", help="these seeds only, e.g. 0,1 (default: every seed)")
    p.add_argument("--json", help="write every figure to this file")
    a = p.parse_args()
    report = json.loads((Path(a.compare) / "compare.json").read_text())
    data = {"train": report["data"]["train"], "val": report["data"]["val"], "copies": a.copies}
    seeds = [x.strip() for x in a.seeds.split(",")] if a.seeds else list(report["seeds"])
    unknown = sorted(set(seeds) - {str(x) for x in report["seeds"]})
    if unknown:
        raise SystemExit(f"--seeds {unknown}: the comparison has seeds {report['seeds']}")
    rows: dict[str, list[dict[str, float]]] = {}
    for name, entry in report["methods"].items():
        for seed, e in entry["seeds"].items():
            if seed not in seeds:
                continue
            export = e.get("backbone") or _floor_export(a.compare, name, seed)
            if export:
                print(f"== {name} seed {seed}: {export}", flush=True)
                rows.setdefault(name, []).append(reads(export, data, a.clips))
    _print(rows)
    if a.json:
        out = {"command": command_line(), "machine": describe_machine(), "rows": rows}
        Path(a.json).write_text(json.dumps(out, indent=2))


def _floor_export(compare: str, name: str, seed: str) -> str | None:
    if name not in FLOORS:
        return None
    found = sorted((Path(compare) / "runs").glob(f"{name}-s{seed}-*/export"))
    return str(found[0]) if found else None


def _print(rows: dict[str, list[dict[str, float]]]) -> None:
    columns = sorted({k for runs in rows.values() for r in runs for k in r})
    print("| backbone | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for name, runs in rows.items():
        cells = []
        for c in columns:
            values = [r[c] for r in runs if c in r]
            sd = f" ± {statistics.stdev(values):.1f}" if len(values) > 1 else ""
            cells.append(f"{statistics.fmean(values):.1f}{sd}" if values else "")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
