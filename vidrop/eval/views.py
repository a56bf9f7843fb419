"""Test-time views of a video: `clips` clips spread evenly along it x `crops` crops across it.

VideoMAE's protocol: the short side is resized to the crop size, then 1 crop (centre) or 3 crops
(start, centre, end of the long side) of size x size; e.g. 5 clips x 3 crops for Kinetics, 2 x 3 for
SSv2. A video shorter than a clip's span repeats its last frame (as in training); `short_clips`
counts how many videos did, so a report never hides it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from vidrop.data.sampling import clip_frames, clip_span, segment_frames, uniform_clip_starts
from vidrop.data.video import read_frames, resize_short_side
from vidrop.data.views import CropBox, crop_resize
from vidrop.eval.errors import EvalError


@dataclass(frozen=True)
class EvalViews:
    """`frames` frames `stride` apart per clip; `size` x `size` crops after an optional first
    `short_side` resize (the storage resolution used in training)."""

    frames: int
    size: int
    stride: int
    short_side: int = 0
    clips: int = 1
    crops: int = 1
    sampling: str = "stride"  # or "segments": one frame per segment (SSv2), stride unused

    @property
    def count(self) -> int:
        return self.clips * self.crops

    def check(self) -> None:
        if min(self.frames, self.size, self.stride, self.clips) < 1:
            raise EvalError(f"views need positive frames, size, stride and clips: {self}")
        if self.crops not in (1, 3):
            raise EvalError(f"crops must be 1 (centre) or 3 (start/centre/end), got {self.crops}")
        if self.sampling not in ("stride", "segments"):
            raise EvalError(f"sampling must be stride or segments, got {self.sampling!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def crop_boxes(height: int, width: int, crops: int) -> list[CropBox]:
    """Square boxes of side min(height, width): the centre one, or start/centre/end along the long
    side (identical boxes when the frame is square)."""
    s = min(height, width)
    if crops == 1:
        return [CropBox((height - s) // 2, (width - s) // 2, s, s)]
    offsets = [0, (max(height, width) - s) // 2, max(height, width) - s]
    if height >= width:
        return [CropBox(o, 0, s, s) for o in offsets]
    return [CropBox(0, o, s, s) for o in offsets]


def clip_frame_indices(n_frames: int, views: EvalViews) -> list[np.ndarray]:
    """Frame indices of each of the `views.clips` clips (past the end: the last frame); with
    segment sampling, clip k takes the frame at (k + 0.5) / clips of every segment."""
    if views.sampling == "segments":
        offsets = [(k + 0.5) / views.clips for k in range(views.clips)]
        return [segment_frames(n_frames, views.frames, offset=o) for o in offsets]
    starts = uniform_clip_starts(n_frames, views.frames, views.stride, views.clips)
    return [clip_frames(s, views.frames, views.stride, n_frames) for s in starts]


def is_short(n_frames: int, views: EvalViews) -> bool:
    if views.sampling == "segments":
        return n_frames < views.frames
    return n_frames < clip_span(views.frames, views.stride)


def make_views(frames: torch.Tensor, clips: list[np.ndarray], views: EvalViews) -> torch.Tensor:
    """uint8 frames (M, H, W, 3) and, per clip, its rows in `frames` -> uint8 views
    (V, 3, T, size, size), clip-major (view v = clip v // crops, crop v % crops)."""
    frames = resize_short_side(resize_short_side(frames, views.short_side), views.size)
    boxes = crop_boxes(int(frames.shape[1]), int(frames.shape[2]), views.crops)
    out: list[torch.Tensor] = []
    for rows in clips:
        clip = frames[torch.from_numpy(np.asarray(rows, dtype=np.int64))]
        out.extend(crop_resize(clip, box, views.size) for box in boxes)
    return torch.stack(out)


def read_views(path: str, n_frames: int, views: EvalViews) -> torch.Tensor:
    """Decode only the frames the views need (each once), then build them (`make_views`)."""
    clips = clip_frame_indices(n_frames, views)
    wanted = np.unique(np.concatenate(clips))
    frames = torch.from_numpy(read_frames(path, wanted.tolist()))
    return make_views(frames, [np.searchsorted(wanted, idx) for idx in clips], views)


def image_views(image: torch.Tensor, views: EvalViews) -> torch.Tensor:
    """An image (1, H, W, 3) as a video that stands still: its one frame in every frame of every
    clip (the paper's ImageNet protocol: a clip of one tubelet), cropped as a video frame."""
    return make_views(image, [np.zeros(views.frames, dtype=np.int64)] * views.clips, views)
