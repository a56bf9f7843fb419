"""PyAV decoding: frame count, and the frames at given indices (one seek, one forward pass)."""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import av
import numpy as np
import torch
from av.video.reformatter import VideoReformatter

from vidrop.data.views import resize_uint8
from vidrop.errors import VidropError


class VideoError(VidropError, RuntimeError):
    """A video that cannot be decoded (corrupt, empty, no video stream)."""


@dataclass(frozen=True)
class VideoInfo:
    frames: int
    fps: float
    height: int
    width: int


def _open(path: str) -> av.container.InputContainer:
    try:
        container = av.open(path)
    except Exception as exc:  # PyAV raises many error types for broken files
        raise VideoError(f"{path}: cannot open ({exc})") from exc
    if not container.streams.video:
        container.close()
        raise VideoError(f"{path}: has no video stream")
    return container


def _rgb(frame: av.VideoFrame, reformatter: VideoReformatter) -> np.ndarray:
    """uint8 (H, W, 3), the same pixels as `frame.to_ndarray(format="rgb24")`.

    One reformatter per opened video keeps one swscale context for all its frames; PyAV's
    per-frame conversion builds a new one each time, which for small frames costs about as much
    as the decoding itself (docs/experiments/2026-12-07-implementation-measurements.md)."""
    return reformatter.reformat(frame, format="rgb24").to_ndarray()


def probe(path: str) -> VideoInfo:
    """Frame count, fps and size; counts by decoding when the container does not say."""
    with _open(path) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
        frames = stream.frames
        if frames <= 0:
            try:
                frames = sum(1 for _ in container.decode(stream))
            except Exception as exc:
                raise VideoError(f"{path}: cannot decode ({exc})") from exc
        if frames <= 0:
            raise VideoError(f"{path}: contains no frames")
        return VideoInfo(frames, fps, stream.codec_context.height, stream.codec_context.width)


def read_frames(path: str, indices: Sequence[int]) -> np.ndarray:
    """Frames at `indices` (any order, repeats allowed) as uint8 (len(indices), H, W, 3).

    Seeks to the keyframe before the first wanted frame, then decodes forward to the last one;
    a frame's index is read from its timestamp. Indices past the end repeat the last frame.
    """
    if len(indices) == 0:
        raise ValueError("read_frames needs at least one index")
    wanted_set = {int(i) for i in indices}
    first, last = min(wanted_set), max(wanted_set)
    got: dict[int, np.ndarray] = {}
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        reformatter = VideoReformatter()
        fps = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
        tb = float(stream.time_base) if stream.time_base else 1.0 / fps
        start = stream.start_time or 0
        previous = -1
        last_seen: tuple[int, av.VideoFrame] | None = None
        try:
            if first > 0:
                target = start + int(first / fps / tb)
                container.seek(target, stream=stream, backward=True, any_frame=False)
            for frame in container.decode(stream):
                idx = (
                    round((frame.pts - start) * tb * fps) if frame.pts is not None else previous + 1
                )
                previous = idx
                if idx < first:
                    continue
                last_seen = (idx, frame)
                if idx in wanted_set:
                    got[idx] = _rgb(frame, reformatter)
                if idx >= last:
                    break
        except Exception as exc:
            raise VideoError(f"{path}: decoding failed ({exc})") from exc
        if last_seen is None:
            raise VideoError(f"{path}: contains no frames at or after index {first}")
        if last_seen[0] not in got:  # the video ended before `last`: keep its final frame
            got[last_seen[0]] = _rgb(last_seen[1], reformatter)
    available = sorted(got)
    out = []
    for i in indices:
        j = i if i in got else available[max(bisect.bisect_right(available, i) - 1, 0)]
        out.append(got[j])
    return np.stack(out)


def iter_frames(path: str, chunk: int = 64) -> Iterator[np.ndarray]:
    """Every frame of a video in order, as uint8 (<=chunk, H, W, 3) arrays: one pass, bounded
    memory, for whole-video work such as encoding to a code store."""
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        reformatter = VideoReformatter()
        buf: list[np.ndarray] = []
        try:
            for frame in container.decode(stream):
                buf.append(_rgb(frame, reformatter))
                if len(buf) == chunk:
                    yield np.stack(buf)
                    buf = []
        except Exception as exc:  # PyAV raises many error types for broken files
            raise VideoError(f"{path}: decoding failed ({exc})") from exc
        if buf:
            yield np.stack(buf)


def resize_short_side(frames: torch.Tensor, short_side: int) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> uint8 with the short side resized to `short_side` (0 keeps size)."""
    h, w = frames.shape[1:3]
    if short_side <= 0 or min(h, w) == short_side:
        return frames
    scale = short_side / min(h, w)
    return resize_frames(frames, (max(1, round(h * scale)), max(1, round(w * scale))))


def resize_frames(frames: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> uint8 (T, *size, 3), antialiased bilinear."""
    if tuple(frames.shape[1:3]) == tuple(size):
        return frames
    return resize_uint8(frames.permute(0, 3, 1, 2), size).permute(0, 2, 3, 1).contiguous()


def write_video(path: str, frames: np.ndarray, fps: int, crf: int = 18, gop: int = 16) -> None:
    """Encode uint8 (T, H, W, 3) frames (even H and W) as H.264 in an mp4 with PyAV."""
    t, h, w, _ = frames.shape
    if h % 2 or w % 2:
        raise ValueError(f"H.264 with yuv420p needs even frame sizes, got {h}x{w}")
    with av.open(path, mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": str(crf), "g": str(gop), "preset": "medium"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
