"""The embedded default dataset: synthetic videos whose class needs appearance AND motion.

Each video shows one object of a class-specific shape and hue moving with a class-specific motion
over panning crops of real photos (scikit-learn's sample images), with distractor blobs and sensor
noise. Scene cuts change the background and distractors every few frames and show the object from
another place in the frame (another camera), so, as in real footage, two clips of one video share
their object and its motion but not their background or framing. The object's hue is its shape's,
exactly: self-supervision, which learns what tells videos apart, then finds no per-video colour or
place to latch onto instead of the class (docs/experiments/2026-11-27-demo-seeds.md measures both
renderings). Motions are chosen to survive horizontal flips (the only augmentation besides
cropping): rising, falling, spinning (either direction) and pulsing. A single frame shows the
object but not its motion.
Everything is drawn from numpy generators seeded by (seed, video index): same seed, same rendered
frames. The videos are written as LOSSLESS H.264 (crf 0): lossy x264 encodes of the same frames
came out different when several encodes ran at once, which made the demo's dataset, and so its
result, change from run to run. Lossless, the decoded pixels are the same every time (a test
checks it); the bytes may differ.
"""

from __future__ import annotations

import csv
import json
import math
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vidrop.atomic import atomic_path, write_json_atomic
from vidrop.data import synth_glyphs
from vidrop.data.video import write_video

# Convex polygons in object coordinates (unit radius); a shape is their union.
SHAPES: dict[str, list[list[tuple[float, float]]]] = {
    "triangle": [
        [(math.cos(a), math.sin(a)) for a in (math.pi / 2 + k * 2 * math.pi / 3 for k in range(3))]
    ],
    "square": [[(-0.75, -0.75), (0.75, -0.75), (0.75, 0.75), (-0.75, 0.75)]],
    "cross": [
        [(-1.0, -0.3), (1.0, -0.3), (1.0, 0.3), (-1.0, 0.3)],
        [(-0.3, -1.0), (0.3, -1.0), (0.3, 1.0), (-0.3, 1.0)],
    ],
}
HUES: dict[str, tuple[int, int, int]] = {
    "triangle": (225, 60, 50),
    "square": (45, 110, 230),
    "cross": (240, 200, 40),
}
MOTIONS = ("rise", "fall", "spin", "pulse")
# Bumped whenever the same SynthSpec renders other frames, so a folder written by an older
# vidrop is refused instead of being topped up with videos of another kind.
RENDER_VERSION = 2  # 2: no per-video hue jitter, the object placed anew at each scene cut


@dataclass(frozen=True)
class Family:
    """A synthetic family: its shapes and their hues, its motions (`pose`), and its camera shots
    (`shot`: background and distractors); `wraps` are the motions that keep their own height at
    a scene cut (they wrap around vertically)."""

    shapes: dict[str, list[list[tuple[float, float]]]]
    hues: dict[str, tuple[int, int, int]]
    motions: tuple[str, ...]
    pose: Callable[[str, int, dict[str, float], int], tuple[float, float, float, float]]
    shot: Callable[[np.random.Generator, list[np.ndarray], int], dict[str, Any]]
    wraps: tuple[str, ...] = ()
    photos: bool = False  # its shots cut windows of scikit-learn's sample photos


def _glyph_shot(rng: np.random.Generator, _photos: list[np.ndarray], size: int) -> dict[str, Any]:
    return synth_glyphs.shot(rng, size)


@dataclass
class SynthSpec:
    videos: int = 720
    seed: int = 0
    size: int = 64
    frames: int = 32
    fps: int = 8
    shot_frames: int = 8  # a scene cut every this many frames (0: one shot per video)
    val_fraction: float = 0.25
    shapes: list[str] = field(default_factory=lambda: list(SHAPES))
    motions: list[str] = field(default_factory=lambda: list(MOTIONS))
    family: str = "shapes"  # the demo's; `glyphs` (vidrop.data.synth_glyphs) is the other

    @classmethod
    def of_family(cls, family: str, **kw: Any) -> SynthSpec:
        """A spec of `family` with all its shapes and motions (12 classes each)."""
        f = family_of(family)
        return cls(shapes=list(f.shapes), motions=list(f.motions), family=family, **kw)

    def classes(self) -> list[str]:
        return [f"{s}_{m}" for s in self.shapes for m in self.motions]

    def check(self) -> None:
        if self.size % 2 or self.size < 32:
            raise ValueError(f"--size must be even and >= 32, got {self.size}")
        if self.frames < 2:
            raise ValueError(f"--frames must be >= 2, got {self.frames}")
        f = family_of(self.family)
        unknown = [s for s in self.shapes if s not in f.shapes] + [
            m for m in self.motions if m not in f.motions
        ]
        if unknown:
            raise ValueError(
                f"unknown shapes/motions {unknown} of family {self.family}; known: "
                f"{list(f.shapes)}, {list(f.motions)}"
            )
        if self.videos < 2 * len(self.classes()):
            raise ValueError(
                f"--videos {self.videos} is too few for {len(self.classes())} classes "
                "(need at least two per class: one for training, one for validation)"
            )


