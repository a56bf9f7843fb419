"""Images as pseudo-videos: the paper evaluates its video backbones on ImageNet-1k by repeating
each image into a clip of one tubelet (2 frames). Images are read with Pillow (RGB), and the eval
views then resize and centre-crop them as they do video frames (`vidrop.eval.views`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vidrop.errors import VidropError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff")


class ImageError(VidropError, ValueError):
    """An image Pillow cannot read; the message names the file."""


def is_image(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def read_image(path: str | Path) -> torch.Tensor:
    """uint8 (1, H, W, 3): the image as a one-frame video (its first frame if animated)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB"))
    except (OSError, UnidentifiedImageError, ValueError) as exc:  # missing, truncated, not an image
        raise ImageError(f"{path}: cannot read the image ({exc})") from exc
    return torch.from_numpy(rgb.copy())[None]
