"""Which backbones an evaluation scores and how: their names, the clip each is shown, and the
random-init floor each gain is measured against (read the way the backbone is read)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch

from vidrop.eval.errors import EvalError
from vidrop.eval.features import views_of_backbone
from vidrop.eval.suite import SuiteBackbone, feature_of
from vidrop.eval.views import EvalViews
from vidrop.models.vit import VideoViT

log = logging.getLogger("vidrop")

FIXED_POSITIONS = ("hf-videomae", "videomae", "vjepa")  # formats whose position table is fixed


def display_name(path: str) -> str:
    """The run folder's name for RUN/export (or its backbone.json), a folder's own name, or a
    file's name without its last suffix."""
    p = Path(path)
    if p.name != "export" and p.parent.name == "export":
        p = p.parent
    if p.name == "export":
        return p.parent.name
    return p.name if p.is_dir() else p.stem


def named_backbones(specs: list[str]) -> dict[str, str]:
    """`--backbone` values (PATH or NAME=PATH) -> {name: path}; two backbones of one name are
    refused (one result would silently replace the other)."""
    named: dict[str, str] = {}
    for spec in specs:
        name, path = spec.split("=", 1) if "=" in spec and not Path(spec).exists() else ("", spec)
        name = name or display_name(path)
        if name in named:
            raise EvalError(
                f"two backbones are named {name!r} ({named[name]} and {path}); name them: "
                f"--backbone NAME1={named[name]} NAME2={path}"
            )
        named[name] = path
    return named


def shown_views(
    model: VideoViT, meta: dict, clips: int, crops: int, name: str = "", **given: Any
) -> EvalViews:
    """The backbone's training clip (its export records it), the `given` fields (frames, size,
    stride, sampling; falsy: not given) over it; a backbone that records none (an HF or original
    VideoMAE, a V-JEPA checkpoint) is shown its config's frames and size at stride 4, and the
    run says so."""
    v = views_of_backbone(meta, model, clips, crops)
    if "eval" not in meta and not given.get("stride"):
        log.warning(
            "%s records no training views: assuming frame stride %d (VideoMAE and V-JEPA on "
            "Kinetics); give --stride if it was trained otherwise",
            name or "the backbone",
            v.stride,
        )
    return EvalViews(
        given.get("frames") or v.frames,
        given.get("size") or v.size,
        given.get("stride") or v.stride,
        v.short_side,
        v.clips,
        v.crops,
        given.get("sampling") or v.sampling,
    )


def random_floor(model: VideoViT, meta: dict, seed: int) -> VideoViT:
    """The same architecture at random init, seeded; position tables that a format fixes
    (VideoMAE's sinusoid, V-JEPA's sin-cos) are kept, as a random network of that kind has them."""
    torch.manual_seed(seed)
    floor = VideoViT(model.cfg).eval()
    if meta.get("format") in FIXED_POSITIONS and floor.pos_embed is not None:
        assert model.pos_embed is not None  # the same architecture
        floor.pos_embed.data.copy_(model.pos_embed.data)
    return floor


def add_floors(backbones: dict[str, SuiteBackbone], metas: dict[str, dict], seed: int) -> None:
    """One random-init floor per distinct (architecture, feature) among `backbones`, added to
    them; each backbone's `floor` is set to its own. Named "random init", or by the feature
    ("random init (mean)"), or by the first backbone it serves."""
    keys = {
        n: (json.dumps(b.model.cfg.to_dict(), sort_keys=True), feature_of(b.model, b.feature))
        for n, b in backbones.items()
    }
    distinct = list(dict.fromkeys(keys.values()))
    for key in distinct:
        first = next(n for n, k in keys.items() if k == key)
        if len(distinct) == 1:
            name = "random init"
        elif sum(k[1] == key[1] for k in distinct) == 1:
            name = f"random init ({key[1]})"
        else:
            name = f"random init ({first})"
        for n, k in keys.items():
            if k == key:
                backbones[n].floor = name
        b = backbones[first]
        backbones[name] = SuiteBackbone(random_floor(b.model, metas[first], seed), b.views, key[1])
