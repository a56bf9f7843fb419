"""Start a run from existing backbone weights (`train.init` / `vidrop pretrain --init PATH`).

Any format `load_backbone` reads (it refuses a checkpoint with tensors it does not know, apart
from the parts known to be unused: decoders, predictors, classifier heads). The weights then
move to the run's layout exactly (`vidrop.models.convert`: VideoMAE's q/v biases become a qkv
bias with k = 0, position embeddings are resampled to the run's grid, a CLS token is added where
the weights have none) or the run stops with an error naming the key. Student and teacher
backbones get the same weights; what was converted, added and ignored is returned, logged and
written beside the run (RUN/init.json).
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from vidrop.config import ConfigError
from vidrop.models.convert import ConversionError, convert_state
from vidrop.models.load import load_backbone
from vidrop.models.vit import VideoViT

log = logging.getLogger(__name__)


def init_backbones(student: VideoViT, teacher: VideoViT, path: str) -> dict[str, Any]:
    src, meta = load_backbone(path, with_meta=True)
    try:
        state, note = convert_state(src.state_dict(), src.cfg, student.cfg, student.state_dict())
    except ConversionError as exc:
        raise ConfigError(f"train.init={path}: {exc}") from exc
    with torch.no_grad():
        student.load_state_dict(state)  # strict: convert_state gives every key
        teacher.load_state_dict(student.state_dict())
    report = {
        "source": str(path),
        "format": meta["format"],
        **note.to_dict(),
        "ignored": meta.get("ignored", []),
    }
    log.info("initialised from %s (%s)", path, meta["format"])
    for kind in ("converted", "added", "ignored"):
        if report[kind]:
            log.info("  %s: %s", kind, "; ".join(report[kind]))
    return report
