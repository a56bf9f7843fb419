"""The dense student (DINOv2 on video): ViDROP's recipe with nothing dropped. The student sees
every token of the large clips and masks them as DINOv2 does (half the large clips, 10-50% of
their tokens), so iBOT predicts the teacher's tokens under the mask tokens. Everything else,
heads and losses included, is ViDROP's: the row that shows what dropping buys. Tuning tries its
masking against ViDROP's (the base recipe's)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from vidrop.config import Config, MaskConfig
from vidrop.methods.registry import register_method
from vidrop.methods.vidrop import ViDROPMethod

# DINOv2's iBOT masking (its ibot.mask_sample_probability and mask_ratio_min_max)
DINOV2_MASK_PROB, DINOV2_MASK_RATIO = 0.5, (0.1, 0.5)


@register_method
class DenseMethod(ViDROPMethod):
    name = "dense"
    knob = "mask.mask_prob, mask.mask_ratio"

    def recipe(self, cfg: Config) -> Config:
        mask = replace(
            cfg.mask, drop_ratio=0.0, mask_prob=DINOV2_MASK_PROB, mask_ratio=DINOV2_MASK_RATIO
        )
        return replace(cfg, mask=mask)

    def knob_settings(self, cfg: Config, base: Config) -> list[dict[str, Any]]:
        """Its own masking (DINOv2's, unless overridden), and ViDROP's: the base recipe's, or
        ViDROP's defaults where the base masks as DINOv2 does."""
        own, vidrop = masking(cfg.mask), masking(base.mask)
        return [own, vidrop if vidrop != own else masking(MaskConfig())]


def masking(m: MaskConfig) -> dict[str, Any]:
    return {"mask.mask_prob": m.mask_prob, "mask.mask_ratio": list(m.mask_ratio)}
