"""The code store: shards of contiguous uint16 codes, an index, and per-shard checksums.

Layout of STORE/:
  codebook.safetensors, codebook.json   the codebook (a copy: the store stands alone)
  store.json                            format, patch, storage short side, shard plan, sources
  shards/shard-00007.codes              raw little-endian uint16, videos one after another,
                                        each (frames, gh, gw) in C order: memory-mappable
  shards/shard-00007.json               the shard's videos (offset, frames, fps, grid, label,
                                        source path, the CRC32 of its codes, or the reason it
                                        failed) and its sha256; written last, so its presence
                                        marks the shard finished
  index.json                            all shards' videos in manifest order, written at the end

A video's place never depends on which process encoded it: shard s holds manifest videos
[s * videos_per_shard, (s + 1) * videos_per_shard), so a stopped encode resumes shard by shard.

Reading checks what it reads: opening a store checks every shard's size (a truncated or missing
shard is one error naming it), and `checked_codes` checks a video's codes against their CRC32
(stores written before it: the shard's sha256, once per process) and the codebook's size, so a
changed video is refused where it is read, as an unreadable video is, and no code >= k ever
reaches a table lookup.
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vidrop.atomic import write_bytes_atomic
from vidrop.compress.codebook import Codebook
from vidrop.data.video import VideoError
from vidrop.errors import VidropError

FORMAT = "vidrop-store/1"
CODE_DTYPE = np.dtype("<u2")


class StoreError(VidropError, RuntimeError):
    """A store that is missing, unfinished or fails its checksums."""


@dataclass
class VideoEntry:
    index: int  # position in the source manifest
    path: str  # the source video
    label: str | None
    shard: int
    offset: int = 0  # in codes, from the start of the shard file
    frames: int = 0
    fps: float = 0.0
    grid: tuple[int, int] = (0, 0)  # (gh, gw) patches per frame
    source_bytes: int = 0
    error: str = ""  # why the video could not be encoded ("" when it was)
    crc32: int | None = None  # of its codes' bytes (None: a store written before the check)

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def n_codes(self) -> int:
        return self.frames * self.grid[0] * self.grid[1]


@dataclass
class ShardRecord:
    shard: int
    file: str
    bytes: int
    sha256: str
    videos: list[VideoEntry]

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "videos": [asdict(v) for v in self.videos]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ShardRecord:
        videos = [VideoEntry(**{**v, "grid": tuple(v["grid"])}) for v in d["videos"]]
        return cls(d["shard"], d["file"], d["bytes"], d["sha256"], videos)


def sha256_file(path: Path, block: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


def shard_name(shard: int) -> str:
    return f"shard-{shard:05d}"


class StoreWriter:
    """Writes one shard at a time: codes appended to a temporary file, then the record."""

    def __init__(self, root: Path, shard: int) -> None:
        self.root, self.shard = root, shard
        self.codes_path = root / "shards" / f"{shard_name(shard)}.codes"
        self.tmp = self.codes_path.with_name(self.codes_path.name + ".tmp")
        self.file = open(self.tmp, "wb")  # noqa: SIM115 (closed in finish)
        self.offset = 0
        self.videos: list[VideoEntry] = []

    def add(self, entry: VideoEntry, codes: np.ndarray | None) -> None:
        entry.shard, entry.offset = self.shard, self.offset
        if codes is not None:
            data = np.ascontiguousarray(codes, dtype=CODE_DTYPE)
            entry.crc32 = zlib.crc32(data.data)
            self.file.write(data.tobytes())
            self.offset += data.size
        self.videos.append(entry)

    def finish(self) -> ShardRecord:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self.tmp, self.codes_path)
        record = ShardRecord(
            self.shard,
            self.codes_path.name,
            self.codes_path.stat().st_size,
            sha256_file(self.codes_path),
            self.videos,
        )
        record_path = self.codes_path.with_suffix(".json")
        write_bytes_atomic(record_path, json.dumps(record.to_json(), indent=1).encode())
        return record

    def abort(self) -> None:
        self.file.close()
        self.tmp.unlink(missing_ok=True)


def finished_shard(root: Path, shard: int) -> ShardRecord | None:
    """The shard's record if it was finished (its record written and its size right)."""
    record_path = root / "shards" / f"{shard_name(shard)}.json"
    if not record_path.exists():
        return None
    record = ShardRecord.from_json(json.loads(record_path.read_text()))
    codes = root / "shards" / record.file
    if not codes.exists() or codes.stat().st_size != record.bytes:
        return None
    return record


