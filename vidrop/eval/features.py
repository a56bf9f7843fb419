"""Frozen features of every test view of every video, and their file on disk.

One forward per view gives the CLS token, the mean patch token and (optionally) all patch tokens,
so every probe (kNN, linear, attentive, low-shot) reads the same extraction. A video that cannot be
decoded gets `ok=False` and zero features; probes drop it and reports count it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, safe_open, save_file
from torch.utils.data import DataLoader, Dataset

from vidrop.atomic import atomic_path
from vidrop.data.images import ImageError, is_image, read_image
from vidrop.data.manifest import Manifest
from vidrop.data.video import VideoError, probe
from vidrop.data.views import normalize
from vidrop.eval.errors import EvalError
from vidrop.eval.views import EvalViews, image_views, is_short, read_views
from vidrop.machine import default_workers
from vidrop.models.vit import VideoViT
from vidrop.progress import ProgressBar

FEATURES = ("cls", "mean", "cls+mean")
COPY_FEATURE = "cls+gem"  # DINO's copy-detection descriptor
FORMAT = "vidrop-features-1"
GEM_P = 4.0  # DINO's copy-detection exponent


def gem(tokens: torch.Tensor, p: float = GEM_P, eps: float = 1e-6) -> torch.Tensor:
    """Generalised mean over tokens (..., L, D) -> (..., D), as DINO pools patch tokens for copy
    detection: values clamped to eps first, so negative activations count as zero."""
    return tokens.float().clamp(min=eps).pow(p).mean(-2).pow(1.0 / p)


def pooled_feature(cls: torch.Tensor, mean: torch.Tensor, kind: str) -> torch.Tensor:
    """float32 CLS token, mean patch token, or both concatenated (the last dim)."""
    if kind == "cls":
        return cls.float()
    if kind == "mean":
        return mean.float()
    if kind == "cls+mean":
        return torch.cat((cls, mean), dim=-1).float()
    raise ValueError(f"unknown feature {kind!r}; choose one of {FEATURES}")


@dataclass
class Features:
    """Per video n and view v: cls[n, v], mean[n, v], gem[n, v] (D floats; gem is None in files
    from before it existed), patch[n, v] (L, D) or None."""

    cls: torch.Tensor
    mean: torch.Tensor
    patch: torch.Tensor | None
    ok: torch.Tensor  # bool (N,): the video decoded
    short: torch.Tensor  # bool (N,): shorter than one clip (its last frame was repeated)
    paths: list[str]
    labels: list[str | None]
    views: EvalViews
    info: dict = field(default_factory=dict)  # backbone name etc.
    gem: torch.Tensor | None = None  # GeM (p=4) of the patch tokens

    def __len__(self) -> int:
        return len(self.paths)

    def vector(self, kind: str) -> torch.Tensor:
        """(N, V, D') float32 features of one kind (FEATURES, or COPY_FEATURE)."""
        if kind == COPY_FEATURE:
            if self.gem is None:
                raise EvalError(
                    "these features hold no GeM-pooled patch tokens (written before they "
                    "existed); extract them again with vidrop extract"
                )
            return torch.cat((self.cls, self.gem), dim=-1).float()
        return pooled_feature(self.cls, self.mean, kind)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {"cls": self.cls, "mean": self.mean, "ok": self.ok, "short": self.short}
        if self.patch is not None:
            tensors["patch"] = self.patch
        if self.gem is not None:
            tensors["gem"] = self.gem
        index = {
            "format": FORMAT,
            "paths": self.paths,
            "labels": self.labels,
            "views": self.views.to_dict(),
            "info": self.info,
        }
        tensors = {k: v.contiguous() for k, v in tensors.items()}
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), {"index": json.dumps(index)})
        return path

    @classmethod
    def load(cls, path: str | Path) -> Features:
        if not Path(path).is_file():
            raise EvalError(f"{path} does not exist; make a features file with vidrop extract")
        try:
            with safe_open(str(path), "pt") as f:
                meta = f.metadata() or {}
        except Exception as exc:  # safetensors' own error types: not a safetensors file at all
            raise EvalError(
                f"{path} is not a features file (not safetensors: {exc}); make one with "
                "vidrop extract --out-file FILE.safetensors"
            ) from exc
        index = json.loads(meta.get("index", "{}"))
        if index.get("format") != FORMAT:
            raise EvalError(f"{path} is not a vidrop features file; make one with vidrop extract")
        t = load_file(str(path))
        return cls(
            t["cls"],
            t["mean"],
            t.get("patch"),
            t["ok"],
            t["short"],
            index["paths"],
            index["labels"],
            EvalViews(**index["views"]),
            index["info"],
            t.get("gem"),
        )


