"""Start a run from existing backbone weights (`train.init` / `vidrop pretrain --init PATH`).

Any format `load_backbone` reads; both student and teacher backbones get the weights. VideoMAE
and V-JEPA have no CLS token: ours keeps its fresh one (DINOv2-style init). Position embeddings
on another grid are resampled to ours; any other shape mismatch is an error naming the tensor.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from vidrop.config import ConfigError
from vidrop.models.load import load_backbone, shape_mismatches
from vidrop.models.pos_embed import resample_grid
from vidrop.models.vit import VideoViT

log = logging.getLogger(__name__)


def init_backbones(student: VideoViT, teacher: VideoViT, path: str) -> dict[str, Any]:
    src, meta = load_backbone(path)
    state = dict(src.state_dict())
    own = student.state_dict()
    if "pos_embed" in state and state["pos_embed"].shape != own["pos_embed"].shape:
        state["pos_embed"] = resample_grid(
            state["pos_embed"], src.grid.as_tuple(), student.grid.as_tuple()
        )
    bad = [f"{k} {theirs} vs ours {ours}" for k, theirs, ours in shape_mismatches(state, own)]
    if bad:
        raise ConfigError(
            f"train.init={path}: shapes differ ({'; '.join(bad[:3])}); set model.arch, "
            "model.qkv_bias, model.patch_size and model.tubelet to the checkpoint's"
        )
    missing, unexpected = student.load_state_dict(state, strict=False)
    with torch.no_grad():
        teacher.load_state_dict(student.state_dict())
    report = {"source": path, "format": meta["format"], "kept_fresh": missing,
              "ignored": unexpected}  # fmt: skip
    log.info("initialised from %s (%s); fresh: %s", path, meta["format"], missing or "none")
    return report
