"""What a method is: the recipe it trains, the modules and optimizer groups it builds, its token
plan, one training step's loss, what it does after an optimizer step, what it exports and which
feature its backbone is read by. ViDROP, the dense student and VideoMAE each implement this; the
training loop, `bench train` and `vidrop compare` know methods only through it (as torch's
optimizers share `torch.optim.Optimizer`).

A method holds no state of its own: the trained modules are one `nn.Module` (the "model") that the
method builds, and every hook takes it as an argument. The loop owns everything shared: seeding
before `build`, moving to the device, DDP or FSDP wrapping, gradient accumulation, schedules,
clipping, the optimizer step, checkpoints and resume.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, TypedDict

import torch
from torch import nn

from vidrop.config import Config, ConfigError, OptimConfig
from vidrop.data.batch import DeviceBatch
from vidrop.tokens import PlanSpec, TokenGrid

Feature = Literal["cls", "mean"]  # kNN, linear and low-shot read the CLS token, or the mean token


@dataclass
class LossTerms:
    """One micro-batch's loss and its logs: detached scalars, read only when logging (a host
    sync); keys ending in `_tokens` are counts, summed over micro-batches and ranks."""

    loss: torch.Tensor
    logs: dict[str, torch.Tensor]


class ParamGroup(TypedDict):
    """An optimizer group: the schedules' lr and weight decay reach it times its multipliers;
    the last-layer lr (zero while the prototypes are frozen) replaces the lr where flagged."""

    params: list[nn.Parameter]
    lr_multiplier: float
    wd_multiplier: float
    is_last_layer: bool


def param_group(
    params: list[nn.Parameter],
    lr_multiplier: float = 1.0,
    wd_multiplier: float = 1.0,
    is_last_layer: bool = False,
) -> ParamGroup:
    return {
        "params": params,
        "lr_multiplier": lr_multiplier,
        "wd_multiplier": wd_multiplier,
        "is_last_layer": is_last_layer,
    }


class Method(ABC):
    """One self-supervised method; register an implementation with `register_method`."""

    name: ClassVar[str]  # what train.method and --methods call it
    feature: ClassVar[Feature] = "cls"
    # the backbones `export` can write, the default first (the report names the one it reads)
    parts: ClassVar[tuple[str, ...]] = ("backbone",)
    # the knob its own paper ablates (a config key): `vidrop compare` tunes it beside the lr,
    # trying the config's own value and the first of `knob_values` that differs from it
    knob: ClassVar[str] = ""
    knob_values: ClassVar[tuple[Any, ...]] = ()
    # DDP re-sends buffers from rank 0 every step unless told not to (ViDROP's softmax centres
    # are all-reduced already)
    ddp_broadcast_buffers: ClassVar[bool] = True
    # the schedules' values metrics.jsonl records each step (vidrop.train.schedules)
    schedule_logs: ClassVar[tuple[str, ...]] = ("lr", "wd")

    # -- the recipe ---------------------------------------------------------------------------
    def recipe(self, cfg: Config) -> Config:
        """The config this method trains, derived from the base recipe (ViDROP's): the same
        encoder, views, data and budget, with the method's own settings."""
        return cfg

    def knob_settings(self, cfg: Config, base: Config) -> list[dict[str, Any]]:
        """The settings of `knob` that tuning tries on the method's config `cfg` (derived from
        the base recipe `base`), each a {"section.key": value} dict, `cfg`'s own first: two
        for every built-in method, so each gets the same number of trials."""
        if not self.knob:
            return [{}]
        section, key = self.knob.split(".")
        own = getattr(getattr(cfg, section), key)
        other = next(v for v in self.knob_values if v != own)
        return [{self.knob: own}, {self.knob: other}]

    def check(self, cfg: Config) -> None:  # noqa: B027 - most methods accept any settings
        """Refuse settings the method cannot train (a ConfigError naming the key)."""

    # -- modules and optimizer ----------------------------------------------------------------
    @abstractmethod
    def build(self, cfg: Config) -> nn.Module:
        """The trained modules at their initial weights (the caller seeds torch first)."""

    def init_weights(self, model: nn.Module, path: str) -> dict[str, Any]:
        """Start from existing backbone weights (train.init); what moved how, for init.json."""
        raise ConfigError(
            f"train.init starts ViDROP runs; train.method={self.name} starts from scratch"
        )

    def trained(self, model: nn.Module) -> nn.Module:
        """The module whose parameters the optimizer steps (ViDROP: the student)."""
        return model

    @abstractmethod
    def param_groups(self, model: nn.Module, optim: OptimConfig) -> list[ParamGroup]:
        """The optimizer's groups over `trained(model)`'s parameters."""

    def clip_groups(self, model: nn.Module) -> list[list[nn.Parameter]]:
        """Parameters clipped together (optim.clip_grad): each list by its own norm."""
        return [[p for p in self.trained(model).parameters() if p.requires_grad]]

    def shard(self, model: nn.Module) -> None:
        """fully_shard the model in place (train.parallel=fsdp), before the optimizer exists."""
        raise ConfigError(f"train.method={self.name} runs under DDP only (train.parallel=ddp)")

    # -- a step -------------------------------------------------------------------------------
    def plan_spec(self, cfg: Config, rank: int) -> PlanSpec | None:
        """How the loader draws each micro-batch's token plan (None: the method needs none)."""
        m, v, mo = cfg.mask, cfg.views, cfg.model
        grid = TokenGrid.of_clip(v.large_frames, v.large_size, mo.tubelet, mo.patch_size)
        return PlanSpec(
            cfg.train.seed,
            rank,
            grid,
            m.drop_pattern,
            m.drop_ratio,
            m.mask_prob,
            m.mask_ratio,
            cfg.loss.ibot_tokens,
        )

    @abstractmethod
    def loss(self, forward: nn.Module, batch: DeviceBatch, sched: Mapping[str, float]) -> LossTerms:
        """One micro-batch's forward: `forward` is the model, or its DDP wrapper (call it, not
        the model, so gradients synchronise); `sched` the step's schedule values."""

    def after_step(self, model: nn.Module, sched: Mapping[str, float]) -> None:  # noqa: B027
        """After the optimizer step (ViDROP: the EMA teacher update); most need nothing."""

    # -- speed and memory ---------------------------------------------------------------------
    def compile(self, model: nn.Module) -> None:
        """torch.compile what the step runs (train.compile)."""
        model.compile()

    def set_activation_checkpointing(self, model: nn.Module, on: bool) -> None:
        """Recompute activations in backward (train.activation_checkpointing)."""
        if on:
            raise ConfigError(f"train.method={self.name} has no activation checkpointing")

    # -- what comes out -----------------------------------------------------------------------
    @abstractmethod
    def export(self, model: nn.Module, out: Path, meta: dict[str, Any], part: str = "") -> Path:
        """Write backbone `part` (default: parts[0]) to `out` in a format `load_backbone` reads,
        with `meta` (step, training views) beside it. A collective under FSDP: every rank calls,
        rank 0 writes."""
