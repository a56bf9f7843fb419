"""`vidrop expand`: grow a training checkpoint's model (LEMON, `vidrop.models.lemon`) into a new
run folder whose first `vidrop pretrain` continues from it with a fresh optimizer at step 0.

Progressive recipe of the paper (from scratch to ViT-H): ViT-S 100 epochs on compressed data,
expand to B and train 6 epochs, to L and train 19, to H and train 30.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import yaml

from vidrop.config import load_config
from vidrop.models.lemon import expand_backbone, expand_head, grown_config
from vidrop.models.vit import ARCHS, ViTConfig
from vidrop.train.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint


def target_config(src: ViTConfig, to: str) -> ViTConfig:
    """`to` is an arch name (vit_b, vit_l, vit_h...): its width, depth and heads, the rest kept."""
    if to not in ARCHS:
        raise ValueError(f"--to {to!r}: choose one of {sorted(ARCHS)}")
    return grown_config(src, arch=to, embed_dim=0, depth=0, num_heads=0)


def expand_state(state: dict[str, Any], dst: ViTConfig, seed: int = 0) -> dict[str, Any]:
    """A vidrop training checkpoint -> the same with every backbone and head widened/deepened,
    the optimizer dropped and the step reset. Student and teacher get the same new weights."""
    src = ViTConfig(**state["config"]["model"]).resolved()
    model: dict[str, torch.Tensor] = {}
    for part in ("student", "teacher"):
        for module in ("backbone", "dino_head", "ibot_head"):
            prefix = f"{part}.{module}."
            sd = {k[len(prefix) :]: v for k, v in state["model"].items() if k.startswith(prefix)}
            if module == "backbone":
                new = expand_backbone(sd, src, dst, seed)
            else:
                new = expand_head(sd, dst.resolved().embed_dim, seed + 1)
            model.update({prefix + k: v for k, v in new.items()})
    model.update(
        {k: v for k, v in state["model"].items() if not k.startswith(("student.", "teacher."))}
    )
    config = dict(state["config"])
    config["model"] = dst.to_dict()
    return {
        **state,
        "model": model,
        "optimizer": None,  # a new model: AdamW moments start afresh
        "step": 0,
        "config": config,
        "expanded_from": {"model": src.to_dict(), "step": state["step"]},
    }


def expand_run(checkpoint: str | Path, to: str, out: str | Path, seed: int = 0) -> Path:
    """Write OUT/checkpoint.pt and OUT/config.yaml; `vidrop pretrain --config OUT/config.yaml
    --out OUT [overrides]` then trains the grown model."""
    state = load_checkpoint(checkpoint)
    dst = target_config(ViTConfig(**state["config"]["model"]), to)
    new = expand_state(state, dst, seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(new["config"], sort_keys=False))
    load_config(str(out / "config.yaml"), [])  # the grown config must validate
    save_checkpoint(
        out / CHECKPOINT_NAME, {k: v for k, v in new.items() if k not in ("format", "version")}
    )
    return out
