"""The dense student (DINOv2 on video): ViDROP's recipe with nothing dropped. The student sees
every token of the large clips; the recipe's masking stays, so iBOT still predicts the teacher's
tokens under the mask tokens, as DINOv2 does. Everything else, heads and losses included, is
ViDROP's: the row that shows what dropping buys."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from vidrop.config import Config
from vidrop.methods.registry import register_method
from vidrop.methods.vidrop import ViDROPMethod

# DINOv2's iBOT masking (its ibot.mask_sample_probability and mask_ratio_min_max)
DINOV2_MASKING: dict[str, Any] = {"mask.mask_prob": 0.5, "mask.mask_ratio": [0.1, 0.5]}


@register_method
class DenseMethod(ViDROPMethod):
    name = "dense"
    knob = "mask.mask_prob, mask.mask_ratio"

    def recipe(self, cfg: Config) -> Config:
        return replace(cfg, mask=replace(cfg.mask, drop_ratio=0.0))

    def knob_settings(self, cfg: Config) -> list[dict[str, Any]]:
        """The recipe's masking, and DINOv2's: half the clips, 10-50% of their tokens."""
        own = {"mask.mask_prob": cfg.mask.mask_prob, "mask.mask_ratio": list(cfg.mask.mask_ratio)}
        return [own] if own == DINOV2_MASKING else [own, DINOV2_MASKING]
