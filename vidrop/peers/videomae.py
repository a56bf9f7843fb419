"""VideoMAE pretraining by its real implementation: transformers' `VideoMAEForPreTraining`, its
model and its loss (`train.method=videomae`), inside vidrop's training loop.

It trains the same encoder as a ViDROP run (width, depth, heads, patch, tubelet, frames, size,
from `model` and the large views) on the same videos and views, with VideoMAE's recipe
(`videomae_config`): 90% tube masking (the encoder sees the visible tubes only: the loader's
token plan with `mask.drop_pattern=tube`, `mask.drop_ratio=0.9`), the normalised-pixel loss on
the masked patches, a small decoder, AdamW with betas (0.9, 0.95), weight decay 0.05, lr
1.5e-4 x batch / 256 with a cosine schedule after a linear warmup of 5% of the run. Each large
clip of a video is one sample (VideoMAE's repeated sampling); the small clips are not drawn. The
run folder holds what a ViDROP run's does; its export is the encoder as an HF VideoMAE folder
(`load_backbone` reads it; its feature is the mean of the final patch tokens, VideoMAE's own).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel

from vidrop import dist
from vidrop.config import Config, ConfigError, DecoderConfig
from vidrop.data.batch import ViewBatch
from vidrop.data.views import normalize
from vidrop.models.layers import attention_backend
from vidrop.models.vit import ViTConfig
from vidrop.tokens import TokenGrid
from vidrop.train.meta_arch import clip_major
from vidrop.train.optim import apply_schedule
from vidrop.train.schedules import Schedules
from vidrop.train.step import use_bf16

EXPORT = "export"  # RUN/export: the encoder as an HF VideoMAE folder


def videomae_config(cfg: Config) -> Config:
    """VideoMAE's recipe on `cfg`'s encoder, views and budget: what `vidrop compare` trains."""
    o = cfg.optim
    return replace(
        cfg,
        train=replace(cfg.train, method="videomae", init=""),
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
    if m.layerscale > 0 or not m.final_norm or m.qkv_bias == "qkv":
        raise ConfigError(
            "train.method=videomae builds transformers' VideoMAE encoder: it has no layer scale "
            "and no key bias, and ends with a LayerNorm; set model.layerscale=0, "
            "model.qkv_bias=qv (or none) and model.final_norm=true"
        )
    width, depth, heads = decoder_shape(m, cfg.decoder)
    return transformers.VideoMAEConfig(
        image_size=v.large_size, patch_size=m.patch_size, num_channels=m.in_chans,
        num_frames=v.large_frames, tubelet_size=m.tubelet, hidden_size=m.embed_dim,
        num_hidden_layers=m.depth, num_attention_heads=m.num_heads,
        intermediate_size=int(m.embed_dim * m.mlp_ratio), layer_norm_eps=m.norm_eps,
        qv_bias=m.qkv_bias == "qv", use_mean_pooling=False, norm_pix_loss=True,
        decoder_hidden_size=width, decoder_num_hidden_layers=depth,
        decoder_num_attention_heads=heads, decoder_intermediate_size=int(width * m.mlp_ratio),
        attn_implementation="sdpa",
    )  # fmt: skip


def param_groups(model: torch.nn.Module) -> list[dict]:
    """VideoMAE's: no weight decay on biases, norms (every 1-D tensor) and the mask token."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim == 1 or name.endswith("mask_token") else decay).append(p)
    flags = {"lr_multiplier": 1.0, "is_last_layer": False}
    return [
        {"params": decay, "wd_multiplier": 1.0, **flags},
        {"params": no_decay, "wd_multiplier": 0.0, **flags},
    ]


def build_videomae(
    cfg: Config, device: torch.device
) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    """VideoMAEForPreTraining (transformers' own initialisation, seeded by train.seed) and AdamW."""
    transformers = require_transformers()

    if cfg.train.init:
        raise ConfigError(
            "train.init starts ViDROP runs; train.method=videomae starts from scratch"
        )
    if cfg.train.parallel == "fsdp":
        raise ConfigError("train.method=videomae runs under DDP only (train.parallel=ddp)")
    torch.manual_seed(cfg.train.seed)
    model = transformers.VideoMAEForPreTraining(hf_config(cfg)).to(device)
    o = cfg.optim
    optimizer = torch.optim.AdamW(
        param_groups(model), lr=0.0, betas=(o.beta1, o.beta2), fused=device.type == "cuda" or None
    )
    return model, optimizer


class VideoMAERunner:
    """One VideoMAE optimisation step on a list of micro-batches (the loop's step contract)."""

    def __init__(
        self,
        cfg: Config,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        schedules: Schedules,
        device: torch.device,
        rank: int = 0,
    ) -> None:
        self.cfg, self.model, self.optimizer, self.schedules = cfg, model, optimizer, schedules
        self.device, self.rank = device, rank
        self.forward_model: torch.nn.Module = model
        if dist.is_enabled():
            ids = [device.index] if device.type == "cuda" else None
            self.forward_model = DistributedDataParallel(model, device_ids=ids)
        self.bf16 = use_bf16(cfg.train.precision, device)
        v, m = cfg.views, cfg.model
        self.grid = TokenGrid.of_clip(v.large_frames, v.large_size, m.tubelet, m.patch_size)

    def __call__(self, batch: ViewBatch | list[ViewBatch], step: int) -> dict[str, torch.Tensor]:
        """One optimizer step number `step` on a batch, or on micro-batches whose gradients are
        accumulated."""
        micro = batch if isinstance(batch, list) else [batch]
        sched = self.schedules.at(step)
        apply_schedule(self.optimizer, sched["lr"], sched["last_layer_lr"], sched["wd"])
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        losses, visible = [], 0
        ddp = isinstance(self.forward_model, DistributedDataParallel)
        for j, b in enumerate(micro):
            dtype = torch.bfloat16 if self.bf16 else torch.float32
            # clip-major, as the loader's token plan (its kept tubes) is laid out
            clips = clip_major(normalize(b.large.to(self.device, non_blocking=True), dtype))
            masks = torch.ones(clips.shape[0], self.grid.numel, dtype=torch.bool)
            masks.scatter_(1, b.plan.keep, False)  # the encoder sees the kept tubes only
            visible += b.plan.keep.numel()
            sync = not ddp or j == len(micro) - 1
            with (
                self.forward_model.no_sync() if not sync else nullcontext(),
                torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16),
                attention_backend(self.cfg.train.attention),
            ):
                loss = self.forward_model(
                    pixel_values=clips.transpose(1, 2), bool_masked_pos=masks.to(self.device)
                ).loss
            (loss / len(micro)).backward()
            losses.append(loss.detach().float())
        if self.cfg.optim.clip_grad > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.optim.clip_grad)
        self.optimizer.step()
        return {
            "loss": torch.stack(losses).mean(),
            "encoder_tokens": torch.tensor(visible),
            "lr": torch.tensor(sched["lr"]),
            "wd": torch.tensor(sched["wd"]),
        }

    def export(self, out: Path, extra: dict[str, Any]) -> Path:
        """The encoder as an HF VideoMAE folder, with the training views under vidrop_eval."""
        if dist.is_main():
            save_encoder(self.model, out, extra.get("eval"))
        return out


def save_encoder(model: torch.nn.Module, out: Path, views: dict[str, Any] | None) -> None:
    """VideoMAEForPreTraining's encoder as an HF VideoMAE folder that `load_backbone` reads,
    the clip it trained on recorded as config.json's "vidrop_eval" (transformers ignores it)."""
    encoder = model.videomae
    encoder.config.vidrop_eval = views
    encoder.save_pretrained(out)
