"""A supervised reference backbone: the recipe's ViT trained on the class labels, then exported.

It answers one question about the synthetic set: would a backbone that KNOWS the classes track
objects better under label propagation than random init? Give its export to
scripts/propagation_diagnosis.py (--backbone) and to `vidrop eval knn`. Same start as the demo's
pretraining (the weights `torch.manual_seed(seed); VideoViT(cfg.model)` gives), same step count;
clips of the recipe's length and frame stride from random times, horizontal flips, a linear head
on CLS, cross-entropy, AdamW with warmup and cosine decay. It holds every training video in memory:
meant for the synthetic set (540 videos of 32x64x64 frames: 200 MB), not for a real dataset.

    python scripts/supervised_reference.py --train vidrop-demo/data/train.csv \\
        --out runs/supervised/export --steps 640
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
import torch.nn.functional as F

from vidrop.config import load_config
from vidrop.data.manifest import read_manifest
from vidrop.data.video import iter_frames
from vidrop.data.views import normalize
from vidrop.models.export import save_backbone
from vidrop.models.vit import VideoViT


def load_videos(train_csv: str) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """uint8 (N, T, H, W, 3) frames, int64 (N,) labels and the sorted class names."""
    manifest = read_manifest(train_csv)
    videos = [np.concatenate(list(iter_frames(p))) for p in manifest.paths]
    if len({v.shape for v in videos}) != 1:
        raise ValueError(f"{train_csv}: videos differ in length or size; this script needs one")
    classes = manifest.class_names
    labels = torch.tensor([classes.index(e.label) for e in manifest.entries])
    return torch.from_numpy(np.stack(videos)), labels, classes


def train_supervised(
    train_csv: str,
    out: str,
    steps: int = 640,
    config: str = "tiny",
    overrides: list[str] | None = None,
    batch: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
) -> list[float]:
    """Train, export to `out`; returns the loss of every step."""
    cfg = load_config(config, [f"data.train={train_csv}", *(overrides or [])])
    videos, labels, classes = load_videos(train_csv)
    frames, stride = cfg.model.num_frames, cfg.views.frame_stride
    span = (frames - 1) * stride + 1
    if videos.shape[1] < span:
        raise ValueError(f"{train_csv}: videos have {videos.shape[1]} frames, clips need {span}")
    torch.manual_seed(seed)  # the demo's random init: the weights its pretraining starts from
    model = VideoViT(cfg.model)
    head = torch.nn.Linear(model.embed_dim, len(classes))
    params = [*model.parameters(), *head.parameters()]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.05)
    gen = torch.Generator().manual_seed(seed)
    warmup, losses, t0 = max(1, steps // 20), [], time.perf_counter()
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = (
                lr * min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * step / steps))
            )
        idx = torch.randint(len(videos), (batch,), generator=gen)
        start = torch.randint(0, videos.shape[1] - span + 1, (batch,), generator=gen)
        starts = zip(idx.tolist(), start.tolist(), strict=True)
        clips = torch.stack([videos[i, s : s + span : stride] for i, s in starts])
        flip = torch.rand(batch, generator=gen) < 0.5
        clips[flip] = clips[flip].flip(3)  # (B, T, H, W, 3): dim 3 is the width
        logits = head(model.forward_features(normalize(clips.permute(0, 4, 1, 2, 3)))["cls"])
        loss = F.cross_entropy(logits, labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if (step + 1) % 40 == 0 or step + 1 == steps:
            acc = (logits.argmax(1) == labels[idx]).float().mean().item()
            print(
                f"step {step + 1}/{steps} loss {np.mean(losses[-40:]):.3f} batch acc {acc:.2f} "
                f"{time.perf_counter() - t0:.0f}s",
                flush=True,
            )
    extra = {"supervised_reference": {"train": train_csv, "steps": steps, "seed": seed}}
    save_backbone(out, model.eval(), extra)
    return losses


def main(argv: list[str] | None = None) -> list[float]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", required=True, help="train.csv of a `vidrop data synth` folder")
    ap.add_argument("--out", required=True, help="export folder to write")
    ap.add_argument("--steps", type=int, default=640, help="the demo's pretraining steps")
    ap.add_argument("--config", default="tiny", help="recipe whose model and clips to use")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("overrides", nargs="*", help="section.key=value overrides of the recipe")
    args = ap.parse_args(argv)
    return train_supervised(
        args.train,
        args.out,
        args.steps,
        args.config,
        args.overrides,
        args.batch,
        args.lr,
        args.seed,
    )


if __name__ == "__main__":
    main()
