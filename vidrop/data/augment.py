"""DINO's photometric augmentations for video clips (`views.augment: dino`), batched on the device.

Per clip, as DINO and DINOv2 do per image: colour jitter with probability 0.8 (brightness 0.4,
contrast 0.4, saturation 0.2, hue 0.1, the four in a random order), grayscale with probability
0.2, Gaussian blur (sigma uniform in [0.1, 2], 9 taps; probability 1.0 for the first large clip,
0.1 for the second, 0.5 for the small clips) and solarisation (probability 0.2, second large
clip only). One draw serves every frame of a clip, so a clip stays a consistent video; contrast
blends towards the clip's mean grey. They run in the training step, on the views already on the
device (cheap there, and the loader's work is unchanged); parameters are drawn on the host from
a generator seeded by the step, so a resumed run draws the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

GREY = (0.299, 0.587, 0.114)  # ITU-R 601-2 luma, as torchvision's rgb_to_grayscale
JITTER = {"p": 0.8, "brightness": 0.4, "contrast": 0.4, "saturation": 0.2, "hue": 0.1}
GRAYSCALE_P = 0.2
BLUR_SIGMA = (0.1, 2.0)
BLUR_TAPS = 9
# (blur probability, solarisation probability) per kind of clip
PROFILES = {"large0": (1.0, 0.0), "large1": (0.1, 0.2), "small": (0.5, 0.0)}


@dataclass
class ClipAugment:
    """Per-clip parameters (N clips). Factors of 1 / a hue of 0 / a sigma of 0 do nothing."""

    brightness: torch.Tensor  # (N,) multiplier
    contrast: torch.Tensor  # (N,) blend factor towards the clip's mean grey
    saturation: torch.Tensor  # (N,) blend factor towards each pixel's grey
    hue: torch.Tensor  # (N,) shift in turns, in [-0.5, 0.5]
    order: torch.Tensor  # (N, 4) the jitter operations' order (0 b, 1 c, 2 s, 3 h)
    grayscale: torch.Tensor  # (N,) bool
    sigma: torch.Tensor  # (N,) blur sigma in pixels, 0: no blur
    solarize: torch.Tensor  # (N,) bool


def draw(n: int, profile: str, g: torch.Generator) -> ClipAugment:
    """Parameters of `n` clips of one kind ("large0", "large1" or "small")."""
    blur_p, solar_p = PROFILES[profile]
    jitter = torch.rand(n, generator=g) < JITTER["p"]

    def factor(spread: float) -> torch.Tensor:
        f = 1 + (torch.rand(n, generator=g) * 2 - 1) * spread
        return torch.where(jitter, f, torch.ones(n))

    b, c, s = (factor(JITTER[k]) for k in ("brightness", "contrast", "saturation"))
    hue = torch.where(jitter, (torch.rand(n, generator=g) * 2 - 1) * JITTER["hue"], torch.zeros(n))
    order = torch.stack([torch.randperm(4, generator=g) for _ in range(n)])
    gray = torch.rand(n, generator=g) < GRAYSCALE_P
    lo, hi = BLUR_SIGMA
    sigma = lo + torch.rand(n, generator=g) * (hi - lo)
    sigma = torch.where(torch.rand(n, generator=g) < blur_p, sigma, torch.zeros(n))
    solar = torch.rand(n, generator=g) < solar_p
    return ClipAugment(b, c, s, hue, order, gray, sigma, solar)


def _per_clip(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return v.view(-1, *([1] * (x.dim() - 1))).to(x.dtype)


def grey(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, ...) -> (N, 1, ...) luma."""
    w = torch.tensor(GREY, dtype=x.dtype, device=x.device).view(1, 3, *([1] * (x.dim() - 2)))
    return (x * w).sum(1, keepdim=True)


