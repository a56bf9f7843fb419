"""The V-JEPA attentive probe: one learned query cross-attends over a view's frozen patch tokens,
an MLP refines it, a linear layer classifies. Views are averaged at test time.

The learning rate is chosen on held-out training videos, and the probe that scored best there is the
one tested on val: unlike the linear probe (a convex problem, retrained on all training videos), a
retrained attention probe is a new, unvalidated outcome. Training runs at least `min_steps`
optimizer steps: V-JEPA's 20 epochs are few steps on a small dataset, where the probe is far from
converged and its result moves with its seed (docs/experiments/2026-11-27-attentive-probe.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from vidrop.eval.errors import EvalError
from vidrop.eval.labels import LabelledSet
from vidrop.eval.probe import average_views, stratified_holdout, topk_accuracy
from vidrop.eval.settings import AttentiveConfig


class AttentivePooler(nn.Module):
    """Cross-attention block (query vs. tokens, then MLP, both residual) and a linear classifier."""

    def __init__(self, dim: int, n_classes: int, heads: int = 4, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"feature dim {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.query = nn.Parameter(torch.zeros(1, 1, dim))
        self.norm_kv = nn.LayerNorm(dim)
        self.q, self.kv = nn.Linear(dim, dim), nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm_mlp = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.norm_out = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, n_classes)
        nn.init.trunc_normal_(self.query, std=0.02)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (B, L, D) -> logits (B, C)."""
        b, n, d = tokens.shape
        kv = self.kv(self.norm_kv(tokens)).view(b, n, 2, self.heads, d // self.heads)
        k, v = kv.permute(2, 0, 3, 1, 4)
        q = self.q(self.query).view(1, self.heads, 1, d // self.heads).expand(b, -1, -1, -1)
        x = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, 1, d)
        x = self.query + self.proj(x)
        x = x + self.mlp(self.norm_mlp(x))
        return self.head(self.norm_out(x[:, 0]))


@dataclass
class AttentiveResult:
    top1: float
    top5: float
    lr: float
    holdout_top1: float
    epochs: int  # as trained: `epochs`, or more to reach `min_steps`
    n_train: int
    n_val: int
    grid: list[dict] = field(default_factory=list)
    predictions: list[int] = field(default_factory=list)  # top-1 class of each val video


def probe_epochs(samples: int, cfg: AttentiveConfig) -> int:
    """`cfg.epochs`, or the fewest epochs of `samples` samples that make `cfg.min_steps` steps."""
    return max(cfg.epochs, math.ceil(cfg.min_steps / math.ceil(samples / cfg.batch_size)))


class TokenRows:
    """Patch tokens (N, V, L, D), float16, in memory or memory-mapped from disk, of the videos
    `rows` (indices into N), read a batch at a time and standardised there: nothing but a batch
    is ever materialised, so the probe runs whatever the dataset's size."""

    def __init__(self, tokens: torch.Tensor, rows: torch.Tensor) -> None:
        self.tokens, self.rows = tokens, rows
        self.views = tokens.shape[1]
        self.mean: torch.Tensor | None = None  # set by standardise_with, before any batch
        self.std: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def standardise_with(self, videos: torch.Tensor, chunk: int = 64) -> None:
        """Per-channel mean and std of these videos' tokens (`videos` indexes `rows`), summed
        in float64 a chunk of videos at a time."""
        total: torch.Tensor | None = None
        squares: torch.Tensor | None = None
        count = 0
        for start in range(0, len(videos), chunk):
            x = self.tokens[self.rows[videos[start : start + chunk]]].double()
            x = x.reshape(-1, x.shape[-1])
            total = x.sum(0) if total is None else total + x.sum(0)
            squares = (x * x).sum(0) if squares is None else squares + (x * x).sum(0)
            count += x.shape[0]
        assert total is not None and squares is not None, "no videos to standardise with"
        mean = total / count
        var = (squares - count * mean * mean) / max(count - 1, 1)
        self.mean, self.std = mean.float(), var.clamp_min(0).sqrt().float().clamp_min(1e-6)

    def batch(self, samples: torch.Tensor, videos: torch.Tensor, device: str) -> torch.Tensor:
        """Standardised float tokens (B, L, D) of samples s = video position * views + view,
        the video positions indexing `videos` (into `rows`)."""
        video, view = videos[samples // self.views], samples % self.views
        x = self.tokens[self.rows[video], view].to(device).float()
        assert self.mean is not None and self.std is not None, "standardise_with() first"
        return (x - self.mean.to(device)) / self.std.to(device)


def train_pooler(
    data: TokenRows,
    videos: torch.Tensor,
    y: torch.Tensor,
    n_classes: int,
    lr: float,
    cfg: AttentiveConfig,
    device: str = "cpu",
    tick: Callable[[int], None] | None = None,
) -> AttentivePooler:
    """AdamW, cosine schedule; every view of the `videos` (positions in `data`) a sample, labels
    `y` of those videos; `tick(1)` after each epoch."""
    torch.manual_seed(cfg.seed)
    probe = AttentivePooler(data.tokens.shape[-1], n_classes, cfg.heads).to(device)
    opt = torch.optim.AdamW(probe.parameters(), lr=lr, weight_decay=cfg.weight_decay)
    n = len(videos) * data.views
    ys = y.to(device).repeat_interleave(data.views)
    epochs = probe_epochs(n, cfg)
    steps = epochs * math.ceil(n / cfg.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))
    )
    g = torch.Generator().manual_seed(cfg.seed)
    probe.train()
    for _ in range(epochs):
        order = torch.randperm(n, generator=g)
        for start in range(0, n, cfg.batch_size):
            idx = order[start : start + cfg.batch_size]
            loss = F.cross_entropy(probe(data.batch(idx, videos, device)), ys[idx.to(device)])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        if tick is not None:
            tick(1)
    return probe.eval()


