"""`vidrop expand`: grow a training checkpoint's model (LEMON, `vidrop.models.lemon`) into a new
run folder whose first `vidrop pretrain` continues from it with a fresh optimizer at step 0.

The new folder's config.yaml is the checkpoint's with the grown model, then the stage's recipe
(`--config`, every section but model, head and data) and overrides on top; `--epochs N` sizes the
stage's schedule with the warmups keeping their share. The paper's progressive recipe (from
scratch to ViT-H): ViT-S 100 epochs on compressed data, then B 6, L 19, H 30 (configs/lemon_*.yaml;
docs/interop.md gives the commands).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from vidrop.config import from_dict, load_config, merge, parse_overrides, save_config
from vidrop.models.lemon import expand_backbone, expand_head, grown_config
from vidrop.models.vit import ARCHS, ViTConfig
from vidrop.train.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from vidrop.train.sizing import scale_schedule


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
            if not sd:  # no iBOT head: head.shared
                continue
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


def stage_config(
    config: dict[str, Any],
    model: ViTConfig,
    recipe: str | None = None,
    overrides: list[str] | None = None,
    epochs: float | None = None,
) -> dict[str, Any]:
    """The grown run's resolved config: the checkpoint's `config` with the grown `model`, the
    stage `recipe`'s sections (not model, head or data: those belong to the grown checkpoint and
    its data) and `overrides` on top, the schedule scaled to `epochs` when given; no
    train.max_steps unless an override sets one."""
    # a new run: the small run's early stop (train.max_steps) is not the stage's
    raw = dict(config, model=model.to_dict(), train={**config["train"], "max_steps": 0})
    if recipe:
        stage = load_config(recipe).to_dict()
        raw = merge(raw, {k: v for k, v in stage.items() if k not in ("model", "head", "data")})
    cfg = from_dict(merge(raw, parse_overrides(overrides or [])))
    if epochs is not None:
        cfg = replace(cfg, optim=scale_schedule(cfg.optim, epochs))
    return cfg.to_dict()


def expand_run(
    checkpoint: str | Path,
    to: str,
    out: str | Path,
    seed: int = 0,
    recipe: str | None = None,
    overrides: list[str] | None = None,
    epochs: float | None = None,
) -> Path:
    """Write OUT/checkpoint.pt and OUT/config.yaml; `vidrop pretrain --config OUT/config.yaml
    --out OUT` then trains the grown model for its stage."""
    state = load_checkpoint(checkpoint)
    dst = target_config(ViTConfig(**state["config"]["model"]), to)
    new = expand_state(state, dst, seed)
    new["config"] = stage_config(new["config"], dst, recipe, overrides, epochs)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_config(from_dict(new["config"]), out / "config.yaml")
    save_checkpoint(
        out / CHECKPOINT_NAME, {k: v for k, v in new.items() if k not in ("format", "version")}
    )
    return out