def adjust_brightness(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    return (x * _per_clip(f, x)).clamp(0, 1)


def adjust_contrast(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """Blend towards the mean grey of each CLIP (every frame together)."""
    mean = grey(x).mean(dim=tuple(range(1, x.dim())), keepdim=True)
    f = _per_clip(f, x)
    return (f * x + (1 - f) * mean).clamp(0, 1)


def adjust_saturation(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    f = _per_clip(f, x)
    return (f * x + (1 - f) * grey(x)).clamp(0, 1)


def adjust_hue(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate the hue by `shift` turns: RGB -> HSV (ties go to red, then green, as torchvision)
    -> RGB by the closed form c = v - v s clamp(min(k, 4 - k), 0, 1), k = (n + 6 h) mod 6."""
    r, g, b = x.unbind(1)
    maxc, which = x.max(1)
    delta = maxc - x.min(1).values
    d = delta.clamp_min(1e-12)
    h = torch.where(
        which == 0, (g - b) / d, torch.where(which == 1, 2 + (b - r) / d, 4 + (r - g) / d)
    )
    h = torch.where(delta > 0, h / 6, torch.zeros_like(h))
    h = (h + _per_clip(shift, h)) % 1.0
    vs = delta  # v * s: s = delta / v
    n = torch.tensor([5.0, 3.0, 1.0], dtype=x.dtype, device=x.device).view(
        1, 3, *[1] * (x.dim() - 2)
    )
    k = (n + 6 * h.unsqueeze(1)) % 6
    return maxc.unsqueeze(1) - vs.unsqueeze(1) * torch.minimum(k, 4 - k).clamp(0, 1)


def gaussian_kernels(sigma: torch.Tensor, taps: int = BLUR_TAPS) -> torch.Tensor:
    """(N, taps) normalised 1-D Gaussian kernels (torchvision's GaussianBlur weights)."""
    half = (taps - 1) / 2
    xs = torch.linspace(-half, half, taps, dtype=torch.float64)
    k = torch.exp(-0.5 * (xs[None] / sigma.double()[:, None]) ** 2)
    return (k / k.sum(1, keepdim=True)).float()


def blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur of each clip (N, 3, T, H, W) with its own sigma, reflect-padded,
    every frame alike."""
    n, c, t, h, w = x.shape
    k = gaussian_kernels(sigma).to(x.device, x.dtype)  # (N, taps)
    pad = BLUR_TAPS // 2
    y = x.permute(0, 2, 1, 3, 4).reshape(1, n * t * c, h, w)
    kern = k.repeat_interleave(t * c, 0)  # one kernel per (clip, frame, channel) plane
    y = F.pad(y, (pad, pad, 0, 0), mode="reflect")
    y = F.conv2d(y, kern.view(-1, 1, 1, BLUR_TAPS), groups=n * t * c)
    y = F.pad(y, (0, 0, pad, pad), mode="reflect")
    y = F.conv2d(y, kern.view(-1, 1, BLUR_TAPS, 1), groups=n * t * c)
    return y.view(n, t, c, h, w).permute(0, 2, 1, 3, 4)


def apply(x: torch.Tensor, a: ClipAugment) -> torch.Tensor:
    """Augment float clips (N, 3, T, H, W) in [0, 1]; each operation runs on the clips that
    draw it, in each clip's own jitter order. `a` stays on the host, where the clips that take
    an operation are found (on a GPU, finding them there would make the host wait)."""
    ops = (
        (adjust_brightness, a.brightness),
        (adjust_contrast, a.contrast),
        (adjust_saturation, a.saturation),
        (adjust_hue, a.hue),
    )
    identity = (1.0, 1.0, 1.0, 0.0)

    def on(mask: torch.Tensor, op) -> None:
        nonlocal x
        idx = mask.nonzero().flatten()
        if len(idx):
            dev = idx.to(x.device, non_blocking=True)
            x = x.index_copy(0, dev, op(x.index_select(0, dev), idx))

    for position in range(4):
        for k, (op, values) in enumerate(ops):
            mask = (a.order[:, position] == k) & (values != identity[k])
            on(mask, lambda y, i, op=op, v=values: op(y, v[i].to(y.device, non_blocking=True)))
    on(a.grayscale, lambda y, i: grey(y).expand_as(y))
    on(a.sigma > 0, lambda y, i: blur(y, a.sigma[i]))
    on(a.solarize, lambda y, i: torch.where(y >= 0.5, 1 - y, y))
    return x


def augment_views(views: torch.Tensor, profiles: list[str], g: torch.Generator) -> torch.Tensor:
    """uint8 views (B, V, 3, T, H, W) -> augmented float views on the same 0-255 scale (what
    `normalize` takes); view v of every video gets profile profiles[v]."""
    b, v = views.shape[:2]
    out = views.float().div_(255)
    for j, profile in enumerate(profiles):
        out[:, j] = apply(out[:, j].contiguous(), draw(b, profile, g))
    return out.mul_(255)


def augment_batch(
    large: torch.Tensor, small: torch.Tensor, g: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch's uint8 (large, small) views -> augmented float views (0-255 scale), each large
    clip with its global crop's profile and every small clip with the local one."""
    profiles = profiles_of(large.shape[1], small.shape[1])
    return augment_views(large, profiles[0], g), augment_views(small, profiles[1], g)


def profiles_of(large_clips: int, small_clips: int) -> tuple[list[str], list[str]]:
    """The augmentation profile of each large clip (alternating DINO's first and second global
    crop) and small clip."""
    return [f"large{i % 2}" for i in range(large_clips)], ["small"] * small_clips