def _backgrounds() -> list[np.ndarray]:
    from sklearn.datasets import load_sample_images  # imported late: sklearn is slow to import

    return [img.astype(np.float32) for img in load_sample_images().images]


def _coverage(size: int, polys: list[np.ndarray], cx: float, cy: float, angle: float, scale: float):
    """Anti-aliased (2x2 supersampled) coverage in [0, 1] of a union of convex polygons."""
    s = (np.arange(2 * size, dtype=np.float32) + 0.5) / 2.0
    xx, yy = np.meshgrid(s, s)
    c, si = math.cos(angle), math.sin(angle)
    u = (c * (xx - cx) + si * (yy - cy)) / scale  # rotate pixel offsets into object coordinates
    v = (-si * (xx - cx) + c * (yy - cy)) / scale
    inside = np.zeros_like(u, dtype=bool)
    for poly in polys:
        nxt = np.roll(poly, -1, axis=0)
        cross = np.stack(
            [
                (b[0] - a[0]) * (v - a[1]) - (b[1] - a[1]) * (u - a[0])
                for a, b in zip(poly, nxt, strict=True)
            ]
        )
        inside |= (cross >= 0).all(0) | (cross <= 0).all(0)
    return inside.reshape(size, 2, size, 2).mean(axis=(1, 3))


def _disk(size: int, cx: float, cy: float, r: float) -> np.ndarray:
    s = np.arange(size, dtype=np.float32) + 0.5
    d = np.hypot(s[None, :] - cx, s[:, None] - cy)
    return np.clip(r + 0.5 - d, 0.0, 1.0)


def _square(size: int, cx: float, cy: float, r: float) -> np.ndarray:
    s = np.arange(size, dtype=np.float32) + 0.5
    d = np.maximum(np.abs(s[None, :] - cx), np.abs(s[:, None] - cy))
    return np.clip(r + 0.5 - d, 0.0, 1.0)


def _bounce(x: np.ndarray, limit: float) -> np.ndarray:
    """Reflect positions into [0, limit] (a pan that turns around at the photo's edge)."""
    x = np.mod(x, 2 * limit)
    return np.where(x > limit, 2 * limit - x, x)


def _pose(motion: str, t: int, p: dict[str, float], size: int) -> tuple[float, float, float, float]:
    """(cx, cy, angle, scale) of the object at frame t."""
    cx, cy, angle, r = p["x0"], p["y0"], p["a0"], p["r"]
    span = size + 2 * r
    if motion == "rise":
        cy = (p["y0"] - p["v"] * t + r) % span - r
    elif motion == "fall":
        cy = (p["y0"] + p["v"] * t + r) % span - r
    elif motion == "spin":
        angle = p["a0"] + p["w"] * t
    elif motion == "pulse":
        r = p["r"] * (1.0 + 0.5 * math.sin(2 * math.pi * t / p["period"] + p["phase"]))
    return cx, cy, angle, r


def _shot(rng: np.random.Generator, backgrounds: list[np.ndarray], size: int) -> dict[str, Any]:
    """One camera shot: a random window of a real photo (lower contrast) with its own pan, and
    distractor blobs of their own colours and paths."""
    from PIL import Image

    k = size / 64.0
    photo = backgrounds[int(rng.integers(len(backgrounds)))]
    side = int(rng.uniform(0.3, 0.8) * min(photo.shape[:2]))
    top = int(rng.integers(0, photo.shape[0] - side + 1))
    left = int(rng.integers(0, photo.shape[1] - side + 1))
    big = int(1.6 * size)
    window = photo[top : top + side, left : left + side].astype(np.uint8)
    resized = Image.fromarray(window).resize((big, big), Image.BILINEAR)  # type: ignore[attr-defined]
    bg = np.asarray(resized, dtype=np.float32)
    contrast, shift = rng.uniform(0.5, 0.8), rng.uniform(-20, 20)
    return {
        "bg": bg.mean() + (bg - bg.mean()) * contrast + shift,
        "limit": big - size,
        "origin": rng.uniform(0, big - size, 2),
        "pan": rng.uniform(-0.8, 0.8, 2) * k,
        "distractors": [
            {
                "pos": rng.uniform(0, size, 2),
                "vel": rng.uniform(-1.5, 1.5, 2) * k,
                "r": rng.uniform(2.0, 4.0) * k,
                "color": rng.uniform(60, 200, 3),
            }
            for _ in range(int(rng.integers(1, 4)))
        ],
    }


