"""A method of one's own, as docs/design.md shows it: ViDROP without its iBOT loss (the DINO loss
on the CLS tokens and KoLeo only), registered by name.

    vidrop --plugin tests.methods.dino_only compare --methods vidrop,dino_only ...

Only what differs from ViDROP is written: its recipe (no iBOT weight, so no mask tokens either),
the knob tuning tries (the drop ratio, inherited), and a check. Everything else, the modules, the
optimizer groups, the step, the EMA teacher and the export, comes from `ViDROPMethod`.
"""

from __future__ import annotations

from dataclasses import replace

from vidrop.config import Config, ConfigError
from vidrop.methods import ViDROPMethod, register_method


@register_method
class DinoOnly(ViDROPMethod):
    name = "dino_only"

    def recipe(self, cfg: Config) -> Config:
        """ViDROP's recipe with the iBOT loss off: nothing to mask for."""
        return replace(
            cfg,
            loss=replace(cfg.loss, ibot_weight=0.0),
            mask=replace(cfg.mask, mask_prob=0.0),
        )

    def check(self, cfg: Config) -> None:
        super().check(cfg)
        if cfg.loss.ibot_weight != 0.0:
            raise ConfigError("dino_only trains without iBOT: leave loss.ibot_weight at 0")
