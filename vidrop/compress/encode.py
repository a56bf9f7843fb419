"""Encode a manifest's videos into a code store, shard by shard, resumably.

Loader workers decode and resize (PyAV, CPU); the main process assigns codes on the codebook's
device (the GPU when there is one) and writes shards. Under torchrun (or with RANK/WORLD_SIZE
set) each rank takes every WORLD_SIZE-th shard; whichever process finds every shard finished
writes index.json.
"""

from __future__ import annotations

import json
import logging
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from vidrop.atomic import write_bytes_atomic
from vidrop.compress.codebook import Codebook, codes_to_numpy
from vidrop.compress.patches import storage_size
from vidrop.compress.store import (
    FORMAT,
    ShardRecord,
    StoreError,
    StoreWriter,
    VideoEntry,
    finished_shard,
)
from vidrop.data.manifest import read_manifest
from vidrop.data.video import VideoError, iter_frames, probe, resize_frames
from vidrop.machine import command_line, resolve_device
from vidrop.progress import ProgressBar
from vidrop.runlock import FolderLock

log = logging.getLogger(__name__)


class DecodedVideos(Dataset):
    """Whole videos decoded and resized to the storage size; failures come back as reasons."""

    def __init__(self, paths: list[str], short_side: int, patch: int) -> None:
        self.paths, self.short_side, self.patch = paths, short_side, patch

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> dict[str, Any]:
        path = self.paths[i]
        try:
            info = probe(path)
            size = storage_size(info.height, info.width, self.short_side, self.patch)
            chunks = [resize_frames(torch.from_numpy(c), size) for c in iter_frames(path)]
            if not chunks:
                raise VideoError(f"{path}: contains no frames")
            return {"frames": torch.cat(chunks), "fps": info.fps, "error": ""}
        except VideoError as exc:
            return {"frames": None, "fps": 0.0, "error": str(exc)}


@dataclass
class EncodeResult:
    store: Path
    shards_done: int
    shards_skipped: int  # finished by an earlier (stopped) run or another rank
    videos: int
    failed: int
    frames: int
    seconds: float
    complete: bool  # every shard finished and index.json written

    @property
    def frames_per_s(self) -> float:
        return self.frames / max(self.seconds, 1e-9)


def _prepare(out: Path, codebook: Codebook, manifest_src: str, n_videos: int, vps: int) -> None:
    """Create the store's metadata, or check that an existing store was made the same way."""
    meta = {
        "format": FORMAT,
        "patch": codebook.patch,
        "short_side": codebook.meta.short_side,
        "k": codebook.meta.k,
        "manifest": str(Path(manifest_src).resolve()),
        "videos": n_videos,
        "videos_per_shard": vps,
        "shards": -(-n_videos // vps),
    }
    meta_path = out / "store.json"
    if meta_path.exists():
        old = json.loads(meta_path.read_text())
        diff = [k for k in meta if old.get(k) != meta[k]]
        if diff:
            raise StoreError(
                f"{out} holds a store made with other settings ({', '.join(diff)}); "
                "use a new --out folder or delete this one"
            )
        return
    (out / "shards").mkdir(parents=True, exist_ok=True)
    codebook.save(out / "codebook")
    write_bytes_atomic(meta_path, json.dumps(meta, indent=2).encode())


def encode_dataset(
    data: str | Path,
    codebook_path: str | Path,
    out: str | Path,
    videos_per_shard: int = 256,
    workers: int = 2,
    device: str = "auto",
    root: str | None = None,
) -> EncodeResult:
    """Encode every video of `data` into the store `out` (resuming shard by shard), holding the
    store folder's lock (rank 0 under torchrun, where every rank encodes its own shards)."""
    rank = int(os.environ.get("RANK", 0))
    with FolderLock(out, command_line()) if rank == 0 else nullcontext():
        return _encode(data, codebook_path, Path(out), videos_per_shard, workers, device, root)


def _encode(
    data: str | Path,
    codebook_path: str | Path,
    out: Path,
    videos_per_shard: int,
    workers: int,
    device: str,
    root: str | None,
) -> EncodeResult:
    manifest = read_manifest(data, root)  # every missing file reported before any work
    codebook = Codebook.load(codebook_path)
    dev = resolve_device(device, "--device")
    out.mkdir(parents=True, exist_ok=True)
    _prepare(out, codebook, str(data), len(manifest), videos_per_shard)
    codebook = codebook.to(dev)
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    n_shards = -(-len(manifest) // videos_per_shard)
    mine = [s for s in range(n_shards) if s % world == rank]
    todo = [s for s in mine if finished_shard(out, s) is None]
    if len(todo) < len(mine):
        log.info("%s: %d of %d shards already finished", out, len(mine) - len(todo), len(mine))
    shards = {
        s: range(s * videos_per_shard, min((s + 1) * videos_per_shard, len(manifest))) for s in todo
    }
    positions = [i for s in todo for i in shards[s]]
    paths = [manifest.entries[i].path for i in positions]
    decoded = DataLoader(
        DecodedVideos(paths, codebook.meta.short_side, codebook.patch),
        batch_size=None,
        num_workers=workers,
        prefetch_factor=2 if workers else None,
    )
    start = time.perf_counter()
    frames, failed = _encode_shards(out, shards, manifest.entries, iter(decoded), codebook, start)
    complete = write_index_if_complete(out, n_shards)
    return EncodeResult(
        out,
        len(todo),
        len(mine) - len(todo),
        len(positions),
        failed,
        frames,
        time.perf_counter() - start,
        complete,
    )


def _encode_shards(
    out: Path, shards: dict[int, range], entries: list, decoded, codebook: Codebook, start: float
) -> tuple[int, int]:
    """Encode each shard's videos (decoded in order by `decoded`) into its file; a shard is
    finished whole or left unfinished (a rerun redoes it). (frames encoded, videos failed)."""
    frames, failed = 0, 0
    with ProgressBar(sum(len(r) for r in shards.values()), "encode", unit="video") as bar:
        for s, videos in shards.items():
            writer = StoreWriter(out, s)
            try:
                for i in videos:
                    item, e = next(decoded), entries[i]
                    entry = VideoEntry(i, e.path, e.label, s, source_bytes=_size(e.path))
                    codes = None
                    if item["error"]:
                        entry.error = item["error"]
                        failed += 1
                        log.warning("not encoded: %s", item["error"])
                    else:
                        video = item["frames"]
                        codes = codes_to_numpy(codebook.encode(video))
                        entry.frames, entry.fps = int(video.shape[0]), float(item["fps"])
                        entry.grid = (int(codes.shape[1]), int(codes.shape[2]))
                        frames += entry.frames
                    writer.add(entry, codes)
                    rate = frames / max(time.perf_counter() - start, 1e-9)
                    bar.update(1, info=f"{rate:.0f} frames/s, {failed} failed")
                writer.finish()
            except BaseException:
                writer.abort()  # the shard stays unfinished: a rerun redoes it, nothing else
                raise
    return frames, failed


def write_index_if_complete(out: Path, n_shards: int) -> bool:
    records: list[ShardRecord] = []
    for s in range(n_shards):
        record = finished_shard(out, s)
        if record is None:
            return False
        records.append(record)
    index = {"format": FORMAT, "shards": [r.to_json() for r in records]}
    write_bytes_atomic(out / "index.json", json.dumps(index).encode())
    return True


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
