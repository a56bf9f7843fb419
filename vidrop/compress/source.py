"""A code store as a clip source: frames come from memory-mapped codes and a codebook lookup,
only for the patches a crop covers (the `ClipSource` of vidrop.data.source)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vidrop.compress.patches import decode_codes
from vidrop.compress.store import CodeStore
from vidrop.data.source import PendingView
from vidrop.data.views import CropBox, crop_resize


def mirrored_table(table: torch.Tensor, patch: int) -> torch.Tensor:
    """The codebook (K, p*p*3) with every patch flipped left-right."""
    k = table.shape[0]
    return table.view(k, patch, patch, 3).flip(2).reshape(k, -1).contiguous()


@dataclass
class CodeBlock:
    codes: np.ndarray  # uint16 (frames, gh, gw), usually a memory map
    table: torch.Tensor  # uint8 (K, p*p*3)
    mirrored: torch.Tensor | None  # every patch flipped left-right (None: decoded on device)
    patch: int
    on_device: bool  # hand out PendingView (codes) instead of pixels

    @property
    def height(self) -> int:
        return self.codes.shape[1] * self.patch

    @property
    def width(self) -> int:
        return self.codes.shape[2] * self.patch

    def view(
        self,
        frames: np.ndarray,
        box: CropBox,
        size: int,
        flip: bool,
        out: torch.Tensor | None = None,
    ) -> torch.Tensor | PendingView:
        p = self.patch
        r0, c0 = box.top // p, box.left // p
        r1, c1 = -(-(box.top + box.height) // p), -(-(box.left + box.width) // p)
        codes = self.codes[np.asarray(frames), r0:r1, c0:c1]
        rel = CropBox(box.top - r0 * p, box.left - c0 * p, box.height, box.width)
        if self.on_device:
            return PendingView(torch.from_numpy(codes.astype(np.int32)), rel, size, flip)
        table = self.table
        if flip:  # mirror the codes' columns and every patch: the lookup yields mirrored pixels
            assert self.mirrored is not None  # made wherever workers decode
            codes, table = codes[..., ::-1], self.mirrored
            rel = CropBox(rel.top, (c1 - c0) * p - rel.left - rel.width, rel.height, rel.width)
        pixels = decode_codes(torch.from_numpy(codes.astype(np.int32)), table)
        return crop_resize(pixels, rel, size, False, out)


class StoreSource:
    """A code store (`vidrop compress encode`): frames come from memory-mapped codes and a
    codebook lookup, only for the patches a crop covers. With `verify` (data.verify_store) each
    video's codes are checked where they are read (CodeStore.checked_codes): a changed video is
    skipped and named like an unreadable one. `recheck`: check on every read, not once per
    process and video (what a worker pays in the first epoch of a large store; benchmarks)."""

    def __init__(
        self,
        store: str,
        decode_on_device: bool = False,
        verify: bool = True,
        recheck: bool = False,
    ) -> None:
        self.store = CodeStore(store)
        self.verify, self.recheck = verify, recheck
        self.table = self.store.codebook.table
        # flipped views decode from mirrored codes and patches: no flip pass over the pixels
        # (on the device the flip is free: the table is only needed where workers decode)
        self.mirrored = None if decode_on_device else mirrored_table(self.table, self.store.patch)
        self.on_device = decode_on_device

    def __len__(self) -> int:
        return len(self.store)

    def name(self, index: int) -> str:
        return self.store.videos[index].path

    def num_frames(self, index: int) -> int:
        return self.store.videos[index].frames

    def load(self, index: int, frames: np.ndarray) -> CodeBlock:
        if self.verify:
            codes = self.store.checked_codes(index, remember=not self.recheck)
        else:
            codes = self.store.codes(index)
        return CodeBlock(codes, self.table, self.mirrored, self.store.patch, self.on_device)