class CodeStore:
    """Read side: the index, memory-mapped shards, and the codebook."""

    def __init__(self, root: str | Path, check_sizes: bool = True) -> None:
        self.root = Path(root)
        meta_path, index_path = self.root / "store.json", self.root / "index.json"
        if not meta_path.exists():
            raise StoreError(
                f"{self.root} is not a code store (no store.json): make one with "
                "`vidrop compress encode`"
            )
        if not index_path.exists():
            raise StoreError(
                f"{self.root} has no index.json: its encode did not finish; run the same "
                "`vidrop compress encode` command again to resume it"
            )
        self.meta = json.loads(meta_path.read_text())
        if self.meta.get("format") != FORMAT:
            raise StoreError(f"{meta_path}: not a {FORMAT} store")
        index = json.loads(index_path.read_text())
        self.shards = {r.shard: r for r in map(ShardRecord.from_json, index["shards"])}
        self.videos = [v for r in self.shards.values() for v in r.videos if v.ok]
        self.videos.sort(key=lambda v: v.index)
        self.failed = [v for r in self.shards.values() for v in r.videos if not v.ok]
        self.codebook = Codebook.load(self.root / "codebook")
        self._maps: dict[int, np.ndarray] = {}
        self._sound_shards: set[int] = set()  # shards whose sha256 this process has checked
        self._sound_videos: set[int] = set()  # videos whose codes this process has checked
        if check_sizes:
            self.check_sizes()

    def check_sizes(self) -> None:
        """Every shard there at the size the index gives, or a StoreError naming the first that
        is not (cheap: no file is read)."""
        for record in self.shards.values():
            path = self.root / "shards" / record.file
            size = path.stat().st_size if path.exists() else None
            if size != record.bytes:
                found = "is missing" if size is None else f"has {size} bytes"
                raise StoreError(
                    f"{path} {found}, the store's index says {record.bytes}: it was truncated or "
                    f"replaced after encoding; run `vidrop compress verify {self.root}` and encode "
                    "the store again"
                )

    def __len__(self) -> int:
        return len(self.videos)

    @property
    def patch(self) -> int:
        return int(self.meta["patch"])

    def _map(self, shard: int) -> np.ndarray:
        if shard not in self._maps:  # opened lazily: each loader worker maps its own view
            path = self.root / "shards" / self.shards[shard].file
            if self.shards[shard].bytes == 0:
                self._maps[shard] = np.zeros(0, CODE_DTYPE)
            else:
                self._maps[shard] = np.memmap(path, dtype=CODE_DTYPE, mode="r")
        return self._maps[shard]

    def codes(self, position: int) -> np.ndarray:
        """The codes of the store's `position`-th video: a (frames, gh, gw) uint16 memory map."""
        v = self.videos[position]
        flat = self._map(v.shard)[v.offset : v.offset + v.n_codes]
        return flat.reshape(v.frames, *v.grid)

    def checked_codes(self, position: int, remember: bool = True) -> np.ndarray:
        """`codes(position)` once they pass their checks (once per process and video: a store is
        read-only while it trains; `remember=False` checks the video on every read): the video's
        CRC32 (or, in a store written without one, its shard's sha256, once per process either
        way) and every code below the codebook's size; VideoError naming the video otherwise (a
        run skips it and goes on)."""
        codes = self.codes(position)
        if remember and position in self._sound_videos:
            return codes
        v = self.videos[position]
        if v.crc32 is not None:
            if zlib.crc32(np.ascontiguousarray(codes).data) != v.crc32:
                raise self._changed(v, "their CRC32 differs from the one stored at encoding")
        elif v.shard not in self._sound_shards:
            path = self.root / "shards" / self.shards[v.shard].file
            if sha256_file(path) != self.shards[v.shard].sha256:
                raise self._changed(v, f"{path}'s sha256 differs from the index")
            self._sound_shards.add(v.shard)
        k = len(self.codebook.table)
        if codes.size and int(codes.max()) >= k:
            raise self._changed(v, f"they hold code {int(codes.max())}, not below k={k}")
        self._sound_videos.add(position)
        return codes

    def _changed(self, v: VideoEntry, why: str) -> VideoError:
        return VideoError(
            f"{v.path}: its codes in {self.root} were changed after encoding ({why}); run "
            f"`vidrop compress verify {self.root}`"
        )

    def __getstate__(self) -> dict[str, Any]:  # sent to loader workers without open maps
        state = dict(self.__dict__)
        state["_maps"], state["_sound_shards"], state["_sound_videos"] = {}, set(), set()
        return state
