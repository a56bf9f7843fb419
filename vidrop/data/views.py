"""ViDROP views of a video: per clip one random-resized crop and an optional horizontal flip.

Views stay uint8 (C, T, H, W) in the loader (4x less memory and host-to-device traffic than
float); `normalize` turns them into ImageNet-normalised float on the training device.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class CropBox:
    top: int
    left: int
    height: int
    width: int


def random_resized_box(
    height: int,
    width: int,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    rng: np.random.Generator,
) -> CropBox:
    """A box with area share in `scale` and aspect in `ratio` (log-uniform), as torchvision does:
    ten tries, then the largest centred box that fits the ratio range."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(*log_ratio))
        w = round(math.sqrt(target * aspect))
        h = round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            return CropBox(
                int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
            )
    in_ratio = width / height
    if in_ratio < ratio[0]:
        w, h = width, round(width / ratio[0])
    elif in_ratio > ratio[1]:
        h, w = height, round(height * ratio[1])
    else:
        w, h = width, height
    return CropBox((height - h) // 2, (width - w) // 2, h, w)


def resize_uint8(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 (N, C, H, W) -> uint8 (N, C, *size), antialiased bilinear.

    On the CPU torch's native uint8 kernel runs (much faster than going through float, within 1
    grey level of it: docs/experiments/2026-12-07-implementation-measurements.md); elsewhere the
    float path."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if x.device.type == "cpu":
        return F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
    y = F.interpolate(x.float(), size=size, mode="bilinear", antialias=True, align_corners=False)
    return y.round_().clamp_(0, 255).to(torch.uint8)


def crop(frames: torch.Tensor, box: CropBox) -> torch.Tensor:
    """(T, H, W, C) -> the (T, h, w, C) view inside `box` (no copy)."""
    return frames[:, box.top : box.top + box.height, box.left : box.left + box.width]


def crop_resize(
    frames: torch.Tensor,
    box: CropBox,
    size: int,
    flip: bool = False,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> uint8 (3, T, size, size): crop `box`, resize (antialiased), flip.

    The resize leaves (T, size, size, 3) memory. Into an `out` laid out channels-last
    (`views_buffer`, the training loaders' slots) the flip happens in a plain copy with the
    channels left in place; otherwise the flip and the move of channels first happen in one copy
    (numpy's strided copy: faster than torch's for uint8 on the CPU)."""
    x = resize_uint8(crop(frames, box).permute(0, 3, 1, 2), (size, size)).permute(1, 0, 2, 3)
    if x.device.type != "cpu":
        x = x.flip(-1) if flip else x
        return out.copy_(x) if out is not None else x.contiguous()
    if out is not None and is_channels_last(out):
        src = x.permute(1, 2, 3, 0).numpy()  # (T, size, size, 3), contiguous
        np.copyto(out.permute(1, 2, 3, 0).numpy(), src[:, :, ::-1] if flip else src)
        return out
    arr = x.numpy()[..., ::-1] if flip else x.numpy()
    if out is None:
        return torch.from_numpy(np.ascontiguousarray(arr))
    np.copyto(out.numpy(), arr)
    return out


def views_buffer(
    clips: int, frames: int, size: int, batch: int | None = None, shared: bool = False
) -> torch.Tensor:
    """Uninitialised uint8 (clips, 3, frames, size, size) stored channels-last, (clips, frames,
    size, size, 3) in memory: the resize's own layout, so filling a slot moves no channel. With
    `batch`, (batch, clips, 3, frames, size, size) of such slots; `shared` puts it in shared
    memory, where a loader worker's batch must be to reach the main process without a copy."""
    lead = (clips,) if batch is None else (batch, clips)
    shape = (*lead, frames, size, size, 3)
    x = empty_shared(shape) if shared else torch.empty(shape, dtype=torch.uint8)
    return x.movedim(-1, len(lead))


def empty_shared(shape: tuple[int, ...], dtype: torch.dtype = torch.uint8) -> torch.Tensor:
    """An uninitialised contiguous tensor in shared memory (what a loader worker sends to the
    main process without a copy; torch's default collate allocates its batches the same way)."""
    numel = math.prod(shape)
    storage = torch.UntypedStorage._new_shared(numel * dtype.itemsize)
    return torch.empty(0, dtype=dtype).set_(storage, 0, (numel,)).view(shape)  # type: ignore[call-overload]


def is_channels_last(views: torch.Tensor) -> bool:
    """Whether (..., 3, T, H, W) views are stored as (..., T, H, W, 3)."""
    return views.movedim(-4, -1).is_contiguous()


def clip_major(views: torch.Tensor) -> torch.Tensor:
    """(B, n_clips, C, T, H, W) -> (n_clips * B, C, T, H, W): all videos' clip 0, then clip 1..."""
    return views.transpose(0, 1).flatten(0, 1)


def normalize(video: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 (..., C, T, H, W) -> ImageNet-normalised float, on whatever device `video` is.

    Training under bf16 autocast asks for bf16 here: the first matmul would round to bf16 anyway,
    and every copy before it (patchify, token gather) then moves half the bytes."""
    mean, std = _mean_std(video.device)
    return ((video.float() - mean) / std).to(dtype)


@functools.cache
def _mean_std(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The constants once per device (building them from a list on a GPU each call would wait
    for the GPU: a host sync in every training step)."""
    shape = (3, 1, 1, 1)
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32).view(shape) * 255
    std = torch.tensor(IMAGENET_STD, dtype=torch.float32).view(shape) * 255
    return mean.to(device), std.to(device)
