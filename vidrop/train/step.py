"""One ViDROP optimisation step, shared by the training loop and the step benchmark.

views to the device -> kept-token indices and masks (pure functions, seeded by the step) ->
student/teacher loss -> backward, per-module gradient clipping, AdamW -> EMA teacher.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from vidrop import dist
from vidrop.config import Config
from vidrop.data.augment import augment_views, profiles_of
from vidrop.data.views import normalize
from vidrop.losses import ibot_tokens
from vidrop.models.export import save_backbone
from vidrop.models.layers import attention_backend
from vidrop.models.vit import VideoViT
from vidrop.tokens import TokenGrid, drop_tokens, sample_masks
from vidrop.train.meta_arch import ViDROP
from vidrop.train.optim import apply_schedule, build_optimizer
from vidrop.train.parallel import full_state, is_sharded, set_gradient_sync, shard_vidrop
from vidrop.train.schedules import Schedules


def use_bf16(precision: str, device: torch.device) -> bool:
    return precision == "bf16" or (precision == "auto" and device.type == "cuda")


def step_seed(seed: int, rank: int, step: int) -> int:
    return int(np.random.SeedSequence([seed, rank, step]).generate_state(1)[0])


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Host tensor -> device without stalling the host: pinned, then an asynchronous copy (from
    pageable memory a CUDA copy waits)."""
    if device.type != "cuda":
        return t.to(device)
    return t.pin_memory().to(device, non_blocking=True)


