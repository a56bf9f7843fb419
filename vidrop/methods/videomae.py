"""VideoMAE pretraining by its real implementation: transformers' `VideoMAEForPreTraining`, its
model and its loss (`train.method=videomae`), inside vidrop's training loop.

It trains the same encoder as a ViDROP run (width, depth, heads, patch, tubelet, frames, size,
from `model` and the large views) on the same videos and views, with VideoMAE's recipe
(`VideoMAEMethod.recipe`): 90% tube masking (the encoder sees the visible tubes only: the loader's
token plan with `mask.drop_pattern=tube`, `mask.drop_ratio=0.9`), the normalised-pixel loss on
the masked patches, a small decoder, AdamW with betas (0.9, 0.95), weight decay 0.05, lr
1.5e-4 x batch / 256 with a cosine schedule after a linear warmup of 5% of the run. Each large
clip of a video is one sample (VideoMAE's repeated sampling); the small clips are not drawn. The
run folder holds what a ViDROP run's does; its export is the encoder as an HF VideoMAE folder
(`load_backbone` reads it; its feature is the mean of the final patch tokens, VideoMAE's own).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vidrop import dist
from vidrop.atomic import atomic_files
from vidrop.config import Config, ConfigError, DecoderConfig, OptimConfig
from vidrop.data.batch import DeviceBatch
from vidrop.data.views import clip_major
from vidrop.methods.base import LossTerms, Method, ParamGroup
from vidrop.methods.param_groups import no_decay_groups
from vidrop.methods.registry import register_method
from vidrop.models.vit import ViTConfig


def decoder_shape(encoder: ViTConfig, d: DecoderConfig) -> tuple[int, int, int]:
    """(width, depth, heads) of the decoder: VideoMAE's for its sizes (ViT-B: 384, 4, 6)."""
    e = encoder.resolved()
    width = d.width or e.embed_dim // 2
    depth = d.depth or min(4, max(1, round(e.depth / 3)))
    heads = d.heads or (width // 64 if width % 64 == 0 else max(1, width // 32))
    return width, depth, heads


def require_transformers() -> Any:
    """transformers, or an error that says how to get it (the `compare` extra)."""
    try:
        import transformers
    except ImportError as exc:
        raise ConfigError(
            "the videomae method runs transformers' VideoMAEForPreTraining: "
            "pip install 'vidrop[compare]' (or leave it out: --methods vidrop,dense)"
        ) from exc
    return transformers


def hf_config(cfg: Config) -> Any:
    """transformers.VideoMAEConfig of the encoder on the large clip, and the decoder."""
    transformers = require_transformers()
    m, v = cfg.model.resolved(), cfg.views
    width, depth, heads = decoder_shape(m, cfg.decoder)
    return transformers.VideoMAEConfig(
        image_size=v.large_size,
        patch_size=m.patch_size,
        num_channels=m.in_chans,
        num_frames=v.large_frames,
        tubelet_size=m.tubelet,
        hidden_size=m.embed_dim,
        num_hidden_layers=m.depth,
        num_attention_heads=m.num_heads,
        intermediate_size=int(m.embed_dim * m.mlp_ratio),
        layer_norm_eps=m.norm_eps,
        qv_bias=m.qkv_bias == "qv",
        use_mean_pooling=False,
        norm_pix_loss=cfg.decoder.norm_pix_loss,
        decoder_hidden_size=width,
        decoder_num_hidden_layers=depth,
        decoder_num_attention_heads=heads,
        decoder_intermediate_size=int(width * m.mlp_ratio),
        attn_implementation="sdpa",
    )


@register_method
class VideoMAEMethod(Method):
    name = "videomae"
    feature = "mean"  # VideoMAE has no CLS: its feature is the mean of the final patch tokens
    parts = ("encoder",)
    # its paper ablates the mask ratio: 0.9 best, 0.75 its other common choice (MAE's for images)
    knob = "mask.drop_ratio"
    knob_values = (0.75, 0.9)

    def recipe(self, cfg: Config) -> Config:
        """VideoMAE's recipe on `cfg`'s encoder, views and budget."""
        o = cfg.optim
        return replace(
            cfg,
            train=replace(cfg.train, init=""),
            views=replace(cfg.views, small_clips=0),
            mask=replace(cfg.mask, drop_pattern="tube", drop_ratio=0.9, mask_prob=0.0),
            optim=replace(
                o,
                # VideoMAE: 1.5e-4 x samples a step / 256, and each video gives its large clips
                base_lr=1.5e-4 * cfg.views.large_clips,
                lr_scaling="linear_wrt_256",
                min_lr=1e-5,
                warmup_epochs=0.05 * o.epochs,  # VideoMAE: 40 of 800 epochs
                weight_decay=0.05,
                weight_decay_end=0.05,
                beta1=0.9,
                beta2=0.95,
                clip_grad=0.0,  # VideoMAE's pretraining does not clip
                layerwise_decay=1.0,
                patch_embed_lr_mult=1.0,
            ),
        )

    def check(self, cfg: Config) -> None:
        require_transformers()  # before any work, not hours into a comparison
        m = cfg.model
        if m.layerscale > 0 or not m.final_norm or m.qkv_bias == "qkv":
            raise ConfigError(
                "train.method=videomae builds transformers' VideoMAE encoder: it has no layer "
                "scale and no key bias, and ends with a LayerNorm; set model.layerscale=0, "
                "model.qkv_bias=qv (or none) and model.final_norm=true"
            )

    def build(self, cfg: Config) -> nn.Module:
        """VideoMAEForPreTraining, transformers' own initialisation (seeded by the caller)."""
        model: nn.Module = require_transformers().VideoMAEForPreTraining(hf_config(cfg))
        return model

    def param_groups(self, model: nn.Module, optim: OptimConfig) -> list[ParamGroup]:
        return no_decay_groups(model)

    def loss(self, forward: nn.Module, batch: DeviceBatch, sched: Mapping[str, float]) -> LossTerms:
        """The normalised-pixel loss of the masked tubes; each large clip is one sample, laid
        out clip-major as the loader's token plan (its kept tubes) is."""
        if batch.plan is None:
            raise ValueError("a VideoMAE step needs the micro-batch's token plan (its tubes)")
        clips, keep = clip_major(batch.large), batch.plan.keep
        masks = torch.ones(
            clips.shape[0], batch.plan.grid_tokens, dtype=torch.bool, device=keep.device
        )
        masks.scatter_(1, keep, False)  # the encoder sees the kept tubes only
        out = forward(pixel_values=clips.transpose(1, 2), bool_masked_pos=masks)
        loss = out.loss
        visible = torch.tensor(batch.plan.keep.numel())
        return LossTerms(loss, {"loss": loss.detach().float(), "encoder_tokens": visible})

    def set_activation_checkpointing(self, model: nn.Module, on: bool) -> None:
        if on:
            model.gradient_checkpointing_enable()  # type: ignore[operator]

    def export(self, model: nn.Module, out: Path, meta: dict[str, Any], part: str = "") -> Path:
        """The encoder as an HF VideoMAE folder that `load_backbone` reads, the clip it trained
        on recorded as config.json's "vidrop_eval" (transformers ignores it)."""
        if part not in ("", *self.parts):
            raise ConfigError(f"the videomae method exports its encoder, not {part}")
        if dist.is_main():
            encoder: Any = model.videomae  # transformers' VideoMAEModel
            encoder.config.vidrop_eval = meta.get("eval")
            with atomic_files(out) as tmp:
                encoder.save_pretrained(tmp)
        return out
