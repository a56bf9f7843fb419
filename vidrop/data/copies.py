"""Edited copies of videos, the queries of a copy-detection benchmark.

Each copy is its original cropped (a random window of 50-90% of the area, resized back), maybe
mirrored, blurred by a round trip through a lower resolution, with brightness and contrast
changed, noise added and a stretch of frames cut from the start and the end: the edits a
re-upload goes through. queries.csv lists every copy with its original's file name as the label
(empty for distractor copies, made from videos that are not in the database), the layout
`vidrop eval copydetect` reads.

The copies are written losslessly by default (`crf=0`): lossy x264 encodes through PyAV are not
repeatable here (the same frames encoded 12 times in one process gave up to 7 different files;
neither one thread nor converting to yuv420p first made every case repeatable), and a benchmark
whose queries change from run to run cannot compare two backbones measured on different days.
The resolution round trip stands in for the compression loss.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from vidrop.atomic import atomic_path, write_text_atomic
from vidrop.data.manifest import Manifest
from vidrop.data.video import VideoError, iter_frames, probe, resize_frames, write_video
from vidrop.progress import ProgressBar


@dataclass(frozen=True)
class CopyEdits:
    """How strongly each copy is edited (each drawn uniformly up to these bounds)."""

    area: tuple[float, float] = (0.5, 0.9)  # share of the frame the crop keeps
    aspect: tuple[float, float] = (3 / 4, 4 / 3)  # the crop's change of aspect ratio
    flip: float = 0.5  # probability of a mirror image
    brightness: float = 0.25  # added, as a share of 255, either sign
    contrast: float = 0.3  # gain 1 +/- this
    scale: tuple[float, float] = (0.4, 0.8)  # down to this share of the size and back up
    noise: float = 6.0  # std of Gaussian noise in grey levels
    trim: float = 0.2  # at most this share of the frames cut at each end
    crf: int = 0  # H.264 quality; above 0 the copies are no longer repeatable (module docstring)


def edit_copy(frames: np.ndarray, rng: np.random.Generator, edits: CopyEdits) -> np.ndarray:
    """An edited copy of uint8 (T, H, W, 3) frames: fewer frames, the same size rounded down to
    even (H.264's 4:2:0 needs it)."""
    t, h, w, _ = frames.shape
    if h < 2 or w < 2:
        raise ValueError(f"frames of {h}x{w} pixels are too small to copy (2x2 at least)")
    cut = [int(rng.integers(0, int(t * edits.trim) + 1)) for _ in range(2)]
    x = frames[cut[0] : t - cut[1]]
    area = rng.uniform(*edits.area)
    aspect = np.exp(rng.uniform(*np.log(edits.aspect)))
    ch = min(h, max(2, round(h * np.sqrt(area / aspect))))
    cw = min(w, max(2, round(w * np.sqrt(area * aspect))))
    top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    crop = torch.from_numpy(np.ascontiguousarray(x[:, top : top + ch, left : left + cw]))
    out_h, out_w = h - h % 2, w - w % 2
    f = rng.uniform(*edits.scale)
    small = resize_frames(crop, (max(2, round(out_h * f)), max(2, round(out_w * f))))
    y: np.ndarray = resize_frames(small, (out_h, out_w)).numpy().astype(np.float32)
    if rng.random() < edits.flip:
        y = y[:, :, ::-1]
    gain = 1 + rng.uniform(-edits.contrast, edits.contrast)
    shift = 255 * rng.uniform(-edits.brightness, edits.brightness)
    y = (y - 128) * gain + 128 + shift + rng.normal(0, edits.noise, y.shape)
    return np.clip(np.rint(y), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Copies:
    queries: Path  # queries.csv
    written: int
    skipped: list[str]  # "path: reason" of each video that could not be copied (skipped.txt)


def make_copies(
    originals: Manifest,
    out: str | Path,
    seed: int = 0,
    edits: CopyEdits | None = None,
    distractors: Manifest | None = None,
) -> Copies:
    """Write out/videos/*.mp4 (one copy per original, then one per distractor) and
    out/queries.csv. Unreadable videos are skipped and listed in out/skipped.txt."""
    edits = edits or CopyEdits()
    out = Path(out)
    key = _inputs_key(originals, distractors, seed, edits)
    kept = _finished(out, key)
    if kept is not None:  # the same inputs were copied already: a resumed run re-encodes nothing
        return kept
    (out / "copies.json").unlink(missing_ok=True)  # the videos are about to change
    (out / "videos").mkdir(parents=True, exist_ok=True)
    names = Counter(Path(p).name for p in originals.paths)
    # the original's file name, or its path where two originals share a name
    jobs = [(p, Path(p).name if names[Path(p).name] == 1 else p) for p in originals.paths]
    jobs += [(p, "") for p in (distractors.paths if distractors else [])]
    rows, skipped = [], []
    with ProgressBar(len(jobs), "copies", unit="video") as bar:
        for i, (path, original) in enumerate(jobs):
            target = out / "videos" / f"q{i:05d}.mp4"
            try:
                info = probe(path)
                frames = np.concatenate(list(iter_frames(path)))
                rng = np.random.default_rng([seed, i])
                copy = edit_copy(frames, rng, edits)
                with atomic_path(target, ".tmp.mp4") as tmp:
                    write_video(str(tmp), copy, max(1, round(info.fps)), crf=edits.crf)
                rows.append((f"videos/{target.name}", original))
            except (VideoError, ValueError) as exc:  # undecodable, no frames, too small
                skipped.append(f"{path}: {exc}")
            bar.update(1)
    with atomic_path(out / "queries.csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label"])
        writer.writerows(rows)
    (out / "skipped.txt").unlink(missing_ok=True)  # never a stale list from an earlier run
    if skipped:
        write_text_atomic(out / "skipped.txt", "\n".join(skipped) + "\n")
    write_text_atomic(out / "copies.json", json.dumps({"inputs": key}))  # last: the set is whole
    return Copies(out / "queries.csv", len(rows), skipped)


def _inputs_key(
    originals: Manifest, distractors: Manifest | None, seed: int, edits: CopyEdits
) -> str:
    """What a set of copies depends on: the videos (path, size and time of their last write: a
    video rewritten in place is copied anew), the seed the edits are drawn from and the edits."""
    paths = [*originals.paths, *(distractors.paths if distractors else [])]
    videos = [[p, *_stamp(p)] for p in paths]
    text = json.dumps([videos, len(originals.paths), seed, asdict(edits)], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _stamp(path: str) -> tuple[int, int]:
    try:
        st = Path(path).stat()
    except OSError:  # unreadable: it is skipped, and stays so until it changes
        return (-1, -1)
    return (st.st_size, st.st_mtime_ns)


def _finished(out: Path, key: str) -> Copies | None:
    """The copies in `out` when they were made whole from the same inputs, else None."""
    try:
        done = json.loads((out / "copies.json").read_text()).get("inputs") == key
        with open(out / "queries.csv", newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, ValueError):
        return None
    if not done or not all((out / r["path"]).is_file() for r in rows):
        return None
    skipped = out / "skipped.txt"
    lines = skipped.read_text().splitlines() if skipped.exists() else []
    return Copies(out / "queries.csv", len(rows), lines)
