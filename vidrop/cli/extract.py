"""`vidrop extract`: frozen features of every test view, once, for many probes (or per-snippet
features for temporal action detection)."""

from __future__ import annotations

import argparse

from vidrop.cli.common import UserError, command, device_name, out_file, out_folder, results
from vidrop.cli.eval import add_backbone, add_views, load, views


def cmd_extract(args: argparse.Namespace) -> None:
    from vidrop.data.manifest import read_manifest
    from vidrop.eval.features import extract_features

    if bool(args.snippet_step) == bool(args.out_file):
        raise UserError("give --out-file FILE.safetensors, or --snippet-step N with --out FOLDER")
    target = out_folder(args.out) if args.snippet_step else out_file(args.out_file)
    model, meta = load(args)
    shown, device = views(args, model, meta), device_name(args.device)
    manifest = read_manifest(args.data)
    if args.snippet_step:
        from vidrop.eval.snippets import extract_snippets

        index = extract_snippets(
            model, manifest, shown, target, args.snippet_step, args.feature, device
        )
        results.print(
            f"snippet features of {len(index['videos'])} videos in {target} "
            f"({len(index['failed'])} unreadable, listed in index.json)"
        )
        return
    feats = extract_features(
        model,
        manifest,
        shown,
        patch_tokens=args.patch_tokens,
        batch_size=args.batch_size,
        num_workers=args.workers,
        device=device,
        info={"backbone": args.backbone, "random_init": args.random_init},
    )
    path = feats.save(target)
    results.print(
        f"features of {int(feats.ok.sum())}/{len(feats)} videos x {shown.count} views -> {path}"
    )


def register(sub: argparse._SubParsersAction) -> None:
    x = command(sub, "extract", "frozen features of every test view, or per snippet", cmd_extract)
    add_backbone(x)
    add_views(x)
    x.add_argument("--data", required=True, help="manifest of the videos")
    x.add_argument("--out-file", help="features file to write (FILE.safetensors)")
    x.add_argument("--out", help="folder of per-snippet features (with --snippet-step)")
    x.add_argument("--patch-tokens", action="store_true", help="also keep all patch tokens (fp16)")
    x.add_argument(
        "--feature", default="cls", choices=["cls", "mean", "cls+mean"], help="snippet feature"
    )
    x.add_argument(
        "--snippet-step",
        type=int,
        default=0,
        help="per-snippet features every N frames (temporal action detection)",
    )