@torch.no_grad()
def pooler_scores(
    probe: AttentivePooler, data: TokenRows, videos: torch.Tensor, device: str, chunk: int = 256
) -> torch.Tensor:
    """(len(videos), C) view-averaged probabilities."""
    n = len(videos) * data.views
    logits = torch.cat(
        [
            probe(data.batch(torch.arange(i, min(i + chunk, n)), videos, device))
            for i in range(0, n, chunk)
        ]
    )
    return average_views(logits.unflatten(0, (len(videos), data.views)))


def attentive_probe(
    train: LabelledSet,
    val: LabelledSet,
    n_classes: int,
    cfg: AttentiveConfig = AttentiveConfig(),
    device: str = "cpu",
    tick: Callable[[int], None] | None = None,
) -> AttentiveResult:
    """One probe per learning rate on most training videos; the best on the held-out rest is tested
    on val, standardised with the statistics it was trained with. The sets' tokens may be
    memory-mapped (`LabelledSet.rows` then selects the decodable videos)."""
    fit, held = stratified_holdout(train.y, cfg.holdout, cfg.seed)
    if len(held) == 0:
        raise EvalError("the attentive probe needs at least 2 training videos in some class")
    tr, va = TokenRows(train.x, train.row_index()), TokenRows(val.x, val.row_index())
    tr.standardise_with(fit)
    va.mean, va.std = tr.mean, tr.std
    y = train.y
    probes = [train_pooler(tr, fit, y[fit], n_classes, lr, cfg, device, tick) for lr in cfg.lrs]
    held_acc = [
        topk_accuracy(pooler_scores(p, tr, held, device), y[held].to(device)) for p in probes
    ]
    best = max(range(len(cfg.lrs)), key=held_acc.__getitem__)
    scores = pooler_scores(probes[best], va, torch.arange(len(va)), device)
    yv = val.y.to(device)
    return AttentiveResult(
        top1=topk_accuracy(scores, yv, 1),
        top5=topk_accuracy(scores, yv, 5),
        lr=cfg.lrs[best],
        holdout_top1=held_acc[best],
        epochs=probe_epochs(len(fit) * tr.views, cfg),
        n_train=len(train.y),
        n_val=len(val.y),
        grid=[{"lr": lr, "holdout_top1": a} for lr, a in zip(cfg.lrs, held_acc, strict=True)],
        predictions=scores.argmax(1).tolist(),
    )
