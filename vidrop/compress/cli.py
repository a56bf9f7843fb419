"""`vidrop compress fit | encode | verify | stats`: argument parsing and printing only."""

from __future__ import annotations

import argparse
import json
from typing import Any

from vidrop.progress import console


def cmd_fit(args: argparse.Namespace) -> None:
    from vidrop.compress.fit import fit_codebook

    cb = fit_codebook(
        args.data,
        args.out,
        patch=args.patch,
        clusters=args.clusters,
        samples=args.samples,
        short_side=args.short_side,
        iterations=args.iterations,
        seed=args.seed,
        device=args.device,
        workers=args.workers,
        init=args.init,
    )
    st = cb.meta.stats
    console.print(
        f"codebook {args.out}: k={cb.meta.k}, {cb.meta.patch}x{cb.meta.patch} patches, "
        f"{st['samples']} samples, {st['iterations']} iterations, "
        f"train PSNR {st['train_psnr_db']:.2f} dB, k-means {st['kmeans_s']:.0f} s on {st['device']}"
    )


def cmd_encode(args: argparse.Namespace) -> None:
    from vidrop.compress.encode import encode_dataset

    r = encode_dataset(
        args.data, args.codebook, args.out, args.videos_per_shard, args.workers, args.device
    )
    state = "complete" if r.complete else "this rank's shards done; others still running"
    console.print(
        f"{r.store}: {r.videos} videos encoded in {r.shards_done} shards "
        f"({r.shards_skipped} already finished), {r.failed} failed, "
        f"{r.frames} frames at {r.frames_per_s:.0f} frames/s; {state}"
    )


def cmd_verify(args: argparse.Namespace) -> None:
    from vidrop.compress.stats import verify_store

    r = verify_store(args.store)
    for problem in r.problems:
        console.print(f"[red]{problem}[/red]")
    if not r.ok:
        raise SystemExit(f"error: {args.store} failed verification ({len(r.problems)} problems)")
    console.print(f"{args.store}: {r.shards} shards, {r.videos} videos, checksums ok")


def cmd_stats(args: argparse.Namespace) -> None:
    from vidrop.compress.stats import store_stats

    s = store_stats(args.store, args.sample_videos, args.sample_frames, args.seed)
    _print_stats(s)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(s, f, indent=2)


def _print_stats(s: dict[str, Any]) -> None:
    psnr = f"{s['psnr_db']:.2f} dB" if s["psnr_db"] is not None else "n/a (sources unreadable)"
    src = s["factor_vs_source_files"]
    console.print(
        f"{s['store']}: {s['videos']} videos ({s['failed']} failed), {s['frames']} frames, "
        f"k={s['k']}, {s['patch']}x{s['patch']} patches\n"
        f"PSNR vs source frames: {psnr} on {s['psnr_sample']['videos']} videos x "
        f"{s['psnr_sample']['frames_per_video']} frames\n"
        f"compression: {s['factor_vs_raw']:.1f}x vs raw uint8 frames, "
        f"{src:.2f}x vs the source files"
        + (" (the store is smaller)" if src and src > 1 else " (the store is larger)")
    )


def add_parser(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser("compress", help="k-means compressed video storage").add_subparsers(
        dest="compress_command", required=True
    )
    f = c.add_parser("fit", help="fit a codebook of pixel patches by k-means")
    f.add_argument("--data", required=True, help="manifest of the videos to sample patches from")
    f.add_argument("--out", required=True, help="codebook path (writes .safetensors and .json)")
    f.add_argument("--patch", type=int, default=10, help="patch side in pixels (default: 10)")
    f.add_argument("--clusters", type=int, default=65536, help="k, at most 65536 (uint16 codes)")
    f.add_argument("--samples", type=int, default=2_000_000, help="patches to fit on")
    f.add_argument("--short-side", type=int, default=240, help="storage short side (0: as is)")
    f.add_argument("--iterations", type=int, default=20)
    f.add_argument("--init", default="auto", choices=["auto", "kmeans++", "sample"])
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--device", default="auto", help="auto (GPU when there is one), cpu, cuda")
    f.add_argument("--workers", type=int, default=2, help="decoding processes")
    f.set_defaults(func=cmd_fit)

    e = c.add_parser("encode", help="encode every video to codes in a sharded store (resumes)")
    e.add_argument("--data", required=True, help="manifest of the videos (path[,label])")
    e.add_argument("--codebook", required=True, help="from `vidrop compress fit`")
    e.add_argument("--out", required=True, help="store folder")
    e.add_argument("--videos-per-shard", type=int, default=256)
    e.add_argument("--workers", type=int, default=2, help="decoding processes")
    e.add_argument("--device", default="auto", help="where codes are assigned")
    e.set_defaults(func=cmd_encode)

    v = c.add_parser("verify", help="check a store's checksums and index")
    v.add_argument("store")
    v.set_defaults(func=cmd_verify)

    s = c.add_parser("stats", help="PSNR against the source videos and compression factors")
    s.add_argument("store")
    s.add_argument("--sample-videos", type=int, default=16)
    s.add_argument("--sample-frames", type=int, default=8, help="frames per sampled video")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--json", help="also write the figures to this JSON file")
    s.set_defaults(func=cmd_stats)
