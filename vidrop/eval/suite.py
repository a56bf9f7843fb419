"""`vidrop eval all`: every probe on every backbone (and the same architecture at random init),
one eval.json and one markdown table with the command and the machine.

Features are extracted once per backbone and split (all views, patch tokens included) and shared by
kNN, linear, attentive and low-shot probes; label propagation reads its own sequences.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypedDict, cast

import torch

from vidrop.atomic import write_bytes_atomic, write_json_atomic, write_text_atomic
from vidrop.data.manifest import Manifest, read_manifest
from vidrop.eval.attentive import attentive_probe, probe_epochs
from vidrop.eval.copydetect import detect_copies
from vidrop.eval.errors import EvalError
from vidrop.eval.features import Features, extract_features
from vidrop.eval.gains import paired_gains
from vidrop.eval.knn import knn_predictions
from vidrop.eval.labels import probe_sets
from vidrop.eval.linear import linear_epochs, linear_probe
from vidrop.eval.lowshot import lowshot
from vidrop.eval.probe import stratified_holdout
from vidrop.eval.propagate import evaluate_propagation
from vidrop.eval.sequences import davis_names, davis_sequences, synth_sequences
from vidrop.eval.settings import AttentiveConfig, SuiteConfig
from vidrop.eval.views import EvalViews
from vidrop.machine import describe_machine
from vidrop.models.vit import VideoViT
from vidrop.plots import plot_eval, try_plot
from vidrop.progress import ProgressBar
from vidrop.runlock import FolderLock

log = logging.getLogger("vidrop")


def token_gib(backbone: VideoViT, views: EvalViews, videos: int) -> float:
    """GiB of float16 patch tokens the attentive probe reads: every view of every video."""
    cfg = backbone.cfg
    tokens = (views.frames // cfg.tubelet) * (views.size // cfg.patch_size) ** 2
    return videos * views.count * tokens * cfg.embed_dim * 2 / 2**30


class BackboneReport(TypedDict, total=False):
    """One backbone's results in eval.json (and compare.json, and the per-backbone caches): a
    JSON object, typed here so that readers know its keys. Percentages are top-1 in [0, 100]."""

    classes: int
    n_train: int
    n_val: int
    skipped_videos: list[str]  # undecodable videos left out
    short_videos: int  # shorter than one clip: their last frame repeated
    views: dict[str, Any]  # EvalViews.to_dict()
    feature: str  # what kNN, linear and low-shot read: cls, mean or cls+mean
    knn: dict[str, float]  # k -> top-1
    linear: dict[str, Any]  # LinearResult fields (top1, top5, lr, wd, ...)
    attentive: dict[str, Any]  # AttentiveResult fields
    lowshot: list[dict[str, Any]]  # one LowShotRow per label share
    propagation: dict[str, Any]  # J&F and per-sequence scores
    copy_detection: dict[str, Any]  # mAP, top-1 and per-query APs
    per_video: dict[str, Any]  # val paths, labels and each probe's predictions (paired gains)
    extract_s: float
    probe_s: float


def attentive_results(
    train: Features, val: Features, n: int, a: AttentiveConfig, device: str, label: str
) -> dict[str, Any]:
    """The attentive probe on the patch tokens, with its progress bar (epochs of every lr)."""
    _, tr_p, va_p = probe_sets(train, val, "patch")
    fit, _ = stratified_holdout(tr_p.y, a.holdout, a.seed)  # as the probe splits them
    epochs = probe_epochs(len(fit) * tr_p.x.shape[1], a) * len(a.lrs)
    with ProgressBar(epochs, f"{label}attentive probe", unit="epoch") as bar:
        return asdict(attentive_probe(tr_p, va_p, n, a, device, tick=bar.update))


def probe_features(
    train: Features,
    val: Features,
    cfg: SuiteConfig,
    feature: str,
    device: str = "cpu",
    name: str = "",
) -> BackboneReport:
    """kNN, linear, attentive and low-shot results of one backbone's `feature` (cls, mean...),
    each probe with its own progress bar (`name`: the backbone's, in their descriptions)."""
    classes, tr, va = probe_sets(train, val, feature)
    n = len(classes)
    out: BackboneReport = {
        "classes": n,
        "n_train": len(tr.y),
        "n_val": len(va.y),
        "skipped_videos": tr.skipped + va.skipped,
        "short_videos": tr.short + va.short,
        "views": train.views.to_dict(),
        "feature": feature,
    }
    t = time.perf_counter()
    knn = knn_predictions(tr.x, tr.y, va.x, cfg.ks, cfg.temp, n)
    out["knn"] = {str(k): float((p == va.y).float().mean() * 100) for k, p in knn.items()}
    preds = {f"kNN k={k}": p.tolist() for k, p in knn.items()}
    label = f"{name} " if name else ""
    with ProgressBar(linear_epochs(cfg.linear), f"{label}linear probe", unit="epoch") as bar:
        lin = linear_probe(tr, va, n, cfg.linear, device, tick=bar.update)
    out["linear"] = asdict(lin)
    preds["linear"] = out["linear"].pop("predictions")
    if cfg.lowshot_fractions:
        n_probes = len(cfg.lowshot_fractions) * len(cfg.lowshot_seeds)
        with ProgressBar(n_probes, f"{label}low-shot", unit="probe") as bar:
            fractions, seeds = cfg.lowshot_fractions, cfg.lowshot_seeds
            rows = lowshot(
                tr, va, n, lin.lr, lin.wd, fractions, seeds, cfg.linear, 20, device, bar.update
            )
        out["lowshot"] = [asdict(r) for r in rows]
    if cfg.attentive is not None and train.patch is not None:
        out["attentive"] = attentive_results(train, val, n, cfg.attentive, device, label)
        preds["attentive"] = out["attentive"].pop("predictions")
    out["probe_s"] = time.perf_counter() - t
    # what paired gains between backbones need (vidrop.eval.gains)
    out["per_video"] = {
        "videos": va.paths,
        "labels": va.y.tolist(),
        "predictions": preds,
    }
    return out


def propagation_results(backbone: VideoViT, cfg: SuiteConfig, device: str, name: str) -> dict:
    if cfg.propagate.startswith("davis:"):
        root = cfg.propagate.split(":", 1)[1]
        names = davis_names(root)
        names = names[: cfg.propagate_limit] if cfg.propagate_limit else names
        total, seqs = len(names), davis_sequences(root, names)
    else:
        total, seqs = synth_sequences(cfg.propagate, cfg.propagate_limit)
    t = time.perf_counter()
    r = evaluate_propagation(backbone, seqs, total, cfg.propagation, device, f"{name} propagation")
    res = asdict(r)
    res["per_sequence"] = {
        name: {"jf": s["jf"], "objects": len(s["j"])} for name, s in r.per_sequence.items()
    }
    return {
        **res,
        "config": asdict(cfg.propagation),
        "source": cfg.propagate,
        "seconds": time.perf_counter() - t,
    }


def copy_results(
    backbone: VideoViT,
    cfg: SuiteConfig,
    feats: list[Features],
    views: EvalViews,
    *,
    device: str,
    batch_size: int,
    num_workers: int | None,
    name: str,
) -> dict:
    """Copy detection of cfg.copies among the val videos, whitening fitted on the train videos."""
    t = time.perf_counter()
    r = detect_copies(
        backbone,
        read_manifest(cfg.copies),
        feats[1],
        views,
        whitening=feats[0],
        topk=cfg.copy_topk,
        batch_size=batch_size,
        num_workers=num_workers,
        device=device,
        description=f"{name} copies",
    )
    return {
        **r.summary(),
        "source": cfg.copies,
        "topk": cfg.copy_topk,
        "per_query": r.per_query(),
        "per_query_pairs": r.pairs,
        "seconds": time.perf_counter() - t,
    }


@dataclass
class SuiteBackbone:
    """A backbone as `eval all` scores it: the views it is shown (the clip it was trained on),
    the feature its kNN, linear and low-shot probes read, and the backbone its gain is measured
    against (`floor`: random init read the same way)."""

    model: VideoViT
    views: EvalViews
    feature: str = "cls"
    floor: str | None = None


def feature_of(model: VideoViT, feature: str) -> str:
    """The feature a backbone really gives: without a CLS token "cls" is the mean patch token
    (VideoMAE, V-JEPA), so it is named so, and "cls+mean" would repeat it."""
    return "mean" if model.cls_token is None else feature


def _token_files(name: str, gib: float, limit: float, folder: Path | None) -> dict[str, Path]:
    """Where the patch tokens of the train and val splits are written when they exceed the
    memory budget (`limit` GiB); none when they fit."""
    if gib <= limit:
        return {}
    if folder is None:
        raise EvalError(f"{gib:.1f} GiB of patch tokens need a folder to stream them from")
    folder.mkdir(parents=True, exist_ok=True)
    log.info(
        "%s: %.1f GiB of patch tokens, above the %.1f GiB held in memory: written to %s "
        "and read from there",
        name,
        gib,
        limit,
        folder,
    )
    return {s: folder / f"{name}-{s}.npy" for s in ("train", "val")}


@dataclass(frozen=True)
class Extraction:
    """How a suite extracts features (batch, workers, device), for every split alike."""

    batch_size: int
    num_workers: int | None
    device: str

    def features(
        self,
        model: VideoViT,
        manifest: Manifest,
        views: EvalViews,
        patch_tokens: bool,
        token_file: Path | None,
        description: str,
    ) -> Features:
        return extract_features(
            model,
            manifest,
            views,
            patch_tokens=patch_tokens,
            token_file=token_file,
            description=description,
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            device=self.device,
        )


def evaluate_backbone(
    name: str,
    backbone: SuiteBackbone,
    train_csv: str,
    val_csv: str,
    cfg: SuiteConfig,
    *,
    device: str = "cpu",
    batch_size: int = 8,
    num_workers: int | None = None,
    token_dir: Path | None = None,
) -> BackboneReport:
    """Every probe of one backbone. Patch tokens beyond cfg.max_token_gib are written to
    `token_dir` and read from there a batch at a time (deleted afterwards)."""
    t = time.perf_counter()
    model, views = backbone.model, backbone.views
    manifests = [read_manifest(train_csv), read_manifest(val_csv)]
    want_tokens = cfg.attentive is not None
    gib = token_gib(model, views, sum(len(m) for m in manifests)) if want_tokens else 0.0
    files = _token_files(name, gib, cfg.max_token_gib, token_dir)
    extract = Extraction(batch_size, num_workers, device)
    feats = [
        extract.features(model, m, views, want_tokens, files.get(split), f"{name} {split}")
        for split, m in zip(("train", "val"), manifests, strict=True)
    ]
    feature = feature_of(model, backbone.feature)
    result: BackboneReport = {"extract_s": time.perf_counter() - t}
    result.update(probe_features(feats[0], feats[1], cfg, feature, device, name))
    if cfg.copies:
        result["copy_detection"] = copy_results(
            model,
            cfg,
            feats,
            views,
            device=device,
            batch_size=batch_size,
            num_workers=num_workers,
            name=name,
        )
    for f in feats:
        f.patch = None  # drop the maps before their files go
    for path in files.values():
        path.unlink(missing_ok=True)
    if cfg.propagate:
        result["propagation"] = propagation_results(model, cfg, device, name)
    return result


def headline(r: BackboneReport) -> dict[str, float | str]:
    """The table's columns for one backbone."""
    row: dict[str, float | str] = {f"kNN k={k}": v for k, v in r["knn"].items()}
    row["linear"] = r["linear"]["top1"]
    if "attentive" in r:
        row["attentive"] = r["attentive"]["top1"]
    for ls in r.get("lowshot", []):
        row[f"linear {ls['fraction']:.0%} labels"] = (
            f"{ls['linear_mean']:.1f} ± {ls['linear_std']:.1f}"
        )
    if "propagation" in r:
        row["J&F"] = r["propagation"]["jf_mean"]
    if "copy_detection" in r:
        row["copy mAP"] = r["copy_detection"]["map"]
        row["copy µAP"] = r["copy_detection"]["uap"]
    return row


def markdown_table(report: dict) -> str:
    rows = {name: headline(r) for name, r in report["backbones"].items()}
    cols = list(next(iter(rows.values())))
    lines = [
        f"Command: `{report['command']}`",
        "",
        f"Machine: {report['machine'].get('cpu')} ({report['machine'].get('cpu_cores')} cores), "
        f"torch {report['machine'].get('torch')}, device {report['device']}",
        "",
        "| backbone | feature | " + " | ".join(cols) + " |",
        "|---|---|" + "---:|" * len(cols),
    ]
    for name, row in rows.items():
        cells = [f"{v:.1f}" if isinstance(v, float) else str(v) for v in row.values()]
        feature = report["backbones"][name]["feature"]
        lines.append(f"| {name} | {feature} | " + " | ".join(cells) + " |")
    first = next(iter(report["backbones"].values()))
    copies = "copy_detection" in first
    epochs = first.get("attentive", {}).get("epochs")
    views = {
        n: f"{r['views']['frames']}x{r['views']['size']}, stride {r['views']['stride']}"
        for n, r in report["backbones"].items()
    }
    shown = (
        next(iter(views.values()))
        if len(set(views.values())) == 1
        else "; ".join(f"{n}: {v}" for n, v in views.items())
    )
    lines += [
        "",
        f"Top-1 in percent; {first['classes']} classes, {first['n_train']} train / "
        f"{first['n_val']} val videos, views {first['views']['clips']} clips x "
        f"{first['views']['crops']} crops of {shown}; feature: what kNN, linear and low-shot "
        "read (cls: the CLS token; mean: the mean patch token); low-shot: mean ± std over "
        "seeds; J&F: DAVIS protocol label propagation"
        + (f"; attentive probe trained {epochs} epochs" if epochs else "")
        + (
            "; copy mAP: DINO's copy detection, whitened on the train videos; copy µAP: the "
            "Video Similarity Challenge's micro-average precision of the same search"
        )
        * copies
        + ".",
    ]
    return "\n".join(lines + gains_table(report)) + "\n"


def gains_table(report: dict) -> list[str]:
    """Markdown lines: each backbone's gain over its floor (and each extra pair's) with its
    paired bootstrap interval."""
    gains = {**report.get("gains", {}), **report.get("pairs", {})}
    if not gains:
        return []
    against = {
        **report.get("floors", {}),
        **{k: k.split(" vs ")[1] for k in report.get("pairs", {})},
    }
    cols = list(next(iter(gains.values())))
    level = next(iter(next(iter(gains.values())).values()))["level"]
    lines = [
        "",
        f"Gains in points, each with its {level:.0%} paired bootstrap interval over the val videos "
        "(J&F: sequences; copy mAP: queries; copy µAP: queries and distractors, their pairs "
        "pooled anew in each resample); it covers the val sample's noise, not the spread "
        "between training runs.",
        "",
        "| backbone | over | " + " | ".join(cols) + " |",
        "|---|---|" + "---:|" * len(cols),
    ]
    for name, row in gains.items():
        cells = [format_gain(row[c]) if c in row else "" for c in cols]
        lines.append(f"| {name.split(' vs ')[0]} | {against[name]} | " + " | ".join(cells) + " |")
    return lines


def format_gain(g: dict) -> str:
    """'+15.0 [+9.4, +20.6]'. A bound keeps its sign when it rounds to zero: '[-0.0, +3.0]'
    and '[0.0, +3.0]' reach zero, '[+0.0, +3.0]' does not (whether an interval excludes zero is
    what a claim rests on); the gain itself shows as +0.0 then."""
    return f"{round(g['gain'], 1) + 0.0:+.1f} {format_bounds(g)}"


def format_bounds(g: dict) -> str:
    """'[-0.0, +3.0]': a gain's interval, each bound signed as it is, exactly 0 unsigned."""
    lo, hi = (
        f"{'-' if g[k] < 0 else '+' if g[k] > 0 else ''}{abs(g[k]):.1f}" for k in ("low", "high")
    )
    return f"[{lo}, {hi}]"


def write_report(report: dict, out: str | Path) -> tuple[Path, Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    js, md = out / "eval.json", out / "eval.md"
    write_json_atomic(js, report)
    write_text_atomic(md, markdown_table(report))
    rows = {name: headline(r) for name, r in report["backbones"].items()}
    try_plot(plot_eval, rows, report, out / "eval.png")
    return js, md


def _evaluated(
    name: str, backbone: SuiteBackbone, cached: Path | None, *args: Any, **kwargs: Any
) -> BackboneReport:
    """One backbone's result: read from its cache file, or evaluated (and kept there)."""
    if cached is not None and cached.is_file():
        return cast(BackboneReport, json.loads(cached.read_text()))
    torch.manual_seed(0)  # the probes' own draws: the same for every backbone
    result = evaluate_backbone(name, backbone, *args, **kwargs)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(cached, json.dumps(result).encode())
    return result


def _gains(results: dict, floors: dict[str, str], pairs: tuple[tuple[str, str], ...]):
    """(each backbone's paired gains over its floor, each pair's a-over-b gains), as dicts."""
    over_floor = {
        name: {m: i.to_dict() for m, i in paired_gains(results[name], results[floor]).items()}
        for name, floor in floors.items()
    }
    over_pairs = {
        f"{a} vs {b}": {m: i.to_dict() for m, i in paired_gains(results[a], results[b]).items()}
        for a, b in pairs
    }
    return over_floor, over_pairs


def run_suite(
    backbones: dict[str, SuiteBackbone],
    train_csv: str,
    val_csv: str,
    cfg: SuiteConfig,
    out: str | Path,
    command: str,
    *,
    device: str = "cpu",
    batch_size: int = 8,
    num_workers: int | None = None,
    pairs: tuple[tuple[str, str], ...] = (),
    cache: dict[str, Path] | None = None,
) -> dict:
    """Evaluate every backbone and write eval.json and eval.md under `out` (holding its lock):
    each backbone's paired gains over its floor, and for each (a, b) of `pairs` a's gains over
    b. `cache` (name -> a JSON file): a backbone's result is kept there and read back instead of
    evaluated again."""
    with FolderLock(out, command):
        return _run_suite(
            backbones,
            train_csv,
            val_csv,
            cfg,
            out,
            command,
            device=device,
            batch_size=batch_size,
            num_workers=num_workers,
            pairs=pairs,
            cache=cache,
        )


def _run_suite(
    backbones: dict[str, SuiteBackbone],
    train_csv: str,
    val_csv: str,
    cfg: SuiteConfig,
    out: str | Path,
    command: str,
    *,
    device: str,
    batch_size: int,
    num_workers: int | None,
    pairs: tuple[tuple[str, str], ...],
    cache: dict[str, Path] | None,
) -> dict:
    names = set(backbones)
    wanted = {b.floor for b in backbones.values() if b.floor} | {n for p in pairs for n in p}
    if wanted - names:
        raise EvalError(f"{sorted(wanted - names)} are compared against but not evaluated")
    report: dict[str, Any] = {
        "command": command,
        "machine": describe_machine(),
        "device": device,
        "train": train_csv,
        "val": val_csv,
        "backbones": {},
        "floors": {n: b.floor for n, b in backbones.items() if b.floor},
    }
    for name, backbone in backbones.items():
        report["backbones"][name] = _evaluated(
            name,
            backbone,
            (cache or {}).get(name),
            train_csv,
            val_csv,
            cfg,
            device=device,
            batch_size=batch_size,
            num_workers=num_workers,
            token_dir=Path(out) / "tokens",
        )
    report["gains"], report["pairs"] = _gains(report["backbones"], report["floors"], pairs)
    write_report(report, out)
    return report
