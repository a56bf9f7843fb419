"""The `glyphs` synthetic family: a second dataset for judging recipes, unlike the demo's `shapes`
family in both appearance and motion, and never used to choose any setting of any recipe.

Appearance: other shapes (ring, star, bar) in other hues, over procedural textures (plaids of
sine gratings in random colours, no photos), with small square distractors. Motion: orbiting
(either way round), zigzagging sideways (either way), growing (from half its size to one and a
half, then again: a sawtooth where `shapes` pulses) and shaking, each unchanged in kind by a
horizontal flip. As in `shapes`, a class is a shape and a motion, a single frame shows the shape
but not the motion, and scene cuts change the background and move the object.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# Convex polygons in object coordinates (unit radius); a shape is their union.
_RING = [
    [
        (math.cos(a0), math.sin(a0)),
        (math.cos(a1), math.sin(a1)),
        (0.55 * math.cos(a1), 0.55 * math.sin(a1)),
        (0.55 * math.cos(a0), 0.55 * math.sin(a0)),
    ]
    for a0, a1 in ((k * math.pi / 6, (k + 1) * math.pi / 6) for k in range(12))
]
_STAR = [
    [
        (0.0, 0.0),
        (0.4 * math.cos(a - math.pi / 5), 0.4 * math.sin(a - math.pi / 5)),
        (math.cos(a), math.sin(a)),
        (0.4 * math.cos(a + math.pi / 5), 0.4 * math.sin(a + math.pi / 5)),
    ]
    for a in (math.pi / 2 + k * 2 * math.pi / 5 for k in range(5))
]
SHAPES: dict[str, list[list[tuple[float, float]]]] = {
    "ring": _RING,
    "star": _STAR,
    "bar": [[(-1.0, -0.28), (1.0, -0.28), (1.0, 0.28), (-1.0, 0.28)]],
}
HUES: dict[str, tuple[int, int, int]] = {
    "ring": (200, 40, 200),
    "star": (30, 190, 170),
    "bar": (250, 130, 20),
}
MOTIONS = ("orbit", "zigzag", "grow", "shake")


def pose(motion: str, t: int, p: dict[str, float], size: int) -> tuple[float, float, float, float]:
    """(cx, cy, angle, scale) of the object at frame t."""
    cx, cy, angle, r = p["x0"], p["y0"], p["a0"], p["r"]
    if motion == "orbit":  # a circle of a fifth of the frame, at the object's own speed and way
        phi = p["phase"] + p["w"] * 0.9 * t
        cx, cy = cx + 0.2 * size * math.cos(phi), cy + 0.2 * size * math.sin(phi)
    elif motion == "zigzag":  # sideways, either way, bouncing up and down every few frames
        span = size + 2 * r
        cx = (cx + math.copysign(p["v"], p["w"]) * t + r) % span - r
        cy = cy + 0.18 * size * (2 * abs(((t / p["period"] * 2) % 2) - 1) - 1)
    elif motion == "grow":  # from half to one and a half of its size, then again
        r = p["r"] * (0.5 + ((t / (2 * p["period"]) + p["phase"] / (2 * math.pi)) % 1.0))
    elif motion == "shake":  # fast sideways jitter around its place (a 3-frame period: every
        cx = cx + 0.08 * size * math.sin(2 * math.pi * t / 3 + p["phase"])  # stride shows it)
    return cx, cy, angle, r


def shot(rng: np.random.Generator, size: int) -> dict[str, Any]:
    """One camera shot: a drifting plaid of two sine gratings in random colours, and small square
    distractors of their own colours and paths."""
    k = size / 64.0
    big = int(1.6 * size)
    yy, xx = np.mgrid[0:big, 0:big].astype(np.float32)
    bg = np.full((big, big, 3), rng.uniform(70, 150), dtype=np.float32)
    for _ in range(2):
        freq, theta = rng.uniform(0.05, 0.2) / k, rng.uniform(0, math.pi)
        wave = np.sin(freq * (xx * math.cos(theta) + yy * math.sin(theta)) + rng.uniform(0, 6.3))
        bg += wave[..., None] * rng.uniform(-35, 35, 3).astype(np.float32)
    return {
        "bg": bg,
        "limit": big - size,
        "origin": rng.uniform(0, big - size, 2),
        "pan": rng.uniform(-0.8, 0.8, 2) * k,
        "distractors": [
            {
                "pos": rng.uniform(0, size, 2),
                "vel": rng.uniform(-1.5, 1.5, 2) * k,
                "r": rng.uniform(1.5, 3.0) * k,
                "color": rng.uniform(40, 220, 3),
                "square": True,
            }
            for _ in range(int(rng.integers(2, 6)))
        ],
    }
