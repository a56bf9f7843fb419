"""`vidrop demo`: synthetic videos -> tiny ViDROP pretraining -> kNN of the pretrained backbone and
of the same architecture at its random initialisation (same features, same code) -> a table."""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from rich.table import Table

from vidrop.config import load_config
from vidrop.data.synth import SynthSpec, make_dataset
from vidrop.eval.features import ClipSpec
from vidrop.eval.knn_eval import knn_eval
from vidrop.machine import describe_machine
from vidrop.models.load import load_backbone
from vidrop.models.vit import VideoViT
from vidrop.progress import ProgressBar, console
from vidrop.train.loop import pretrain


def run_demo(
    out: str | Path,
    videos: int = 720,
    seed: int = 0,
    overrides: list[str] | None = None,
    command: str = "vidrop demo",
) -> dict:
    out = Path(out)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    spec = SynthSpec(videos=videos, seed=seed)
    with ProgressBar(videos, "synth data", unit="video") as bar:
        data = make_dataset(
            out / "data", spec, progress=lambda done, total: bar.update(done - bar.done)
        )
    timings["synth_s"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    cfg = load_config(
        "tiny", [f"data.train={data['train']}", f"train.seed={seed}", *(overrides or [])]
    )
    result = pretrain(cfg, out / "run")
    timings["pretrain_s"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    pretrained, meta = load_backbone(result.export)
    clip = ClipSpec(**meta["eval"])
    torch.manual_seed(cfg.train.seed)  # exactly the weights pretraining started from
    random_init = VideoViT(cfg.model).eval()
    rows = {}
    for name, backbone in (("vidrop", pretrained), ("random_init", random_init)):
        r = knn_eval(backbone, data["train"], data["val"], clip, name=name)
        rows[name] = {
            "knn_top1": r.top1,
            "k": r.k,
            "temp": r.temp,
            "feature": r.feature,
            "n_train": r.n_train,
            "n_val": r.n_val,
            "n_classes": r.n_classes,
        }
    timings["eval_s"] = time.perf_counter() - t2
    timings["total_s"] = time.perf_counter() - t0

    report = {
        "command": command,
        "machine": describe_machine(),
        "steps": result.step,
        "recipe": "tiny",
        "data": {"videos": videos, "seed": seed, "train": data["train"], "val": data["val"]},
        "results": rows,
        "gain_points": rows["vidrop"]["knn_top1"] - rows["random_init"]["knn_top1"],
        "timings": timings,
    }
    (out / "demo.json").write_text(json.dumps(report, indent=2))
    print_report(report)
    return report


def print_report(report: dict) -> None:
    res = report["results"]
    n_classes = res["vidrop"]["n_classes"]
    table = Table(
        title=f"kNN top-1 on the synthetic val split ({n_classes} classes, "
        f"chance {100 / n_classes:.1f}%)"
    )
    table.add_column("backbone")
    table.add_column("kNN top-1 (%)", justify="right")
    table.add_row(f"ViDROP, {report['steps']} steps", f"{res['vidrop']['knn_top1']:.1f}")
    table.add_row("same ViT, random init", f"{res['random_init']['knn_top1']:.1f}")
    table.add_row("gain (points)", f"{report['gain_points']:+.1f}")
    console.print(table)
    t = report["timings"]
    console.print(
        f"synth {t['synth_s']:.0f}s, pretrain {t['pretrain_s']:.0f}s, eval {t['eval_s']:.0f}s, "
        f"total {t['total_s']:.0f}s on {report['machine']['cpu']} "
        f"({report['machine']['cpu_cores']} cores)"
    )
