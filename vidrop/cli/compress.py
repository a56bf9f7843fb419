"""`vidrop compress fit | encode | verify | stats`: k-means compressed video storage."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from vidrop.atomic import write_json_atomic
from vidrop.cli.common import UserError, command, group, out_file, out_folder, results


def cmd_fit(args: argparse.Namespace) -> None:
    from vidrop.compress.fit import fit_codebook

    out_file(args.out_file)
    cb = fit_codebook(
        args.data,
        args.out_file,
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
    results.print(
        f"codebook {args.out_file}: k={cb.meta.k}, {cb.meta.patch}x{cb.meta.patch} patches, "
        f"{st['samples']} samples, {st['iterations']} iterations, "
        f"train PSNR {st['train_psnr_db']:.2f} dB, k-means {st['kmeans_s']:.0f} s on {st['device']}"
    )


def cmd_encode(args: argparse.Namespace) -> None:
    from vidrop.compress.encode import encode_dataset

    out_folder(args.out)
    r = encode_dataset(
        args.data, args.codebook, args.out, args.videos_per_shard, args.workers, args.device
    )
    state = "complete" if r.complete else "this rank's shards done; others still running"
    results.print(
        f"{r.store}: {r.videos} videos encoded in {r.shards_done} shards "
        f"({r.shards_skipped} already finished), {r.failed} failed, "
        f"{r.frames} frames at {r.frames_per_s:.0f} frames/s; {state}"
    )


def _existing_store(path: str) -> None:
    if not Path(path).exists():
        raise UserError(f"{path} does not exist; give a store made by `vidrop compress encode`")


def cmd_verify(args: argparse.Namespace) -> None:
    from vidrop.compress.stats import verify_store

    _existing_store(args.store)
    r = verify_store(args.store)
    for problem in r.problems:
        results.print(f"[red]{problem}[/red]")
    if not r.ok:
        raise SystemExit(f"error: {args.store} failed verification ({len(r.problems)} problems)")
    results.print(f"{args.store}: {r.shards} shards, {r.videos} videos, checksums ok")


def cmd_stats(args: argparse.Namespace) -> None:
    from vidrop.compress.stats import store_stats

    _existing_store(args.store)
    s = store_stats(args.store, args.sample_videos, args.sample_frames, args.seed)
    _print_stats(s)
    if args.json:
        write_json_atomic(args.json, s)


def _print_stats(s: dict[str, Any]) -> None:
    psnr = f"{s['psnr_db']:.2f} dB" if s["psnr_db"] is not None else "n/a (sources unreadable)"
    src = s["factor_vs_source_files"]
    results.print(
        f"{s['store']}: {s['videos']} videos ({s['failed']} failed), {s['frames']} frames, "
        f"k={s['k']}, {s['patch']}x{s['patch']} patches\n"
        f"PSNR vs source frames: {psnr} on {s['psnr_sample']['videos']} videos x "
        f"{s['psnr_sample']['frames_per_video']} frames\n"
        f"compression: {s['factor_vs_raw']:.1f}x vs raw uint8 frames, "
        f"{src:.2f}x vs the source files"
        + (" (the store is smaller)" if src and src > 1 else " (the store is larger)")
    )


def register(sub: argparse._SubParsersAction) -> None:
    c = group(sub, "compress", "k-means compressed video storage")
    f = command(c, "fit", "fit a codebook of pixel patches by k-means", cmd_fit)
    f.add_argument("--data", required=True, help="manifest of the videos to sample patches from")
    f.add_argument(
        "--out-file", required=True, help="codebook path: writes PATH.safetensors and PATH.json"
    )
    f.add_argument("--patch", type=int, default=10, help="patch side, pixels")
    f.add_argument("--clusters", type=int, default=65536, help="k, at most 65536 (uint16 codes)")
    f.add_argument("--samples", type=int, default=2_000_000, help="patches to fit on")
    f.add_argument("--short-side", type=int, default=240, help="storage short side (0: as is)")
    f.add_argument("--iterations", type=int, default=20, help="k-means iterations")
    f.add_argument(
        "--init",
        default="auto",
        choices=["auto", "kmeans++", "sample"],
        help="k-means initialisation",
    )
    f.add_argument("--seed", type=int, default=0, help="sampling and initialisation seed")
    f.add_argument("--device", default="auto", help="auto (GPU when there is one), cpu, cuda")
    f.add_argument("--workers", type=int, default=2, help="decoding processes")
    e = command(c, "encode", "encode every video to codes in a sharded store (resumes)", cmd_encode)
    e.add_argument("--data", required=True, help="manifest of the videos (path[,label])")
    e.add_argument("--codebook", required=True, help="from `vidrop compress fit`")
    e.add_argument("--out", required=True, help="store folder")
    e.add_argument("--videos-per-shard", type=int, default=256, help="videos per shard file")
    e.add_argument("--workers", type=int, default=2, help="decoding processes")
    e.add_argument("--device", default="auto", help="where codes are assigned")
    v = command(c, "verify", "check a store's checksums and index", cmd_verify)
    v.add_argument("store", help="store folder")
    s = command(c, "stats", "PSNR against the source videos and compression factors", cmd_stats)
    s.add_argument("store", help="store folder")
    s.add_argument("--sample-videos", type=int, default=16, help="videos the PSNR is measured on")
    s.add_argument("--sample-frames", type=int, default=8, help="frames per sampled video")
    s.add_argument("--seed", type=int, default=0, help="seed of the sample")
    s.add_argument("--json", help="also write the figures to this JSON file")
