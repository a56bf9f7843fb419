"""Video ViT backbone (drop and mask aware), DINO heads, position embeddings, exports."""

from vidrop.models.heads import DINOHead
from vidrop.models.vit import VideoViT, ViTConfig

__all__ = ["DINOHead", "VideoViT", "ViTConfig"]
