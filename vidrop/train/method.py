"""What a run trains (`train.method`): ViDROP, or VideoMAE by transformers. Both give a model and
its optimizer, then a runner that makes one optimizer step of a list of micro-batches and
exports the backbone: the training loop and the benchmarks need nothing else."""

from __future__ import annotations

from collections.abc import Callable

import torch

from vidrop.config import Config


def build_method(
    cfg: Config, device: torch.device, prepare: Callable[[torch.nn.Module], None] | None = None
) -> tuple[torch.nn.Module, torch.optim.Optimizer, type]:
    """(model, optimizer, runner class) of cfg.train.method; `prepare` sets a ViDROP model's
    weights (train.init) while it is still whole."""
    if cfg.train.method == "videomae":
        from vidrop.peers.videomae import VideoMAERunner, build_videomae

        return (*build_videomae(cfg, device), VideoMAERunner)
    from vidrop.train.step import StepRunner, build_model_and_optimizer

    return (*build_model_and_optimizer(cfg, device, prepare), StepRunner)