class ViewsDataset(Dataset):
    def __init__(self, paths: list[str], views: EvalViews) -> None:
        self.paths, self.views = paths, views

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, bool, bool]:
        """(uint8 views, decoded, shorter than a clip); an image is a clip standing still."""
        v, path = self.views, self.paths[i]
        try:
            if is_image(path):
                return image_views(read_image(path), v), True, False
            n = probe(path).frames
            return read_views(path, n, v), True, is_short(n, v)
        except (VideoError, ImageError):
            blank = torch.zeros(v.count, 3, v.frames, v.size, v.size, dtype=torch.uint8)
            return blank, False, False


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


@torch.no_grad()
def extract_features(
    backbone: VideoViT,
    manifest: Manifest,
    views: EvalViews,
    *,
    patch_tokens: bool = False,
    batch_size: int = 8,
    num_workers: int | None = None,
    device: str | torch.device = "cpu",
    description: str = "features",
    info: dict | None = None,
    token_file: str | Path | None = None,
) -> Features:
    """Features of every view of every video in `manifest` (batch_size counts videos).

    Patch tokens are kept in float16 (N * V * L * D * 2 bytes), in memory, or with `token_file`
    in that file, memory-mapped (the attentive probe then reads them a batch at a time).
    `num_workers` decoding processes; None: `default_workers()` (all cores but one, at most 8)."""
    views.check()
    dev = torch.device(device)
    backbone.eval().to(dev)
    loader = DataLoader(
        ViewsDataset(manifest.paths, views),
        batch_size=batch_size,
        num_workers=default_workers() if num_workers is None else num_workers,
    )
    tokens = TokenSink(len(manifest), token_file) if patch_tokens else None
    with ProgressBar(len(manifest), description, unit="video") as bar:
        parts = _forward(backbone, loader, views.count, dev, tokens, bar)
    cat = {k: torch.cat(v) for k, v in parts.items()}
    return Features(
        cat["cls"],
        cat["mean"],
        tokens.result() if tokens else None,
        cat["ok"].bool(),
        cat["short"].bool(),
        manifest.paths,
        [e.label for e in manifest.entries],
        views,
        dict(info or {}),
        cat["gem"],
    )


def _forward(
    backbone: VideoViT,
    loader: DataLoader,
    n_views: int,
    dev: torch.device,
    tokens: TokenSink | None,
    bar: ProgressBar,
) -> dict[str, list[torch.Tensor]]:
    """Every batch through the backbone: each video's per-view CLS, mean and GeM features (and
    patch tokens into `tokens`), with whether it decoded and whether it was short."""
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in ("cls", "mean", "gem", "ok", "short")}
    for clips, good, short in loader:
        b = clips.shape[0]
        x = normalize(clips.flatten(0, 1).to(dev))  # (B * V, 3, T, S, S)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            out = backbone.forward_features(x)
        per_view = (b, n_views)
        parts["cls"].append(out["cls"].float().cpu().unflatten(0, per_view))
        parts["mean"].append(out["patch"].float().mean(1).cpu().unflatten(0, per_view))
        parts["gem"].append(gem(out["patch"]).cpu().unflatten(0, per_view))
        if tokens is not None:
            tokens.add(out["patch"].half().cpu().unflatten(0, per_view))
        parts["ok"].append(good)
        parts["short"].append(short)
        bar.update(b)
    return parts


class TokenSink:
    """Patch tokens of `n` videos, batch after batch: kept in memory, or written to a float16
    memmap file (`path`) that the result maps rather than loads."""

    def __init__(self, n: int, path: str | Path | None = None) -> None:
        self.n, self.path, self.done = n, path, 0
        self.parts: list[torch.Tensor] = []
        self.mapped: np.ndarray | None = None

    def add(self, tokens: torch.Tensor) -> None:
        if self.path is None:
            self.parts.append(tokens)
            return
        if self.mapped is None:
            shape = (self.n, *tokens.shape[1:])
            self.mapped = np.lib.format.open_memmap(self.path, "w+", np.float16, shape)
        self.mapped[self.done : self.done + len(tokens)] = tokens.numpy()
        self.done += len(tokens)

    def result(self) -> torch.Tensor:
        return torch.from_numpy(self.mapped) if self.mapped is not None else torch.cat(self.parts)


def views_of_backbone(meta: dict, backbone: VideoViT, clips: int = 1, crops: int = 1) -> EvalViews:
    """The clip shape the backbone was trained on (its export's "eval" entry), or its config's."""
    ev = meta.get("eval", {})
    return EvalViews(
        frames=ev.get("frames", backbone.cfg.num_frames),
        size=ev.get("size", backbone.cfg.img_size),
        stride=ev.get("stride", 4),
        short_side=ev.get("short_side", 0),
        clips=clips,
        crops=crops,
        sampling=ev.get("sampling", "stride"),
    )
