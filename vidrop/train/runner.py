"""One optimizer step of any method: schedules applied, micro-batches accumulated (the method's
loss of each, under DDP synchronised on the last only), gradients clipped, AdamW, then the
method's after-step (ViDROP: the EMA teacher). The training loop, `bench step`, `bench train` and
the FLOP counter all step through this one runner."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import nullcontext

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from vidrop import dist
from vidrop.config import Config
from vidrop.data.batch import DeviceBatch
from vidrop.machine import use_bf16
from vidrop.methods import Method
from vidrop.models.layers import attention_backend
from vidrop.parallel import is_sharded, set_gradient_sync
from vidrop.train.optim import apply_schedule
from vidrop.train.schedules import Schedules


class StepRunner:
    """Holds what every step needs; `step(micro, n_micro, step)` makes one optimizer step."""

    def __init__(
        self,
        method: Method,
        cfg: Config,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        schedules: Schedules,
        device: torch.device,
    ) -> None:
        self.method, self.cfg, self.model = method, cfg, model
        self.optimizer, self.schedules, self.device = optimizer, schedules, device
        method.set_activation_checkpointing(model, cfg.train.activation_checkpointing)
        if cfg.train.compile:
            method.compile(model)
        # Under torchrun, DDP averages gradients over ranks during backward; ViDROP's losses are
        # written so that this equals one process on the global batch
        # (tests/train/test_distributed.py). Under train.parallel=fsdp the model is already
        # sharded and is its own forward model.
        self.forward_model: nn.Module = model
        self.ddp: DistributedDataParallel | None = None
        if dist.is_enabled() and not is_sharded(model):
            ids = [device.index] if device.type == "cuda" else None
            self.ddp = DistributedDataParallel(
                model, device_ids=ids, broadcast_buffers=method.ddp_broadcast_buffers
            )
            self.forward_model = self.ddp
        self.bf16 = use_bf16(cfg.train.precision, device)

    @property
    def dtype(self) -> torch.dtype:
        """What the views are normalised to: bf16 under autocast (the first matmul would round
        to it anyway, and every copy before it moves half the bytes)."""
        return torch.bfloat16 if self.bf16 else torch.float32

    def step(
        self, micro: Iterable[DeviceBatch], n_micro: int, step: int
    ) -> dict[str, torch.Tensor]:
        """Optimizer step number `step` on `n_micro` micro-batches taken from `micro` one at a
        time (each is made ready only when its turn comes); the step's logs."""
        sched = self.schedules.at(step)
        apply_schedule(self.optimizer, sched["lr"], sched["last_layer_lr"], sched["wd"])
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        logs: list[dict[str, torch.Tensor]] = []
        for j, batch in zip(range(n_micro), micro, strict=False):
            last = j == n_micro - 1  # DDP and FSDP synchronise gradients once, on the last
            set_gradient_sync(self.model, last)
            sync = self.ddp.no_sync() if self.ddp is not None and not last else nullcontext()
            with sync:
                with (
                    torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16),
                    attention_backend(self.cfg.train.attention),
                ):
                    terms = self.method.loss(self.forward_model, batch, sched)
                (terms.loss / n_micro).backward()  # type: ignore[no-untyped-call]
            logs.append(terms.logs)
            del batch, terms  # free this micro-batch before the next one is made ready
        if len(logs) != n_micro:
            raise RuntimeError(f"step {step} got {len(logs)} of its {n_micro} micro-batches")
        if self.cfg.optim.clip_grad > 0:
            for params in self.method.clip_groups(self.model):
                torch.nn.utils.clip_grad_norm_(params, self.cfg.optim.clip_grad)
        self.optimizer.step()
        self.method.after_step(self.model, sched)
        scheduled = {k: torch.tensor(sched[k]) for k in self.method.schedule_logs}
        return {**reduce_micro_logs(logs), **scheduled}


def reduce_micro_logs(logs: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """One step's logs from its micro-batches': token counts summed, the rest averaged."""
    stacked = {k: torch.stack([x[k] for x in logs]) for k in logs[0]}
    return {k: v.sum() if k.endswith("_tokens") else v.float().mean() for k, v in stacked.items()}
