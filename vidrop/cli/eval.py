"""`vidrop eval knn | linear | attentive | lowshot | propagate | copydetect | all`: frozen-backbone
evaluation. Probes read features extracted on the fly from a backbone and two manifests, or two
files written by `vidrop extract` (one extraction, many probes)."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import TYPE_CHECKING

from vidrop.atomic import write_json_atomic
from vidrop.cli.common import (
    UserError,
    add_settings,
    command,
    device_flag,
    device_name,
    float_list,
    group,
    int_list,
    out_folder,
    results,
    settings_from,
)
from vidrop.eval.settings import AttentiveConfig, LinearConfig, PropagationConfig, SuiteConfig
from vidrop.machine import command_line
from vidrop.progress import console

if TYPE_CHECKING:  # imported where used: `vidrop --help` loads no torch
    from vidrop.eval.features import Features

PROPAGATION_FLAGS = ("topk", "context", "radius", "temperature")  # eval propagate only
SHARED_PROPAGATION_FLAGS = ("short_side", "shifts", "per_frame")  # also eval all
LINEAR_FLAGS = ("epochs",)
ATTENTIVE_FLAGS = ("epochs", "min_steps")


def load(args: argparse.Namespace, path: str | None = None):
    """The backbone of --backbone (or `path`) with its metadata; --random-init: the same
    architecture with seeded random weights (and the format's fixed position table)."""
    from vidrop.eval.backbones import random_floor
    from vidrop.models.load import load_backbone

    model, meta = load_backbone(path or args.backbone, with_meta=True)
    if getattr(args, "random_init", False):
        model = random_floor(model, meta, args.seed)
    return model, meta


def views(args: argparse.Namespace, model, meta: dict, name: str = ""):
    """The views each video is shown; with --images, one clip of one tubelet (the paper's
    ImageNet protocol: each image repeated into 2 frames)."""
    from vidrop.eval.backbones import shown_views

    images = args.images
    return shown_views(
        model,
        meta,
        1 if images else args.clips,
        args.crops,
        name,
        frames=args.frames or (model.cfg.tubelet if images else 0),
        size=args.size,
        stride=args.stride or (1 if images else 0),
        sampling=args.sampling,
    )


def split_features(args: argparse.Namespace, patch_tokens: bool) -> tuple[Features, Features]:
    """(train, val) Features from --train-features/--val-features or --backbone + manifests."""
    from vidrop.data.manifest import read_manifest
    from vidrop.eval.features import Features, extract_features

    if args.train_features or args.val_features:
        if not (args.train_features and args.val_features):
            raise UserError("give both --train-features and --val-features")
        return Features.load(args.train_features), Features.load(args.val_features)
    if not (args.backbone and args.train and args.val):
        raise UserError("give --backbone, --train and --val (or the two --*-features)")
    model, meta = load(args)
    shown = views(args, model, meta)
    device = device_name(args.device)
    train, val = (
        extract_features(
            model,
            read_manifest(m),
            shown,
            patch_tokens=patch_tokens,
            batch_size=args.batch_size,
            num_workers=args.workers,
            device=device,
            description=split,
        )
        for split, m in (("train", args.train), ("val", args.val))
    )
    return train, val


def emit(result: dict, args: argparse.Namespace, line: str) -> None:
    """The result's line on stdout, and with --json the whole result in that file."""
    results.print(line)
    if args.json:
        write_json_atomic(args.json, {"command": command_line(), **result})


def cmd_knn(args: argparse.Namespace) -> None:
    from vidrop.eval.knn import knn_accuracy
    from vidrop.eval.labels import probe_sets

    classes, tr, va = probe_sets(*split_features(args, patch_tokens=False), args.feature)
    acc = knn_accuracy(tr.x, tr.y, va.x, va.y, args.k, args.temperature)
    text = ", ".join(f"k={k} {a:.2f}%" for k, a in acc.items())
    sizes = f"{len(tr.y)} train, {len(va.y)} val videos, {len(classes)} classes"
    emit(
        {
            "knn": acc,
            "temperature": args.temperature,
            "feature": args.feature,
            "n_train": len(tr.y),
            "n_val": len(va.y),
            "classes": len(classes),
            "skipped": tr.skipped + va.skipped,
        },
        args,
        f"kNN top-1 {text} ({sizes})",
    )


def cmd_linear(args: argparse.Namespace) -> None:
    from vidrop.eval.labels import probe_sets
    from vidrop.eval.linear import linear_probe

    classes, tr, va = probe_sets(*split_features(args, patch_tokens=False), args.feature)
    cfg = settings_from(args, LinearConfig, LINEAR_FLAGS)
    r = linear_probe(tr, va, len(classes), cfg, device_name(args.device))
    emit(asdict(r), args, f"linear top-1 {r.top1:.2f}% top-5 {r.top5:.2f}% (lr {r.lr}, wd {r.wd})")


def cmd_attentive(args: argparse.Namespace) -> None:
    from vidrop.eval.attentive import attentive_probe
    from vidrop.eval.labels import probe_sets

    classes, tr, va = probe_sets(*split_features(args, patch_tokens=True), "patch")
    cfg = settings_from(args, AttentiveConfig, ATTENTIVE_FLAGS)
    r = attentive_probe(tr, va, len(classes), cfg, device_name(args.device))
    emit(asdict(r), args, f"attentive top-1 {r.top1:.2f}% top-5 {r.top5:.2f}% (lr {r.lr})")


def cmd_lowshot(args: argparse.Namespace) -> None:
    from vidrop.eval.labels import probe_sets
    from vidrop.eval.linear import linear_probe
    from vidrop.eval.lowshot import lowshot

    classes, tr, va = probe_sets(*split_features(args, patch_tokens=False), args.feature)
    device = device_name(args.device)
    full = linear_probe(tr, va, len(classes), device=device)  # chooses (lr, wd) on held-out train
    seeds = tuple(range(args.seeds))
    rows = lowshot(tr, va, len(classes), full.lr, full.wd, args.fractions, seeds, device=device)
    lines = [
        f"{r.fraction:.0%} labels ({r.videos} videos): linear {r.linear_mean:.2f} ± "
        f"{r.linear_std:.2f}, kNN {r.knn_mean:.2f} ± {r.knn_std:.2f}"
        for r in rows
    ]
    emit({"lr": full.lr, "wd": full.wd, "rows": [asdict(r) for r in rows]}, args, "\n".join(lines))


def propagation_config(args: argparse.Namespace) -> PropagationConfig:
    """`eval propagate`'s or `eval all`'s flags (the latter sets only the shared ones)."""
    return settings_from(args, PropagationConfig, SHARED_PROPAGATION_FLAGS + PROPAGATION_FLAGS)


def cmd_propagate(args: argparse.Namespace) -> None:
    from vidrop.eval.suite import propagation_results

    model, _ = load(args)
    source = f"davis:{args.davis}" if args.davis else args.synth
    if not source:
        raise UserError("give --davis ROOT or --synth MANIFEST")
    cfg = SuiteConfig(
        propagate=source, propagate_limit=args.limit, propagation=propagation_config(args)
    )
    r = propagation_results(model, cfg, device_name(args.device), "")
    emit(
        r,
        args,
        f"J&F {r['jf_mean']:.2f} (J {r['j_mean']:.2f}, F {r['f_mean']:.2f}) over "
        f"{r['sequences']} sequences, {r['objects']} objects; {len(r['skipped'])} skipped",
    )


def suite_config(args: argparse.Namespace) -> SuiteConfig:
    """What `eval all` runs, from its flags."""
    attentive = None if args.no_attentive else AttentiveConfig(min_steps=args.attentive_min_steps)
    return SuiteConfig(
        attentive=attentive,
        max_token_gib=args.max_token_gib,
        propagate=f"davis:{args.davis}" if args.davis else (args.synth or ""),
        propagate_limit=args.limit,
        propagation=propagation_config(args),
        copies=args.copies or "",
    )


def cmd_all(args: argparse.Namespace) -> None:
    from vidrop.eval.backbones import add_floors, named_backbones
    from vidrop.eval.suite import SuiteBackbone, markdown_table, run_suite

    out = out_folder(args.out)
    models, metas = {}, {}
    for name, path in named_backbones(args.backbone).items():
        model, metas[name] = load(args, path)
        models[name] = SuiteBackbone(model, views(args, model, metas[name], name), args.feature)
    if not args.no_random_init:
        add_floors(models, metas, args.seed)
    report = run_suite(
        models,
        args.train,
        args.val,
        suite_config(args),
        out,
        command_line(),
        device=device_name(args.device),
        batch_size=args.batch_size,
        num_workers=args.workers,
    )
    results.print(markdown_table(report))
    console.print(f"wrote {out}/eval.json, eval.md and eval.png")


def copy_sets(args: argparse.Namespace):
    """(queries, database, whitening manifests, the queries' originals or None: their labels),
    from --queries/--database or the VSC layout (--vsc)."""
    from vidrop.data.manifest import read_manifest

    whiten = read_manifest(args.whiten) if args.whiten else None
    if args.vsc:
        if args.queries or args.database:
            raise UserError("give --vsc, or --queries and --database, not both")
        from vidrop.data.vsc import read_vsc

        dirs = args.vsc_videos or (None, None)
        vsc = read_vsc(*args.vsc, query_videos=dirs[0], reference_videos=dirs[1])
        return vsc.queries, vsc.references, whiten, vsc.originals
    if not (args.queries and args.database):
        raise UserError("give --queries and --database (manifests), or --vsc (VSC's CSVs)")
    return read_manifest(args.queries), read_manifest(args.database), whiten, None


def cmd_copydetect(args: argparse.Namespace) -> None:
    from vidrop.eval.copydetect import detect_copies
    from vidrop.eval.features import extract_features

    queries, database, whiten, originals = copy_sets(args)
    model, meta = load(args)
    shown, device = views(args, model, meta), device_name(args.device)
    feats = {
        name: extract_features(
            model,
            m,
            shown,
            batch_size=args.batch_size,
            num_workers=args.workers,
            device=device,
            description=name,
        )
        for name, m in (("database", database), ("whitening", whiten))
        if m
    }
    r = detect_copies(
        model,
        queries,
        feats["database"],
        shown,
        whitening=feats.get("whitening"),
        topk=args.topk,
        batch_size=args.batch_size,
        num_workers=args.workers,
        device=device,
        description="queries",
        originals=originals,
    )
    skipped = f", {r.skipped_queries} skipped: undecodable" if r.skipped_queries else ""
    emit(
        {**r.summary(), "topk": args.topk, "views": shown.to_dict(), "ranks": r.ranks},
        args,
        f"copy detection mAP {r.map:.1f}, µAP {r.uap:.1f}, top-1 {r.top1:.1f}% "
        f"({r.queries} queries, {r.distractor_queries} distractor queries, {r.database} "
        f"database videos, {'whitened' if r.whitened else 'not whitened'}{skipped})",
    )


def add_backbone(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--backbone", required=required, help="export folder, checkpoint, HF folder...")
    p.add_argument("--random-init", action="store_true", help="same architecture, random weights")
    p.add_argument("--seed", type=int, default=0, help="seed of --random-init")
    device_flag(p)


def add_views(p: argparse.ArgumentParser) -> None:
    p.add_argument("--clips", type=int, default=1, help="clips along each video (K400: 5)")
    p.add_argument("--crops", type=int, default=1, choices=[1, 3], help="crops across (K400: 3)")
    p.add_argument("--frames", type=int, default=0, help="frames per clip (0: the backbone's)")
    p.add_argument("--size", type=int, default=0, help="crop side in pixels (0: the backbone's)")
    p.add_argument("--stride", type=int, default=0, help="frame stride (0: the backbone's)")
    p.add_argument(
        "--sampling",
        choices=["stride", "segments"],
        help="clip frames: strided, or one per segment of the video (SSv2); none: the backbone's",
    )
    p.add_argument(
        "--images",
        action="store_true",
        help="the data are images (class folders or a CSV): each one clip of one tubelet",
    )
    p.add_argument("--batch-size", type=int, default=8, help="videos per batch")
    p.add_argument(
        "--workers", type=int, default=None, help="decoding processes (none: cores - 1, max 8)"
    )


def add_probe(p: argparse.ArgumentParser, feature: bool = True) -> None:
    add_backbone(p, required=False)
    add_views(p)
    p.add_argument("--train", help="labelled manifest (or class folders) of the training videos")
    p.add_argument("--val", help="labelled manifest (or class folders) of the videos to classify")
    p.add_argument("--train-features", help="features file from vidrop extract (instead)")
    p.add_argument("--val-features", help="features file from vidrop extract (instead)")
    if feature:
        p.add_argument(
            "--feature",
            default="cls",
            choices=["cls", "mean", "cls+mean"],
            help="what the probe reads",
        )
    p.add_argument("--json", help="also write the result to this JSON file")


def add_propagation(p: argparse.ArgumentParser, names: tuple[str, ...]) -> None:
    p.add_argument("--davis", help="DAVIS-2017 root (JPEGImages/, Annotations/, ImageSets/)")
    p.add_argument("--synth", help="synthetic-set manifest whose videos have masks/ beside them")
    p.add_argument("--limit", type=int, default=0, help="first N sequences only (0: all)")
    add_settings(p, PropagationConfig, names)


def register(sub: argparse._SubParsersAction) -> None:
    suite, att = SuiteConfig(), AttentiveConfig()
    ev = group(sub, "eval", "frozen-backbone evaluation: probes, label propagation, copies")
    k = command(ev, "knn", "weighted kNN top-1 (DINO's protocol)", cmd_knn)
    add_probe(k)
    k.add_argument("--k", type=int_list, default=suite.ks, help="neighbour counts, e.g. 10,20")
    k.add_argument("--temperature", type=float, default=suite.temp, help="votes exp(sim / T)")
    lin = command(ev, "linear", "linear probe, (lr, wd) chosen on held-out train", cmd_linear)
    add_probe(lin)
    add_settings(lin, LinearConfig, LINEAR_FLAGS)
    a = command(ev, "attentive", "V-JEPA's attentive probe over patch tokens", cmd_attentive)
    add_probe(a, feature=False)
    add_settings(a, AttentiveConfig, ATTENTIVE_FLAGS)
    lo = command(ev, "lowshot", "linear and kNN on a share of the labels", cmd_lowshot)
    add_probe(lo)
    lo.add_argument(
        "--fractions",
        type=float_list,
        default=suite.lowshot_fractions,
        help="shares of each class's videos",
    )
    lo.add_argument("--seeds", type=int, default=len(suite.lowshot_seeds), help="draws per share")
    register_propagate(ev)
    register_all(ev, suite, att)
    register_copydetect(ev, suite)


def register_propagate(ev: argparse._SubParsersAction) -> None:
    pr = command(ev, "propagate", "DAVIS-protocol label propagation, J&F", cmd_propagate)
    add_backbone(pr)
    add_propagation(pr, SHARED_PROPAGATION_FLAGS + PROPAGATION_FLAGS)
    pr.add_argument("--json", help="also write the result to this JSON file")


def register_all(ev: argparse._SubParsersAction, suite: SuiteConfig, att: AttentiveConfig) -> None:
    al = command(
        ev, "all", "every probe, every backbone + random init: eval.json, .md, .png", cmd_all
    )
    al.add_argument("--backbone", nargs="+", required=True, help="backbones: PATH or NAME=PATH")
    al.add_argument("--train", required=True, help="labelled manifest of the training videos")
    al.add_argument("--val", required=True, help="labelled manifest of the val videos")
    al.add_argument("--out", required=True, help="folder for eval.json, eval.md and eval.png")
    al.add_argument("--no-random-init", action="store_true", help="skip the random-init rows")
    al.add_argument("--seed", type=int, default=0, help="seed of the random-init baseline")
    device_flag(al)
    al.add_argument(
        "--feature",
        default="cls",
        choices=["cls", "mean", "cls+mean"],
        help="what kNN, linear and low-shot read (CLS-less backbones: mean)",
    )
    al.add_argument("--no-attentive", action="store_true", help="skip the attentive probe")
    al.add_argument(
        "--attentive-min-steps",
        type=int,
        default=att.min_steps,
        help="the attentive probe's --min-steps",
    )
    al.add_argument(
        "--max-token-gib",
        type=float,
        default=suite.max_token_gib,
        help="GiB of patch tokens held in memory; more are read from OUT/tokens",
    )
    al.add_argument("--copies", help="queries manifest of edited copies of the val videos")
    add_views(al)
    add_propagation(al, SHARED_PROPAGATION_FLAGS)


def register_copydetect(ev: argparse._SubParsersAction, suite: SuiteConfig) -> None:
    cd = command(ev, "copydetect", "copy detection mAP and µAP (Copydays, VSC)", cmd_copydetect)
    add_backbone(cd)
    add_views(cd)
    cd.add_argument("--database", help="manifest of the original videos")
    cd.add_argument("--queries", help="manifest of the copies (label: original, empty: none)")
    cd.add_argument(
        "--vsc",
        nargs=3,
        metavar=("QUERIES_CSV", "REFERENCES_CSV", "GROUND_TRUTH_CSV"),
        help="a Video Similarity Challenge split instead of --queries/--database",
    )
    cd.add_argument(
        "--vsc-videos",
        nargs=2,
        metavar=("QUERY_DIR", "REFERENCE_DIR"),
        help="where the VSC videos are (default: query/ and reference/ beside the CSVs)",
    )
    cd.add_argument("--whiten", help="manifest of other videos to fit PCA whitening on")
    cd.add_argument("--topk", type=int, default=suite.copy_topk, help="results scored per query")
    cd.add_argument("--json", help="also write the result to this JSON file")
