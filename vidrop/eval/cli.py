"""The `vidrop extract`, `vidrop eval ...` and `vidrop viz pca` commands (parsing and wiring only).

Probe commands read features either from a backbone and two manifests (extracted on the fly) or
from two files written by `vidrop extract`, so one extraction serves many probes. Flags default to
the fields of the probes' settings (vidrop.eval.settings), so a default is written once.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict
from pathlib import Path

from vidrop.eval.errors import EvalError
from vidrop.eval.settings import AttentiveConfig, LinearConfig, PropagationConfig, SuiteConfig
from vidrop.machine import command_line
from vidrop.progress import console

log = logging.getLogger("vidrop")


def _device(name: str) -> str:
    from vidrop.eval.features import default_device

    return default_device() if name == "auto" else name


def _backbone(path: str, random_init: bool, seed: int):
    """(model, metadata); with random_init the same architecture with seeded random weights."""
    import torch

    from vidrop.models.load import load_backbone
    from vidrop.models.vit import VideoViT

    model, meta = load_backbone(path)
    if random_init:
        torch.manual_seed(seed)
        model = VideoViT(model.cfg).eval()
    return model, meta


def _display_name(path: str) -> str:
    """`NAME=PATH` names a backbone; otherwise the run folder's name for RUN/export (or its
    backbone.json), a folder's own name, or a file's name without its last suffix."""
    p = Path(path)
    if p.name != "export" and p.parent.name == "export":
        p = p.parent
    if p.name == "export":
        return p.parent.name
    return p.name if p.is_dir() else p.stem


def named_backbones(specs: list[str]) -> dict[str, str]:
    """`--backbone` values -> {name: path}; two backbones of one name are refused (one result
    would silently replace the other)."""
    named: dict[str, str] = {}
    for spec in specs:
        name, path = spec.split("=", 1) if "=" in spec and not Path(spec).exists() else ("", spec)
        name = name or _display_name(path)
        if name in named:
            raise EvalError(
                f"two backbones are named {name!r} ({named[name]} and {path}); name them: "
                f"--backbone NAME1={named[name]} NAME2={path}"
            )
        named[name] = path
    return named


def _views(args: argparse.Namespace, meta: dict, model, name: str = ""):
    """The backbone's training clip (its export records it) unless a flag sets it; a backbone
    that records none (an HF or original VideoMAE, a V-JEPA checkpoint) is shown its config's
    frames and size at stride 4, and the run says so."""
    from vidrop.eval.features import views_of_backbone
    from vidrop.eval.views import EvalViews

    v = views_of_backbone(meta, model, args.clips, args.crops)
    if "eval" not in meta and not args.stride:
        log.warning(
            "%s records no training views: assuming frame stride %d (VideoMAE and V-JEPA on "
            "Kinetics); give --stride if it was trained otherwise",
            name or "the backbone",
            v.stride,
        )
    return EvalViews(
        args.frames or v.frames, args.size or v.size, args.stride or v.stride, v.short_side,
        v.clips, v.crops, args.sampling or v.sampling,
    )  # fmt: skip


def _split_features(args: argparse.Namespace, patch_tokens: bool):
    """(train, val) Features from --train-features/--val-features or --backbone + manifests."""
    from vidrop.data.manifest import read_manifest
    from vidrop.eval.features import Features, extract_features

    if args.train_features or args.val_features:
        if not (args.train_features and args.val_features):
            raise SystemExit("error: give both --train-features and --val-features")
        return Features.load(args.train_features), Features.load(args.val_features)
    if not (args.backbone and args.train and args.val):
        raise SystemExit("error: give --backbone, --train and --val (or the two --*-features)")
    model, meta = _backbone(args.backbone, args.random_init, args.seed)
    views = _views(args, meta, model)
    return tuple(
        extract_features(
            model,
            read_manifest(m),
            views,
            patch_tokens,
            args.batch_size,
            args.workers,
            _device(args.device),
            split,
        )  # fmt: skip
        for split, m in (("train", args.train), ("val", args.val))
    )


def _emit(result: dict, args: argparse.Namespace, line: str) -> None:
    console.print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"command": command_line(), **result}, f, indent=2)


def cmd_extract(args: argparse.Namespace) -> None:
    from vidrop.data.manifest import read_manifest
    from vidrop.eval.features import extract_features

    model, meta = _backbone(args.backbone, args.random_init, args.seed)
    views = _views(args, meta, model)
    manifest = read_manifest(args.data)
    device = _device(args.device)
    if args.snippet_step:
        from vidrop.eval.snippets import extract_snippets

        index = extract_snippets(
            model, manifest, views, args.out, args.snippet_step, args.feature, device
        )
        console.print(
            f"snippet features of {len(index['videos'])} videos in {args.out} "
            f"({len(index['failed'])} unreadable, listed in index.json)"
        )
        return
    feats = extract_features(
        model, manifest, views, args.patch_tokens, args.batch_size, args.workers, device,
        info={"backbone": args.backbone, "random_init": args.random_init},
    )  # fmt: skip
    path = feats.save(args.out)
    console.print(
        f"features of {int(feats.ok.sum())}/{len(feats)} videos x {views.count} views -> {path}"
    )


def cmd_knn(args: argparse.Namespace) -> None:
    from vidrop.eval.knn import knn_accuracy
    from vidrop.eval.labels import probe_sets

    classes, tr, va = probe_sets(*_split_features(args, patch_tokens=False), args.feature)
    ks = tuple(int(k) for k in args.k.split(","))
    acc = knn_accuracy(tr.x, tr.y, va.x, va.y, ks, args.temp)
    text = ", ".join(f"k={k} {a:.2f}%" for k, a in acc.items())
    sizes = f"{len(tr.y)} train, {len(va.y)} val videos, {len(classes)} classes"
    _emit(
        {"knn": acc, "temp": args.temp, "feature": args.feature, "n_train": len(tr.y),
         "n_val": len(va.y), "classes": len(classes), "skipped": tr.skipped + va.skipped},
        args, f"kNN top-1 {text} ({sizes})",
    )  # fmt: skip


def cmd_linear(args: argparse.Namespace) -> None:
    from vidrop.eval.labels import probe_sets
    from vidrop.eval.linear import linear_probe

    classes, tr, va = probe_sets(*_split_features(args, patch_tokens=False), args.feature)
    r = linear_probe(tr, va, len(classes), LinearConfig(epochs=args.epochs), _device(args.device))
    _emit(asdict(r), args, f"linear top-1 {r.top1:.2f}% top-5 {r.top5:.2f}% (lr {r.lr}, wd {r.wd})")


def cmd_attentive(args: argparse.Namespace) -> None:
    from vidrop.eval.attentive import attentive_probe
    from vidrop.eval.labels import probe_sets

    classes, tr, va = probe_sets(*_split_features(args, patch_tokens=True), "patch")
    cfg = AttentiveConfig(epochs=args.epochs, min_steps=args.min_steps)
    r = attentive_probe(tr, va, len(classes), cfg, _device(args.device))
    _emit(asdict(r), args, f"attentive top-1 {r.top1:.2f}% top-5 {r.top5:.2f}% (lr {r.lr})")


def cmd_lowshot(args: argparse.Namespace) -> None:
    from vidrop.eval.labels import probe_sets
    from vidrop.eval.linear import linear_probe
    from vidrop.eval.lowshot import lowshot

    classes, tr, va = probe_sets(*_split_features(args, patch_tokens=False), args.feature)
    device = _device(args.device)
    full = linear_probe(tr, va, len(classes), device=device)  # chooses (lr, wd) on held-out train
    fractions = tuple(float(f) for f in args.fractions.split(","))
    seeds = tuple(range(args.seeds))
    rows = lowshot(tr, va, len(classes), full.lr, full.wd, fractions, seeds, device=device)
    lines = [
        f"{r.fraction:.0%} labels ({r.videos} videos): linear {r.linear_mean:.2f} ± "
        f"{r.linear_std:.2f}, kNN {r.knn_mean:.2f} ± {r.knn_std:.2f}"
        for r in rows
    ]
    _emit({"lr": full.lr, "wd": full.wd, "rows": [asdict(r) for r in rows]}, args, "\n".join(lines))


def propagation_config(args: argparse.Namespace) -> PropagationConfig:
    """`eval propagate`'s or `eval all`'s flags (the latter has no --topk ... --temperature)."""
    d = PropagationConfig()
    return PropagationConfig(
        args.short_side, args.shifts, getattr(args, "topk", d.topk),
        getattr(args, "context", d.context), getattr(args, "radius", d.radius),
        getattr(args, "temperature", d.temperature), args.per_frame,
    )  # fmt: skip


def cmd_propagate(args: argparse.Namespace) -> None:
    from vidrop.eval.suite import propagation_results

    model, _ = _backbone(args.backbone, args.random_init, args.seed)
    source = f"davis:{args.davis}" if args.davis else args.synth
    if not source:
        raise SystemExit("error: give --davis ROOT or --synth MANIFEST")
    cfg = SuiteConfig(
        propagate=source, propagate_limit=args.limit, propagation=propagation_config(args)
    )
    r = propagation_results(model, cfg, _device(args.device), "")
    _emit(
        r, args,
        f"J&F {r['jf_mean']:.2f} (J {r['j_mean']:.2f}, F {r['f_mean']:.2f}) over "
        f"{r['sequences']} sequences, {r['objects']} objects; {len(r['skipped'])} skipped",
    )  # fmt: skip


def suite_config(args: argparse.Namespace) -> SuiteConfig:
    """What `eval all` runs, from its flags."""
    return SuiteConfig(
        attentive=None
        if args.no_attentive
        else AttentiveConfig(min_steps=args.attentive_min_steps),
        max_token_gib=args.max_token_gib,
        propagate=f"davis:{args.davis}" if args.davis else (args.synth or ""),
        propagate_limit=args.limit,
        propagation=propagation_config(args),
        copies=args.copies or "",
    )


def random_floor(model, meta: dict, seed: int):
    """The same architecture at random init, seeded; position tables that a format fixes
    (VideoMAE's sinusoid, V-JEPA's sin-cos) are kept, as a random network of that kind has them."""
    import torch

    from vidrop.models.vit import VideoViT

    torch.manual_seed(seed)
    floor = VideoViT(model.cfg).eval()
    if meta.get("format") in ("hf-videomae", "videomae", "vjepa"):
        floor.pos_embed.data.copy_(model.pos_embed.data)
    return floor


def floors_for(backbones: dict, metas: dict, feature_of, seed: int) -> dict:
    """One random-init floor per distinct (architecture, feature) among `backbones`
    (name -> SuiteBackbone), each backbone's `floor` set to its own; returns the floors."""
    import json as _json

    from vidrop.eval.suite import SuiteBackbone

    keys = {
        n: (_json.dumps(b.model.cfg.to_dict(), sort_keys=True), feature_of(b.model, b.feature))
        for n, b in backbones.items()
    }
    distinct = list(dict.fromkeys(keys.values()))
    floors = {}
    for key in distinct:
        first = next(n for n, k in keys.items() if k == key)
        if len(distinct) == 1:
            name = "random init"
        elif sum(k[1] == key[1] for k in distinct) == 1:
            name = f"random init ({key[1]})"
        else:
            name = f"random init ({first})"
        b = backbones[first]
        floors[name] = SuiteBackbone(random_floor(b.model, metas[first], seed), b.views, key[1])
        for n, k in keys.items():
            if k == key:
                backbones[n].floor = name
    return floors