def _object_params(rng: np.random.Generator, size: int, k: float) -> dict[str, float]:
    """The object's size, start and motion parameters (drawn in this order)."""
    r = rng.uniform(0.22, 0.26) * size
    margin = 1.5 * r
    return {
        "x0": rng.uniform(margin, size - margin),
        "y0": rng.uniform(margin, size - margin),
        "a0": rng.uniform(0, 2 * math.pi),
        "r": r,
        "v": rng.uniform(3.0, 4.0) * k,
        "w": rng.choice([-1.0, 1.0]) * rng.uniform(0.4, 0.6),
        "period": rng.uniform(6.0, 10.0),
        "phase": rng.uniform(0, 2 * math.pi),
    }


def render_video(
    spec: SynthSpec, label: str, rng: np.random.Generator, backgrounds: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 frames (T, S, S, 3) and bool object masks (T, S, S) of one video of class `label`."""
    shape, motion = label.split("_")
    f = family_of(spec.family)
    size, k = spec.size, spec.size / 64.0
    polys = [np.asarray(p, dtype=np.float32) for p in f.shapes[shape]]
    color = np.asarray(f.hues[shape], dtype=np.float32)  # no per-video jitter: see the docstring
    p = _object_params(rng, size, k)
    margin = 1.5 * p["r"]
    # Scene cuts: every `shot_frames` frames (from a random phase) the camera shows another part
    # of a photo, so background and distractors are not constant through a video.
    cut_len = spec.shot_frames or spec.frames
    phase = int(rng.integers(0, cut_len))
    shots: dict[int, dict[str, Any]] = {}
    moves: dict[int, tuple[float, float]] = {}  # per shot: where the new camera puts the object

    frames = np.empty((spec.frames, size, size, 3), dtype=np.uint8)
    masks = np.empty((spec.frames, size, size), dtype=bool)
    for t in range(spec.frames):
        n = (t + phase) // cut_len
        if n not in shots:
            shots[n] = f.shot(rng, backgrounds, size)
            x, y = rng.uniform(margin, size - margin), rng.uniform(margin, size - margin)
            moves[n] = (x - p["x0"], y - p["y0"])
        shot = shots[n]
        oy, ox = _bounce(shot["origin"] + shot["pan"] * t, shot["limit"]).astype(int)[::-1]
        img = shot["bg"][oy : oy + size, ox : ox + size].copy()
        for d in shot["distractors"]:
            draw = _square if d.get("square") else _disk
            dx, dy = (d["pos"] + d["vel"] * t) % size
            cov = draw(size, dx, dy, d["r"])[..., None]
            img = img * (1 - cov) + d["color"] * cov
        cx, cy, angle, scale = f.pose(motion, t, p, size)
        cx += moves[n][0]
        if motion not in f.wraps:  # those wrap around vertically: their height is theirs
            cy += moves[n][1]
        cov = _coverage(size, polys, cx, cy, angle, scale)
        img = img * (1 - cov[..., None]) + color * cov[..., None]
        img += rng.normal(0.0, 5.0, img.shape)
        frames[t] = np.clip(img, 0, 255).astype(np.uint8)
        masks[t] = cov > 0.5
    return frames, masks


FAMILIES: dict[str, Family] = {
    "shapes": Family(SHAPES, HUES, MOTIONS, _pose, _shot, wraps=("rise", "fall"), photos=True),
    "glyphs": Family(
        synth_glyphs.SHAPES, synth_glyphs.HUES, synth_glyphs.MOTIONS, synth_glyphs.pose, _glyph_shot
    ),
}


def family_of(name: str) -> Family:
    if name not in FAMILIES:
        raise ValueError(f"unknown synthetic family {name!r}; known: {', '.join(FAMILIES)}")
    return FAMILIES[name]


def _splits(spec: SynthSpec) -> list[tuple[int, str, str]]:
    """(video index, label, split), classes balanced, val the last share of each class."""
    classes = spec.classes()
    per_class: dict[str, list[int]] = {c: [] for c in classes}
    for i in range(spec.videos):
        per_class[classes[i % len(classes)]].append(i)
    rows = []
    for label, ids in per_class.items():
        n_val = max(1, round(len(ids) * spec.val_fraction))
        for j, i in enumerate(ids):
            rows.append((i, label, "val" if j >= len(ids) - n_val else "train"))
    return sorted(rows)


_BACKGROUNDS: list[np.ndarray] = []


def _write_one(out: Path, spec: SynthSpec, index: int, label: str) -> None:
    """Render and write video `index` and its masks; the video appears last, atomically."""
    if not _BACKGROUNDS and family_of(spec.family).photos:
        _BACKGROUNDS.extend(_backgrounds())
    video, mask = out / "videos" / f"{index:05d}.mp4", out / "masks" / f"{index:05d}.npz"
    rng = np.random.default_rng([spec.seed, index])
    frames, masks = render_video(spec, label, rng, _BACKGROUNDS)
    with atomic_path(mask, ".tmp.npz") as tmp:  # np.savez wants .npz
        np.savez_compressed(tmp, masks=np.packbits(masks, axis=-1), shape=np.array(masks.shape))
    with atomic_path(video, ".tmp.mp4") as tmp:  # appears last: both files are then complete
        write_video(str(tmp), frames, spec.fps, crf=0)  # lossless: the decoded pixels are fixed


def make_dataset(
    out: str | Path,
    spec: SynthSpec,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> dict[str, str]:
    """Write videos/*.mp4, masks/*.npz, train.csv, val.csv and synth.json under `out`.

    Videos already there are kept (same seed -> same frames), so a repeated or interrupted call
    only writes what is missing. `workers` processes render in parallel (default: all cores).
    """
    spec.check()
    out = Path(out)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(exist_ok=True)
    _claim(out, spec)
    rows = _splits(spec)
    todo = [(i, label) for i, label, _ in rows if not (out / "videos" / f"{i:05d}.mp4").exists()]
    _render(out, spec, todo, len(rows), progress, workers)
    for split in ("train", "val"):
        with atomic_path(out / f"{split}.csv") as tmp, open(tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["path", "label"])
            for i, label, s in rows:
                if s == split:
                    writer.writerow([f"videos/{i:05d}.mp4", label])
    return {"train": str(out / "train.csv"), "val": str(out / "val.csv")}


def _claim(out: Path, spec: SynthSpec) -> None:
    """Write synth.json; a folder made with other settings or an older renderer is refused
    (it would be topped up with videos of another kind)."""
    meta = {"render_version": RENDER_VERSION, "spec": asdict(spec), "classes": spec.classes()}
    meta_path = out / "synth.json"
    if meta_path.exists():
        old = json.loads(meta_path.read_text())
        old.setdefault("spec", {}).setdefault("family", "shapes")  # written before families
        if old["spec"] != meta["spec"]:
            raise FileExistsError(
                f"{out} already holds a synthetic dataset made with other settings; "
                "use another --out"
            )
        if old.get("render_version", 1) != RENDER_VERSION:
            raise FileExistsError(
                f"{out} holds synthetic videos rendered by an older vidrop (render version "
                f"{old.get('render_version', 1)}, now {RENDER_VERSION}); use another --out "
                "or delete it"
            )
    write_json_atomic(meta_path, meta)


def _render(
    out: Path,
    spec: SynthSpec,
    todo: list[tuple[int, str]],
    total: int,
    progress: Callable[[int, int], None] | None,
    workers: int | None,
) -> None:
    """Render the missing videos, in `workers` processes; `progress(done, total)` after each."""
    done = total - len(todo)
    if progress and done:
        progress(done, total)
    workers = min(workers or os.cpu_count() or 1, max(len(todo), 1))
    if workers <= 1:
        for i, label in todo:
            _write_one(out, spec, i, label)
            done += 1
            if progress:
                progress(done, total)
        return
    ctx = multiprocessing.get_context("spawn")  # never fork a process that imported torch
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        futures = [pool.submit(_write_one, out, spec, i, label) for i, label in todo]
        for future in as_completed(futures):
            future.result()
            done += 1
            if progress:
                progress(done, total)


def load_masks(path: str | Path) -> np.ndarray:
    """Bool (T, H, W) object masks written by make_dataset."""
    with np.load(path) as z:
        t, h, w = z["shape"].tolist()
        return np.unpackbits(z["masks"], axis=-1, count=w).astype(bool).reshape(t, h, w)