def token_plan(
    cfg: Config, n_clips: int, step: int, rank: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Kept-token indices and masks (n_clips, K) for one step, deterministic from the step."""
    g = torch.Generator().manual_seed(step_seed(cfg.train.seed, rank, step))
    m, v = cfg.mask, cfg.views
    grid = TokenGrid.of_clip(v.large_frames, v.large_size, cfg.model.tubelet, cfg.model.patch_size)
    keep = drop_tokens(m.drop_pattern, n_clips, grid, m.drop_ratio, g)
    masks = sample_masks(n_clips, keep.shape[1], m.mask_prob, m.mask_ratio, g)
    return keep, masks


def build_model_and_optimizer(
    cfg: Config, device: torch.device, prepare: Callable[[ViDROP], None] | None = None
) -> tuple[ViDROP, torch.optim.AdamW]:
    """The meta-arch (its weights set by `prepare`, e.g. train.init, while still whole), sharded
    when train.parallel=fsdp under torchrun, and its optimizer over the (sharded) student."""
    torch.manual_seed(cfg.train.seed)  # same seed -> same initial weights
    model = ViDROP(cfg.model, cfg.head, cfg.loss).to(device)
    if prepare is not None:
        prepare(model)
    if cfg.train.parallel == "fsdp" and dist.is_enabled():
        shard_vidrop(model)
    optimizer = build_optimizer(model.student, cfg.optim, fused=device.type == "cuda")
    return model, optimizer


def compile_backbones(model: ViDROP) -> None:
    """torch.compile the student and teacher backbones (train.compile), static shapes: the
    student meets two shapes (kept large tokens, small clips) and the teacher one, so each gets
    its own specialised graph instead of one generic dynamic-shape graph.

    Dynamo caches graphs per function, shared by every model instance (each adds its own): a
    process that builds several compiled models (`bench train`, its batch search) passes the
    default limit of 8 and Dynamo then silently runs eager (the third ViT-B built in one process
    on the H200 ran eager: its profile had no compiled region)."""
    import torch._dynamo

    limit = torch._dynamo.config.recompile_limit
    torch._dynamo.config.recompile_limit = max(limit, 64)
    model.student["backbone"].compile(dynamic=False)
    model.teacher["backbone"].compile(dynamic=False)


class StepRunner:
    def __init__(
        self,
        cfg: Config,
        model: ViDROP,
        optimizer: torch.optim.Optimizer,
        schedules: Schedules,
        device: torch.device,
        rank: int = 0,
    ) -> None:
        self.cfg, self.model, self.optimizer, self.schedules = cfg, model, optimizer, schedules
        self.device, self.rank = device, rank
        # Under torchrun, DDP averages the student's gradients over ranks during backward; the
        # losses are written so that this equals one process on the global batch
        # (tests/train/test_distributed.py). Buffers (softmax centres) are already all-reduced.
        # Under train.parallel=fsdp the model is already sharded (and is its own forward model).
        self.forward_model: torch.nn.Module = model
        if dist.is_enabled() and not is_sharded(model):
            ids = [device.index] if device.type == "cuda" else None
            self.forward_model = DistributedDataParallel(
                model, device_ids=ids, broadcast_buffers=False
            )
        self.bf16 = use_bf16(cfg.train.precision, device)
        v, mo = cfg.views, cfg.model
        self.small_tokens = TokenGrid.of_clip(
            v.small_frames, v.small_size, mo.tubelet, mo.patch_size
        ).numel
        self.large_tokens = TokenGrid.of_clip(
            v.large_frames, v.large_size, mo.tubelet, mo.patch_size
        ).numel

    def export(self, out: Path, extra: dict[str, Any]) -> Path:
        """The teacher backbone as a vidrop export (a collective under FSDP: every rank calls)."""
        teacher = self.model.teacher["backbone"]
        state = full_state(teacher)
        if dist.is_main():
            plain = VideoViT(teacher.cfg)
            plain.load_state_dict(state)
            save_backbone(out, plain, {"source": "teacher", **extra})
        return out

    def __call__(self, batch: dict | list[dict], step: int) -> dict[str, torch.Tensor]:
        """One optimizer step number `step` on `batch` (uint8 'large' and 'small' views), or on
        a list of micro-batches whose gradients are accumulated (optim.accum_steps)."""
        micro = batch if isinstance(batch, list) else [batch]
        sched = self.schedules.at(step)
        apply_schedule(self.optimizer, sched["lr"], sched["last_layer_lr"], sched["wd"])
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        logs: list[dict[str, torch.Tensor]] = []
        ddp = isinstance(self.forward_model, DistributedDataParallel)
        for j, b in enumerate(micro):
            # DDP and FSDP sync gradients once, on the last micro-batch
            last = j == len(micro) - 1
            set_gradient_sync(self.model, last)
            with self.forward_model.no_sync() if ddp and not last else nullcontext():
                logs.append(self._accumulate(b, step * len(micro) + j, sched, len(micro)))
        if self.cfg.optim.clip_grad > 0:
            for module in self.model.student.values():
                torch.nn.utils.clip_grad_norm_(module.parameters(), self.cfg.optim.clip_grad)
        self.optimizer.step()
        self.model.update_teacher(sched["momentum"])
        out = {k: torch.stack([x[k] for x in logs]) for k in logs[0]}
        out = {k: v.sum() if k.endswith("_tokens") else v.float().mean() for k, v in out.items()}
        return {**out, **{k: torch.tensor(v) for k, v in sched.items()}}

    def _accumulate(
        self, batch: dict, micro_step: int, sched: dict[str, float], n_micro: int
    ) -> dict[str, torch.Tensor]:
        """Forward and backward of one micro-batch (loss / n_micro); its logs. With one micro-batch
        per step micro_step == step, so every seed is what it was without accumulation."""
        cfg, dev = self.cfg, self.device
        seed = step_seed(cfg.train.seed, self.rank, micro_step)
        torch.manual_seed(seed + 1)  # drop path
        dtype = torch.bfloat16 if self.bf16 else torch.float32
        large = batch["large"].to(dev, non_blocking=True)
        small = batch["small"].to(dev, non_blocking=True)
        if cfg.views.augment == "dino":
            g = torch.Generator().manual_seed(seed + 2)
            profiles = profiles_of(large.shape[1], small.shape[1])
            large, small = (
                augment_views(large, profiles[0], g),
                augment_views(small, profiles[1], g),
            )
        large, small = normalize(large, dtype), normalize(small, dtype)
        n_clips = large.shape[0] * large.shape[1]
        keep, masks = token_plan(cfg, n_clips, micro_step, self.rank)
        # the tokens iBOT scores, found here on the host: the GPU never waits for it
        masked = ibot_tokens(masks, cfg.loss.ibot_tokens).nonzero(as_tuple=True)
        keep, masks, *masked = (to_device(t, dev) for t in (keep, masks, *masked))
        with (
            torch.autocast(dev.type, dtype=torch.bfloat16, enabled=self.bf16),
            attention_backend(cfg.train.attention),
        ):
            terms = self.forward_model(
                large, small, keep, masks, sched["teacher_temp"], tuple(masked)
            )
        (terms.loss / n_micro).backward()
        n_small = small.shape[0] * small.shape[1]
        return {
            **terms.logs,
            "student_tokens": torch.tensor(
                n_clips * (keep.shape[1] + 1) + n_small * (self.small_tokens + 1)
            ),
            "masked_tokens": masks.sum(),
            "teacher_tokens": torch.tensor(n_clips * (self.large_tokens + 1)),
        }