def cmd_all(args: argparse.Namespace) -> None:
    from vidrop.eval.suite import SuiteBackbone, feature_of, markdown_table, run_suite

    models, metas = {}, {}
    for name, path in named_backbones(args.backbone).items():
        model, meta = _backbone(path, False, 0)
        metas[name] = meta
        models[name] = SuiteBackbone(model, _views(args, meta, model, name), args.feature)
    if not args.no_random_init:
        models.update(floors_for(models, metas, feature_of, args.seed))
    report = run_suite(
        models, args.train, args.val, suite_config(args), args.out, command_line(),
        _device(args.device), args.batch_size, args.workers,
    )  # fmt: skip
    console.print(markdown_table(report))
    console.print(f"wrote {args.out}/eval.json and {args.out}/eval.md")


def cmd_copydetect(args: argparse.Namespace) -> None:
    from vidrop.data.manifest import read_manifest
    from vidrop.eval.copydetect import detect_copies
    from vidrop.eval.features import extract_features

    model, meta = _backbone(args.backbone, args.random_init, args.seed)
    views = _views(args, meta, model)
    device = _device(args.device)
    sets = {"database": args.database, "whitening": args.whiten}
    feats = {
        name: extract_features(
            model, read_manifest(m), views, False, args.batch_size, args.workers, device, name
        )
        for name, m in sets.items()
        if m
    }
    result = detect_copies(
        model, read_manifest(args.queries), feats["database"], views, feats.get("whitening"),
        args.topk, args.batch_size, args.workers, device, "queries",
    )  # fmt: skip
    skipped = f", {result.skipped_queries} skipped: undecodable" if result.skipped_queries else ""
    _emit(
        {**result.summary(), "topk": args.topk, "views": views.to_dict(), "ranks": result.ranks},
        args,
        f"copy detection mAP {result.map:.1f}, top-1 {result.top1:.1f}% ({result.queries} "
        f"queries, {result.distractor_queries} distractor queries, {result.database} database "
        f"videos, {'whitened' if result.whitened else 'not whitened'}{skipped})",
    )


