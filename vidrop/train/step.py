"""One ViDROP optimisation step, shared by the training loop and the step benchmark.

views and their token plan (drawn in the loader) to the device -> augmented, normalised ->
student/teacher loss -> backward, per-module gradient clipping, AdamW -> EMA teacher.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel

from vidrop import dist
from vidrop.config import Config
from vidrop.data.augment import augment_batch
from vidrop.data.batch import ViewBatch
from vidrop.data.views import normalize
from vidrop.models.export import save_backbone
from vidrop.models.layers import attention_backend
from vidrop.models.vit import VideoViT
from vidrop.tokens import TokenGrid, TokenPlan, step_seed
from vidrop.train.meta_arch import ViDROP
from vidrop.train.optim import apply_schedule, build_optimizer
from vidrop.train.parallel import full_state, is_sharded, set_gradient_sync, shard_vidrop
from vidrop.train.schedules import Schedules


def use_bf16(precision: str, device: torch.device) -> bool:
    return precision == "bf16" or (precision == "auto" and device.type == "cuda")


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
    default limit of 8 and Dynamo then silently runs eager."""
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

    def __call__(self, batch: ViewBatch | list[ViewBatch], step: int) -> dict[str, torch.Tensor]:
        """One optimizer step number `step` on `batch`, or on a list of micro-batches whose
        gradients are accumulated (optim.accum_steps)."""
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
                logs.append(self._accumulate(b, sched, len(micro)))
        if self.cfg.optim.clip_grad > 0:
            for module in self.model.student.values():
                torch.nn.utils.clip_grad_norm_(module.parameters(), self.cfg.optim.clip_grad)
        self.optimizer.step()
        self.model.update_teacher(sched["momentum"])
        out = {k: torch.stack([x[k] for x in logs]) for k in logs[0]}
        out = {k: v.sum() if k.endswith("_tokens") else v.float().mean() for k, v in out.items()}
        return {**out, **{k: torch.tensor(v) for k, v in sched.items()}}

    def _accumulate(
        self, batch: ViewBatch, sched: dict[str, float], n_micro: int
    ) -> dict[str, torch.Tensor]:
        """Forward and backward of one micro-batch (its loss / n_micro); its logs. Every draw
        is seeded by the batch's micro-step, as its token plan was in the loader."""
        seed = step_seed(self.cfg.train.seed, self.rank, batch.micro_step)
        torch.manual_seed(seed + 1)  # drop path
        large, small = self.views(batch, seed)
        plan = batch.plan.to(self.device)
        with (
            torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16),
            attention_backend(self.cfg.train.attention),
        ):
            terms = self.forward_model(large, small, plan, sched["teacher_temp"])
        (terms.loss / n_micro).backward()
        return {**terms.logs, **self.token_counts(large, small, plan)}

    def views(self, batch: ViewBatch, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch's uint8 views on the device, augmented (views.augment), normalised."""
        large = batch.large.to(self.device, non_blocking=True)
        small = batch.small.to(self.device, non_blocking=True)
        if self.cfg.views.augment == "dino":
            large, small = augment_batch(large, small, torch.Generator().manual_seed(seed + 2))
        dtype = torch.bfloat16 if self.bf16 else torch.float32
        return normalize(large, dtype), normalize(small, dtype)

    def token_counts(
        self, large: torch.Tensor, small: torch.Tensor, plan: TokenPlan
    ) -> dict[str, torch.Tensor]:
        """Tokens the student and teacher saw (CLS included), and how many were masked."""
        n_clips, n_small = large.shape[0] * large.shape[1], small.shape[0] * small.shape[1]
        kept = n_clips * (plan.keep.shape[1] + 1) + n_small * (self.small_tokens + 1)
        return {
            "student_tokens": torch.tensor(kept),
            "masked_tokens": plan.masks.sum(),
            "teacher_tokens": torch.tensor(n_clips * (self.large_tokens + 1)),
        }
