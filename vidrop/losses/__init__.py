"""ViDROP losses, one per file, on tensors (DINOv2's formulas)."""

from vidrop.losses.dino import dino_loss
from vidrop.losses.ibot import ibot_masked_loss
from vidrop.losses.koleo import koleo_loss
from vidrop.losses.sinkhorn import SoftmaxCenter, sinkhorn_knopp

__all__ = [
    "SoftmaxCenter",
    "dino_loss",
    "ibot_masked_loss",
    "koleo_loss",
    "sinkhorn_knopp",
]
