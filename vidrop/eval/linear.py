"""Linear probe on frozen features, DINOv2-style: a grid of (lr, weight decay) heads trained at
once.

Every view of a training video is a training sample; features are standardised with the training
statistics. The grid is trained on the training videos minus a stratified held-out share, the
best head on the held-out videos (multi-view averaged) picks (lr, wd), and that setting is trained
again on all training videos and tested once on val: val never chooses a hyperparameter.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from vidrop.eval.errors import EvalError
from vidrop.eval.labels import LabelledSet
from vidrop.eval.probe import average_views, standardizer, stratified_holdout, topk_accuracy
from vidrop.eval.settings import LinearConfig


@dataclass
class LinearResult:
    top1: float
    top5: float
    lr: float
    wd: float
    holdout_top1: float
    n_train: int
    n_val: int
    grid: list[dict] = field(default_factory=list)  # held-out top-1 of every (lr, wd)
    predictions: list[int] = field(default_factory=list)  # top-1 class of each val video


def train_heads(
    x: torch.Tensor,
    y: torch.Tensor,
    n_classes: int,
    lrs: torch.Tensor,
    wds: torch.Tensor,
    cfg: LinearConfig,
    tick: Callable[[int], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """H linear heads (W (H, D, C), b (H, C)) on samples x (S, D), y (S,), head h with lr lrs[h]
    and weight decay wds[h]: SGD with momentum and a cosine schedule, minibatches shared;
    `tick(1)` after each epoch (progress)."""
    h, d = len(lrs), x.shape[1]
    g = torch.Generator().manual_seed(cfg.seed)
    w = torch.zeros(h, d, n_classes, device=x.device, requires_grad=True)
    b = torch.zeros(h, n_classes, device=x.device, requires_grad=True)
    bufs = [torch.zeros_like(w), torch.zeros_like(b)]
    steps_per_epoch = math.ceil(len(x) / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    lr_h, wd_h = lrs.to(x.device)[:, None, None], wds.to(x.device)[:, None, None]
    step = 0
    for _ in range(cfg.epochs):
        order = torch.randperm(len(x), generator=g).to(x.device)
        for start in range(0, len(x), cfg.batch_size):
            idx = order[start : start + cfg.batch_size]
            logits = torch.einsum("sd,hdc->hsc", x[idx], w) + b[:, None]
            target = y[idx].expand(h, -1)
            # summed over heads: each head's gradient is its own mean cross-entropy's
            loss = F.cross_entropy(logits.flatten(0, 1), target.flatten(), reduction="sum")
            gw, gb = torch.autograd.grad(loss / len(idx), (w, b))
            scale = 0.5 * (1 + math.cos(math.pi * step / total))
            with torch.no_grad():
                for p, grad, buf, decay in ((w, gw, bufs[0], True), (b, gb, bufs[1], False)):
                    lr = lr_h if p.dim() == 3 else lr_h[:, :, 0]
                    if decay:
                        grad = grad + wd_h * p
                    buf.mul_(cfg.momentum).add_(grad)
                    p.sub_(scale * lr * buf)
            step += 1
        if tick is not None:
            tick(1)
    return w.detach(), b.detach()


def linear_epochs(cfg: LinearConfig) -> int:
    """Training epochs of one `linear_probe`: the grid's (when there is one to choose), then
    the chosen setting's on all the training videos."""
    return cfg.epochs * (2 if len(cfg.lrs) * len(cfg.wds) > 1 else 1)


def head_logits(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(H, N, V, C) logits of H heads on (N, V, D) features."""
    return torch.einsum("nvd,hdc->hnvc", x, w) + b[:, None, None]


def linear_probe(
    train: LabelledSet,
    val: LabelledSet,
    n_classes: int,
    cfg: LinearConfig = LinearConfig(),
    device: str = "cpu",
    tick: Callable[[int], None] | None = None,
) -> LinearResult:
    """Choose (lr, wd) on held-out training videos, retrain on all of them, test on val;
    `tick(1)` after each training epoch (`linear_epochs` of them)."""
    grid = [(lr, wd) for lr in cfg.lrs for wd in cfg.wds]
    lrs = torch.tensor([g[0] for g in grid])
    wds = torch.tensor([g[1] for g in grid])
    x, y = train.x.to(device), train.y.to(device)

    def fit_heads(rows: torch.Tensor, lr: torch.Tensor, wd: torch.Tensor):
        mean, std = standardizer(x[rows])
        xs = ((x[rows] - mean) / std).flatten(0, 1)
        ys = y[rows].repeat_interleave(x.shape[1])
        w, b = train_heads(xs, ys, n_classes, lr, wd, cfg, tick)
        return w, b, mean, std

    held_acc = [float("nan")]  # a single setting needs no choosing (low-shot)
    if len(grid) > 1:
        fit, held = (i.to(device) for i in stratified_holdout(train.y, cfg.holdout, cfg.seed))
        if len(held) == 0:
            raise EvalError("choosing (lr, wd) needs at least 2 training videos in some class")
        w, b, mean, std = fit_heads(fit, lrs, wds)
        probs = average_views(head_logits(w, b, (x[held] - mean) / std).flatten(0, 1))
        held_acc = [topk_accuracy(p, y[held]) for p in probs.unflatten(0, (len(grid), len(held)))]
    best = max(range(len(grid)), key=lambda i: held_acc[i])  # first best on ties: smallest lr
    all_rows = torch.arange(len(x), device=device)
    w, b, mean, std = fit_heads(all_rows, lrs[best : best + 1], wds[best : best + 1])
    scores = average_views(head_logits(w, b, (val.x.to(device) - mean) / std)[0])
    yv = val.y.to(device)
    return LinearResult(
        top1=topk_accuracy(scores, yv, 1),
        top5=topk_accuracy(scores, yv, 5),
        lr=grid[best][0],
        wd=grid[best][1],
        holdout_top1=held_acc[best],
        n_train=len(train.y),
        n_val=len(val.y),
        grid=[
            {"lr": lr, "wd": wd, "holdout_top1": a}
            for (lr, wd), a in zip(grid, held_acc, strict=False)  # one nan when nothing was chosen
        ],
        predictions=scores.argmax(1).tolist(),
    )
