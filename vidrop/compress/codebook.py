"""The codebook: k centroids of p x p RGB patches, saved as safetensors + JSON metadata.

Encoding assigns every patch of a frame to its nearest centroid; decoding looks the codes up in
the uint8 table (the rounded centroids), so decode(encode(frames)) is exactly the table's patches.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from vidrop.atomic import atomic_path, write_text_atomic
from vidrop.compress.fused_search import CENTRE, PreparedTable, available, fused_nearest
from vidrop.compress.kmeans import nearest
from vidrop.compress.patches import decode_codes, patchify

FORMAT = "vidrop-codebook/1"


@dataclass
class CodebookMeta:
    patch: int
    k: int
    short_side: int  # storage resolution: frames' short side before rounding to the patch
    colour_space: str = "rgb"
    code_dtype: str = "uint16"
    stats: dict[str, Any] = field(default_factory=dict)  # how it was fitted: samples, inertia...


class Codebook:
    def __init__(self, centroids: torch.Tensor, meta: CodebookMeta) -> None:
        if centroids.shape != (meta.k, meta.patch * meta.patch * 3):
            raise ValueError(f"centroids {tuple(centroids.shape)} do not match {meta}")
        if meta.k > 2**16:
            raise ValueError(f"k={meta.k} does not fit uint16 codes (at most 65536)")
        self.meta = meta
        self.centroids = centroids.float().contiguous()
        self.table = centroids.round().clamp(0, 255).to(torch.uint8)
        # Encoding searches the uint8 table (what decoding gives back). Centred on 128 every
        # distance is an exact integer in fp32 (and TF32/fp16 inputs): CPU, GPU and the fused
        # kernel choose the same code.
        self._search = self.table.float() - CENTRE
        self._search_sq = (self._search * self._search).sum(1)
        self._fused: PreparedTable | None = None  # built on first fused encode

    @property
    def patch(self) -> int:
        return self.meta.patch

    def to(self, device: torch.device | str) -> Codebook:
        other = Codebook(self.centroids.to(device), self.meta)
        return other

    def encode(
        self, frames: torch.Tensor, chunk: int = 4096, fused: bool | None = None
    ) -> torch.Tensor:
        """uint8 (..., H, W, 3), H and W multiples of the patch -> int64 codes (..., H/p, W/p):
        for each patch the first nearest DECODED patch (table entry), on the codebook's device.
        `fused` (default: on CUDA with Triton) searches in one kernel (fused_search.py)."""
        device = self.centroids.device
        x = patchify(frames.to(device), self.patch)
        flat = x.reshape(-1, x.shape[-1])
        if fused is None:
            fused = available(device)
        if fused:
            if self._fused is None:
                self._fused = PreparedTable(self.table)
            ids, _ = fused_nearest(flat, self._fused)
        else:
            ids = torch.cat(
                [
                    nearest(part.float() - CENTRE, self._search, chunk, self._search_sq)[0]
                    for part in flat.split(16 * chunk)
                ]
            )
        return ids.reshape(x.shape[:-1])

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (..., gh, gw) -> uint8 frames (..., gh*p, gw*p, 3) on the codes' device."""
        table = self.table if self.table.device == codes.device else self.table.to(codes.device)
        return decode_codes(codes, table)

    def save(self, path: str | Path) -> Path:
        """Writes PATH.safetensors and PATH.json (PATH may end in either or neither)."""
        base = _base(path)
        base.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(base.with_suffix(".safetensors")) as tmp:  # 0644, not safetensors' 0600
            save_file({"centroids": self.centroids.cpu()}, str(tmp))
        meta = {"format": FORMAT, **asdict(self.meta)}
        write_text_atomic(base.with_suffix(".json"), json.dumps(meta, indent=2) + "\n")
        return base

    @classmethod
    def load(cls, path: str | Path) -> Codebook:
        base = _base(path)
        tensors, meta_file = base.with_suffix(".safetensors"), base.with_suffix(".json")
        for f in (tensors, meta_file):
            if not f.exists():
                raise FileNotFoundError(
                    f"codebook file {f} not found: make one with `vidrop compress fit`"
                )
        meta = json.loads(meta_file.read_text())
        if meta.pop("format", None) != FORMAT:
            raise ValueError(f"{meta_file} is not a vidrop codebook ({FORMAT})")
        return cls(load_file(str(tensors))["centroids"], CodebookMeta(**meta))


def _base(path: str | Path) -> Path:
    p = Path(path)
    return p.with_suffix("") if p.suffix in (".safetensors", ".json") else p


def codes_to_numpy(codes: torch.Tensor) -> np.ndarray:
    """int64 codes -> the stored uint16 array."""
    return codes.to(torch.int32).cpu().numpy().astype(np.uint16)
