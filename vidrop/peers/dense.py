"""The dense student (DINOv2 on video): ViDROP's recipe with nothing dropped. The student sees
every token of the large clips; the recipe's masking stays, so iBOT still predicts the teacher's
tokens under the mask tokens, as DINOv2 does (it masks 10-50% of the patches of half its
images; the tiny recipe masks 50-70% of every large clip). Everything else, heads and losses
included, is ViDROP's: the row that shows what dropping buys."""

from __future__ import annotations

from dataclasses import replace

from vidrop.config import Config


def dense_config(cfg: Config) -> Config:
    return replace(cfg, mask=replace(cfg.mask, drop_ratio=0.0))