def cmd_viz_pca(args: argparse.Namespace) -> None:
    import numpy as np
    import torch

    from vidrop.data.video import iter_frames
    from vidrop.eval.pca import pca_maps, save_pictures

    model, _ = _backbone(args.backbone, args.random_init, args.seed)
    frames = torch.from_numpy(np.concatenate(list(iter_frames(args.video))))
    frames = frames[args.start :: args.stride][: args.frames]
    if len(frames) == 0:
        raise SystemExit(f"error: {args.video} has no frames from --start {args.start}")
    shown, maps = pca_maps(model, frames, args.short_side, args.shifts)
    out = save_pictures(shown, maps, args.out, args.scale)
    console.print(f"wrote {out['png']} and {out['gif']} ({out['frames']} feature frames)")


def _add_backbone(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--backbone", required=required, help="export folder, checkpoint, HF folder...")
    p.add_argument("--random-init", action="store_true", help="same architecture, random weights")
    p.add_argument("--seed", type=int, default=0, help="seed of --random-init")
    p.add_argument("--device", default="auto", help="cpu, cuda, or auto (default)")


def _add_views(p: argparse.ArgumentParser) -> None:
    p.add_argument("--clips", type=int, default=1, help="clips along each video (K400: 5)")
    p.add_argument("--crops", type=int, default=1, choices=[1, 3], help="crops across (K400: 3)")
    p.add_argument("--frames", type=int, default=0, help="frames per clip (default: backbone's)")
    p.add_argument("--size", type=int, default=0, help="crop size (default: backbone's)")
    p.add_argument("--stride", type=int, default=0, help="frame stride (default: backbone's)")
    p.add_argument(
        "--sampling", choices=["stride", "segments"],
        help="clip frames: strided, or one per segment of the video (SSv2; default: backbone's)",
    )  # fmt: skip
    p.add_argument("--batch-size", type=int, default=8, help="videos per batch")
    p.add_argument(
        "--workers", type=int, default=None, help="decoding processes (default: cores - 1, max 8)"
    )


def _add_probe(p: argparse.ArgumentParser, feature: bool = True) -> None:
    _add_backbone(p, required=False)
    _add_views(p)
    p.add_argument("--train", help="labelled manifest of the training videos")
    p.add_argument("--val", help="labelled manifest of the videos to classify")
    p.add_argument("--train-features", help="features file from vidrop extract (instead)")
    p.add_argument("--val-features", help="features file from vidrop extract (instead)")
    if feature:
        p.add_argument("--feature", default="cls", choices=["cls", "mean", "cls+mean"])
    p.add_argument("--json", help="also write the result to this JSON file")


def _add_propagation(p: argparse.ArgumentParser) -> None:
    p.add_argument("--davis", help="DAVIS-2017 root (JPEGImages/, Annotations/, ImageSets/)")
    p.add_argument("--synth", help="synthetic-set manifest whose videos have masks/ beside them")
    p.add_argument("--limit", type=int, default=0, help="first N sequences only")
    d = PropagationConfig()
    p.add_argument(
        "--short-side", type=int, default=d.short_side, help="resize frames first (0: keep)"
    )
    p.add_argument("--shifts", type=int, default=d.shifts, help="n: n-times finer grid, n^2 passes")
    p.add_argument(
        "--per-frame", action="store_true",
        help="each frame alone as a one-tubelet clip (the paper's DAVIS protocol)",
    )  # fmt: skip


def add_parsers(sub: argparse._SubParsersAction, ev: argparse._SubParsersAction) -> None:
    """`extract` and `viz` under the top level, the probes under `eval`."""
    suite, att, prop = SuiteConfig(), AttentiveConfig(), PropagationConfig()  # the flags' defaults
    x = sub.add_parser("extract", help="frozen features of every test view, or per-snippet")
    _add_backbone(x)
    _add_views(x)
    x.add_argument("--data", required=True, help="manifest of the videos")
    x.add_argument("--out", required=True, help="FILE.safetensors, or a folder with --snippet-step")
    x.add_argument("--patch-tokens", action="store_true", help="also keep all patch tokens (fp16)")
    x.add_argument("--feature", default="cls", choices=["cls", "mean", "cls+mean"])
    x.add_argument(
        "--snippet-step", type=int, default=0, help="per-snippet features every N frames (TAD)"
    )
    x.set_defaults(func=cmd_extract)

    k = ev.add_parser("knn", help="weighted kNN top-1 (DINO protocol)")
    _add_probe(k)
    k.add_argument(
        "--k", default=",".join(map(str, suite.ks)), help="comma-separated neighbour counts"
    )
    k.add_argument("--temp", type=float, default=suite.temp)
    k.set_defaults(func=cmd_knn)

    lin = ev.add_parser("linear", help="linear probe, (lr, wd) grid chosen on held-out train")
    _add_probe(lin)
    lin.add_argument("--epochs", type=int, default=suite.linear.epochs)
    lin.set_defaults(func=cmd_linear)

    a = ev.add_parser("attentive", help="V-JEPA attentive probe over patch tokens")
    _add_probe(a, feature=False)
    a.add_argument("--epochs", type=int, default=att.epochs, help="at least this many (V-JEPA: 20)")
    a.add_argument(
        "--min-steps", type=int, default=att.min_steps, help="and at least this many steps"
    )
    a.set_defaults(func=cmd_attentive)

    lo = ev.add_parser("lowshot", help="linear and kNN with a share of the labels, several seeds")
    _add_probe(lo)
    lo.add_argument(
        "--fractions",
        default=",".join(map(str, suite.lowshot_fractions)),
        help="shares of each class's videos",
    )
    lo.add_argument("--seeds", type=int, default=len(suite.lowshot_seeds))
    lo.set_defaults(func=cmd_lowshot)

    pr = ev.add_parser("propagate", help="DAVIS-protocol label propagation, J&F")
    _add_backbone(pr)
    _add_propagation(pr)
    pr.add_argument("--topk", type=int, default=prop.topk, help="votes per cell (DINO: 5)")
    pr.add_argument("--context", type=int, default=prop.context, help="previous frames used")
    pr.add_argument(
        "--radius", type=int, default=prop.radius, help="neighbourhood in feature cells"
    )
    pr.add_argument("--temperature", type=float, default=prop.temperature)
    pr.add_argument("--json", help="also write the result to this JSON file")
    pr.set_defaults(func=cmd_propagate)

    al = ev.add_parser("all", help="every probe, every backbone + random init: eval.json + eval.md")
    al.add_argument("--backbone", nargs="+", required=True, help="one or more backbones")
    al.add_argument("--train", required=True)
    al.add_argument("--val", required=True)
    al.add_argument("--out", required=True, help="folder for eval.json and eval.md")
    al.add_argument("--no-random-init", action="store_true", help="skip the random-init row")
    al.add_argument("--seed", type=int, default=0, help="seed of the random-init baseline")
    al.add_argument("--device", default="auto")
    al.add_argument("--feature", default="cls", choices=["cls", "mean", "cls+mean"])
    al.add_argument("--no-attentive", action="store_true", help="skip the attentive probe")
    al.add_argument(
        "--attentive-min-steps", type=int, default=att.min_steps, help="the attentive --min-steps"
    )
    al.add_argument(
        "--max-token-gib",
        type=float,
        default=suite.max_token_gib,
        help="GiB of patch tokens held in memory; more are read from OUT/tokens on disk",
    )
    al.add_argument(
        "--copies", help="queries manifest of edited copies of the val videos (vidrop data copies)"
    )
    _add_views(al)
    _add_propagation(al)
    al.set_defaults(func=cmd_all)

    cd = ev.add_parser("copydetect", help="copy detection mAP (DINO's Copydays protocol)")
    _add_backbone(cd)
    _add_views(cd)
    cd.add_argument("--database", required=True, help="manifest of the original videos")
    cd.add_argument(
        "--queries", required=True, help="manifest of the copies, label = the original's file name"
    )
    cd.add_argument("--whiten", help="manifest of other videos to fit PCA whitening on")
    cd.add_argument(
        "--topk", type=int, default=suite.copy_topk, help="results scored per query (DINO: 20)"
    )
    cd.add_argument("--json", help="also write the result to this JSON file")
    cd.set_defaults(func=cmd_copydetect)

    viz = sub.add_parser("viz", help="pictures").add_subparsers(dest="viz_command", required=True)
    pc = viz.add_parser("pca", help="PCA of patch features as RGB: PNG grid + animated GIF")
    _add_backbone(pc)
    pc.add_argument("--video", required=True)
    pc.add_argument("--out", required=True, help="OUT -> OUT.png and OUT.gif")
    pc.add_argument("--frames", type=int, default=16, help="frames taken (after --stride)")
    pc.add_argument("--start", type=int, default=0, help="first frame")
    pc.add_argument("--stride", type=int, default=1, help="take every Nth frame")
    pc.add_argument("--short-side", type=int, default=0, help="resize frames first (0: keep)")
    pc.add_argument("--shifts", type=int, default=1, help="n-times finer feature grid")
    pc.add_argument("--scale", type=int, default=1, help="enlarge the pictures by this factor")
    pc.set_defaults(func=cmd_viz_pca)
