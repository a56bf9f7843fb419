"""Check a store (checksums, bounds) and measure it (PSNR against the source, compression)."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidrop.compress.patches import compression_factor
from vidrop.compress.store import CodeStore, VideoEntry, sha256_file
from vidrop.data.video import VideoError, read_frames, resize_frames


@dataclass
class VerifyReport:
    shards: int
    videos: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_store(root: str | Path) -> VerifyReport:
    """Every shard's size and sha256 against the index, every video inside its shard, every code
    below k. A flipped byte anywhere in the codes shows up as a checksum mismatch."""
    store = CodeStore(root, check_sizes=False)  # sizes are reported below, not refused
    report = VerifyReport(len(store.shards), len(store.videos))
    k = store.codebook.meta.k
    for s, record in sorted(store.shards.items()):
        path = store.root / "shards" / record.file
        if not path.exists():
            report.problems.append(f"{path}: missing")
            continue
        if path.stat().st_size != record.bytes:
            report.problems.append(
                f"{path}: {path.stat().st_size} bytes, index says {record.bytes}"
            )
            continue
        if sha256_file(path) != record.sha256:
            report.problems.append(f"{path}: sha256 differs from the index (the file changed)")
            report.problems += _changed_videos(store, record.videos)
            continue
        for v in record.videos:
            if v.ok and (v.offset + v.n_codes) * 2 > record.bytes:
                report.problems.append(f"{v.path}: its codes run past the end of {path}")
        if record.bytes and int(np.asarray(store._map(s)).max()) >= k:
            report.problems.append(f"{path}: holds codes >= k={k}")
    return report


def _changed_videos(store: CodeStore, videos: list[VideoEntry]) -> list[str]:
    """The videos of a changed shard whose codes no longer match their CRC32 (stores written
    with one), each named: what a training run would skip."""
    position = {v.path: i for i, v in enumerate(store.videos)}
    out = []
    for v in videos:
        if v.ok and v.crc32 is not None and v.path in position:
            codes = np.ascontiguousarray(store.codes(position[v.path]))
            if zlib.crc32(codes.data) != v.crc32:
                out.append(f"{v.path}: its codes differ from their CRC32")
    return out


def psnr(mse: float) -> float:
    return 10 * math.log10(255**2 / mse) if mse > 0 else math.inf


def store_stats(
    root: str | Path, sample_videos: int = 16, frames_per_video: int = 8, seed: int = 0
) -> dict[str, Any]:
    """PSNR (dB) of the stored frames against the source frames at the storage size, on a sample
    of videos and frames; compression against raw uint8 frames and against the source files."""
    store = CodeStore(root)
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(store), min(sample_videos, len(store)), replace=False)
    sq_err, n_values, per_video = 0.0, 0, []
    for pos in sorted(picks.tolist()):
        v = store.videos[pos]
        idx = np.sort(rng.choice(v.frames, min(frames_per_video, v.frames), replace=False))
        try:
            source = torch.from_numpy(read_frames(v.path, idx.tolist()))
        except VideoError:
            continue  # the source moved or broke since encoding: measure the others
        ref = resize_frames(source, (v.grid[0] * store.patch, v.grid[1] * store.patch))
        rec = store.codebook.decode(torch.from_numpy(store.codes(pos)[idx].astype(np.int64)))
        err = ((ref.double() - rec.double()) ** 2).sum().item()
        sq_err, n_values = sq_err + err, n_values + ref.numel()
        per_video.append({"path": v.path, "psnr_db": psnr(err / ref.numel())})
    frames = sum(v.frames for v in store.videos)
    code_bytes = sum(r.bytes for r in store.shards.values())
    raw_bytes = sum(v.frames * v.grid[0] * v.grid[1] * store.patch**2 * 3 for v in store.videos)
    source_bytes = sum(v.source_bytes for v in store.videos)
    return {
        "store": str(store.root),
        "videos": len(store),
        "failed": len(store.failed),
        "frames": frames,
        "k": store.codebook.meta.k,
        "patch": store.patch,
        "psnr_db": psnr(sq_err / n_values) if n_values else None,
        "psnr_sample": {"videos": len(per_video), "frames_per_video": frames_per_video},
        "per_video": per_video,
        "code_bytes": code_bytes,
        "factor_vs_raw": raw_bytes / code_bytes if code_bytes else None,
        "factor_vs_raw_formula": compression_factor(store.patch),
        "factor_vs_source_files": source_bytes / code_bytes if code_bytes else None,
    }
