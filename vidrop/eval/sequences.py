"""Videos with object masks for label propagation: DAVIS-2017's folders and the synthetic set.

DAVIS-2017 (trainval, once downloaded): ROOT/JPEGImages/480p/SEQ/00000.jpg, ROOT/Annotations/480p/
SEQ/00000.png (palette PNGs: pixel value = object id, 0 background) and ROOT/ImageSets/2017/val.txt.
The synthetic dataset writes masks/NNNNN.npz beside videos/NNNNN.mp4 (one object, id 1).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vidrop.data.manifest import read_manifest
from vidrop.data.synth import load_masks
from vidrop.data.video import iter_frames
from vidrop.eval.propagate import Sequence


def davis_names(root: str | Path, split: str = "val", year: str = "2017") -> list[str]:
    path = Path(root) / "ImageSets" / year / f"{split}.txt"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: give the DAVIS root that holds JPEGImages/, Annotations/ and "
            "ImageSets/ (DAVIS-2017 trainval, 480p)"
        )
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]


def davis_sequences(
    root: str | Path, names: list[str], resolution: str = "480p"
) -> Iterator[Sequence]:
    root = Path(root)
    for name in names:
        images = sorted((root / "JPEGImages" / resolution / name).glob("*.jpg"))
        if not images:
            raise FileNotFoundError(f"{root / 'JPEGImages' / resolution / name}: no frames")
        frames = np.stack([np.asarray(Image.open(p).convert("RGB")) for p in images])
        masks = []
        for p in images:
            ann = root / "Annotations" / resolution / name / (p.stem + ".png")
            if not ann.is_file():
                raise FileNotFoundError(f"{ann}: missing annotation for {p}")
            masks.append(np.asarray(Image.open(ann)).astype(np.int64))  # palette index = object
        yield Sequence(name, torch.from_numpy(frames), torch.from_numpy(np.stack(masks)))


def synth_sequences(manifest: str | Path, limit: int = 0) -> tuple[int, Iterator[Sequence]]:
    """(count, sequences) of the synthetic videos listed in `manifest`, with their masks."""
    paths = read_manifest(manifest).paths
    paths = paths[:limit] if limit else paths
    for p in paths:
        mask = Path(p).parent.parent / "masks" / (Path(p).stem + ".npz")
        if not mask.is_file():
            raise FileNotFoundError(
                f"{mask}: no object masks for {p}; label propagation on the synthetic set needs "
                "the masks/ folder that `vidrop data synth` writes"
            )

    def gen() -> Iterator[Sequence]:
        for p in paths:
            frames = torch.from_numpy(np.concatenate(list(iter_frames(p))))
            masks = load_masks(Path(p).parent.parent / "masks" / (Path(p).stem + ".npz"))
            n = min(len(frames), len(masks))
            yield Sequence(Path(p).stem, frames[:n], torch.from_numpy(masks[:n]).long())

    return len(paths), gen()
