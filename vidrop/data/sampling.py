"""Which frames a clip takes: `frames` frames, `stride` apart, from a random or centred start;
or one frame from each of `frames` equal segments of the video (TSN's sampling, VideoMAE's for
Something-Something v2, where the whole action matters more than a dense stretch of it)."""

from __future__ import annotations

import numpy as np


def clip_span(frames: int, stride: int) -> int:
    """Frames covered by a clip from its first to its last frame."""
    return (frames - 1) * stride + 1


def clip_frames(start: int, frames: int, stride: int, n_frames: int) -> np.ndarray:
    """Frame indices of the clip that starts at `start`; past the video's end, its last frame."""
    return np.minimum(start + stride * np.arange(frames), n_frames - 1)


def clip_indices(
    n_frames: int, frames: int, stride: int, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Frame indices of one clip: random start with `rng`, centred start without.

    A video shorter than the clip's span repeats its last frame (VideoMAE's behaviour) rather than
    failing, so short videos still contribute.
    """
    if n_frames <= 0:
        raise ValueError("video has no frames")
    if frames <= 0 or stride <= 0:
        raise ValueError(f"clip frames and stride must be positive, got {frames} and {stride}")
    slack = n_frames - clip_span(frames, stride)
    if slack <= 0:
        start = 0
    elif rng is None:
        start = slack // 2
    else:
        start = int(rng.integers(0, slack + 1))
    return clip_frames(start, frames, stride, n_frames)


def disjoint_clip_starts(
    n_frames: int, count: int, frames: int, stride: int, rng: np.random.Generator
) -> list[int] | None:
    """Starts of `count` clips that pairwise share no frame, drawn uniformly over every such
    choice (ordered); None when the video cannot hold them apart.

    Sorted starts s_1 < ... < s_c with gaps of at least a span are, after z_i = s_i - (i-1)(span-1),
    exactly the c-subsets of range(n - c*span + c): draw one, map back, shuffle the order.
    """
    span = clip_span(frames, stride)
    slack = n_frames - count * span
    if count < 1 or slack < 0:
        return None
    z = np.sort(rng.choice(slack + count, size=count, replace=False))
    starts = z + np.arange(count) * (span - 1)
    return [int(s) for s in rng.permutation(starts)]


def uniform_clip_starts(n_frames: int, frames: int, stride: int, count: int) -> list[int]:
    """`count` clip starts spread evenly over the video (test-time multi-clip views)."""
    slack = max(n_frames - clip_span(frames, stride), 0)
    if count == 1:
        return [slack // 2]
    return [round(slack * i / (count - 1)) for i in range(count)]


def segment_frames(
    n_frames: int, frames: int, rng: np.random.Generator | None = None, offset: float = 0.5
) -> np.ndarray:
    """One frame from each of `frames` equal segments of the video, as VideoMAE's SSv2 loader
    cuts it (segment i spans round(i s) .. round((i + 1) s), s = (n - 1) / frames): a random
    frame of each with `rng` (training), else the frame at `offset` of each (test: 0.5 the
    middle; spread offsets for several clips). A short video repeats frames."""
    if n_frames <= 0:
        raise ValueError("video has no frames")
    size = (n_frames - 1) / frames
    starts = np.round(size * np.arange(frames)).astype(np.int64)
    ends = np.round(size * np.arange(1, frames + 1)).astype(np.int64)
    if rng is not None:
        return rng.integers(starts, ends + 1)
    return starts + np.round((ends - starts) * offset).astype(np.int64)
