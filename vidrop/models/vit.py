"""Video ViT with a CLS token whose student forward takes kept-token indices and a mask.

Dropped tokens are removed before the first block, so attention and MLP cost scale with the kept
count. The patch embedding is stored as a Conv3d (tubelet x patch x patch, VideoMAE's layout) and
applied as one matrix product on the kept patches only. Positions are a learned table added to
the tokens, or V-JEPA 2's rotary positions applied inside every attention (`model.pos_embed`).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from vidrop.config import ARCHS, ViTConfig
from vidrop.models.layers import Block, LayerNorm
from vidrop.models.pos_embed import resample_grid
from vidrop.models.rope import rope3d_tables, with_unrotated_prefix
from vidrop.tokens.grid import TokenGrid

__all__ = ["ARCHS", "PatchEmbed3d", "VideoViT", "ViTConfig"]


class PatchEmbed3d(nn.Module):
    """Tubelet embedding: Conv3d weights, applied as a linear map to (gathered) patches."""

    def __init__(self, in_chans: int, dim: int, tubelet: int, patch: int) -> None:
        super().__init__()
        self.tubelet, self.patch = tubelet, patch
        self.proj = nn.Conv3d(in_chans, dim, (tubelet, patch, patch), (tubelet, patch, patch))

    def patchify(self, video: torch.Tensor) -> tuple[torch.Tensor, TokenGrid]:
        """(B, C, T, H, W) -> (B, N, C*tubelet*patch*patch) in t-major token order, and the grid."""
        b, c, t, h, w = video.shape
        grid = TokenGrid.of_clip(t, (h, w), self.tubelet, self.patch)
        pt, p = self.tubelet, self.patch
        x = video.reshape(b, c, grid.t, pt, grid.h, p, grid.w, p)
        x = x.permute(0, 2, 4, 6, 1, 3, 5, 7).reshape(b, grid.numel, c * pt * p * p)
        return x, grid

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        return F.linear(patches, self.proj.weight.flatten(1), self.proj.bias)


class VideoViT(nn.Module):
    def __init__(self, cfg: ViTConfig) -> None:
        super().__init__()
        cfg = cfg.resolved()
        self.cfg = cfg
        self.meta: dict[str, Any] = {}  # where it came from, when load_backbone made it
        d = cfg.embed_dim
        self.grid = TokenGrid.of_clip(cfg.num_frames, cfg.img_size, cfg.tubelet, cfg.patch_size)
        self.patch_embed = PatchEmbed3d(cfg.in_chans, d, cfg.tubelet, cfg.patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d)) if cfg.cls_token else None
        self.mask_token = nn.Parameter(torch.zeros(1, 1, d))
        learned = cfg.pos_embed == "learned"  # else rotary positions in attention (rope3d)
        self.pos_embed = nn.Parameter(torch.zeros(1, self.grid.numel, d)) if learned else None
        rates = torch.linspace(0, cfg.drop_path, cfg.depth).tolist()
        self.blocks = nn.ModuleList(
            Block(d, cfg.num_heads, cfg.mlp_ratio, cfg.qkv_bias, r, cfg.layerscale, cfg.norm_eps)
            for r in rates
        )
        self.norm = LayerNorm(d, eps=cfg.norm_eps) if cfg.final_norm else nn.Identity()
        self.activation_checkpointing = False  # a training choice (train.activation_checkpointing)
        self._init_weights()

    @property
    def embed_dim(self) -> int:
        return self.cfg.embed_dim

    def _init_weights(self) -> None:
        if self.pos_embed is not None:
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        if self.cls_token is not None:
            nn.init.normal_(self.cls_token, std=1e-6)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def prepare_tokens(
        self,
        video: torch.Tensor,
        keep: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Patch-embed, keep, mask, add the learned position embeddings, prepend CLS: (B, 1+K, D)
        (or (B, K, D) without a CLS token)."""
        patches, grid = self.patch_embed.patchify(video)
        if keep is not None:
            patches = patches.gather(1, keep[..., None].expand(-1, -1, patches.shape[-1]))
        x = self.patch_embed(patches)
        if mask is not None:
            x = torch.where(mask[..., None], self.mask_token.to(x.dtype), x)
        if self.pos_embed is not None:
            pos = resample_grid(self.pos_embed, self.grid.as_tuple(), grid.as_tuple())
            pos = pos.expand(video.shape[0], -1, -1)
            if keep is not None:
                pos = pos.gather(1, keep[..., None].expand(-1, -1, pos.shape[-1]))
            x = x + pos.to(x.dtype)
        if self.cls_token is None:
            return x
        return torch.cat((self.cls_token.expand(x.shape[0], -1, -1).to(x.dtype), x), dim=1)

    def forward(
        self,
        video: torch.Tensor,
        keep: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """video (B, C, T, H, W); keep (B, K) kept token indices; mask (B, K) bool over kept tokens.

        Returns the normalised CLS (B, D) and patch tokens (B, K or N, D); without a CLS token
        "cls" is the mean of the patch tokens.
        """
        if mask is not None and keep is not None and mask.shape != keep.shape:
            raise ValueError(f"mask {tuple(mask.shape)} must match keep {tuple(keep.shape)}")
        x = self.prepare_tokens(video, keep, mask)
        rope = self.rotary_positions(video, keep)
        for blk in self.blocks:
            if self.activation_checkpointing and self.training and torch.is_grad_enabled():
                x = checkpoint(blk, x, rope, use_reentrant=False)  # recompute in backward
            else:
                x = blk(x, rope)
        x = self.norm(x)
        if self.cls_token is None:
            return {"cls": x.mean(1), "patch": x}
        return {"cls": x[:, 0], "patch": x[:, 1:]}

    def rotary_positions(
        self, video: torch.Tensor, keep: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """rope3d: (cos, sin) of every token in the sequence, each kept token at its own
        (t, h, w) in the clip's grid, the CLS token unrotated; None with learned positions."""
        if self.pos_embed is not None:
            return None
        c = self.cfg
        size = (int(video.shape[3]), int(video.shape[4]))
        grid = TokenGrid.of_clip(video.shape[2], size, c.tubelet, c.patch_size)
        coords = grid.coords(video.device)
        coords = coords[keep] if keep is not None else coords[None]  # (B or 1, N, 3)
        tables = rope3d_tables(coords, c.embed_dim // c.num_heads)
        return with_unrotated_prefix(tables) if self.cls_token is not None else tables

    def forward_features(
        self,
        video: torch.Tensor,
        keep: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Same as calling the module, so a compiled module (`.compile()`) stays compiled."""
        return self(video, keep, mask)

    def lr_layer_id(self, name: str) -> int:
        """Layer index for lr decay (DINOv2): embeddings 0, block i -> i+1, the rest depth+1."""
        if name.startswith(("patch_embed", "pos_embed", "cls_token", "mask_token")):
            return 0
        if name.startswith("blocks."):
            return int(name.split(".")[1]) + 1
        return self.cfg.depth + 1
