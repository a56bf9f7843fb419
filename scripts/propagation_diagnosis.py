"""What label propagation can reward on the synthetic set, and where a backbone loses it.

Scores, with the same DINO protocol and grid as `vidrop eval propagate --shifts N`:
- `true masks on the grid`: the true masks pooled to the feature grid and upsampled back, no
  propagation (the grid's ceiling);
- `objectness oracle`: features that are each cell's true object share (what perfect
  object-vs-background features could reach through the propagation);
- `raw colour`: each cell's mean RGB (a tracker that knows nothing but local colour);
- each backbone given, and the same architecture at random init (seed 0, the demo's).
Besides J&F it prints the precision and recall of the predicted object pixels at some frames:
a tracker that drifts onto the background loses precision, one that loses the object recall.

    python scripts/propagation_diagnosis.py --synth vidrop-demo/data/val.csv \\
        --backbone vidrop-demo/run/export --limit 48 --shifts 2
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
import torch.nn.functional as F

from vidrop.eval.propagate import (
    PropagationConfig,
    Sequence,
    frame_features,
    jf_scores,
    predict_labels,
)
from vidrop.eval.sequences import synth_sequences
from vidrop.machine import command_line, describe_machine
from vidrop.models.load import load_backbone
from vidrop.models.vit import VideoViT

FRAMES = (1, 4, 8, 16, 30)  # frames whose precision and recall are printed (those the videos have)

Features = Callable[[Sequence], torch.Tensor]  # sequence -> unit-length (T, h, w, D)


def grid_of(model: VideoViT, shifts: int, size: tuple[int, int]) -> tuple[int, int]:
    step = model.cfg.patch_size // shifts
    return size[0] // step, size[1] // step


def object_share(seq: Sequence, grid: tuple[int, int]) -> torch.Tensor:
    """(T, 1, h, w): the share of each cell the object covers."""
    return F.adaptive_avg_pool2d((seq.masks > 0).float()[:, None], grid)


def share_features(seq: Sequence, grid: tuple[int, int]) -> torch.Tensor:
    """(T, h, w, 2): each cell's object share and background share, unit length."""
    share = object_share(seq, grid)[:, 0]
    return F.normalize(torch.stack((share, 1 - share), -1), dim=-1)


def colour_features(seq: Sequence, grid: tuple[int, int]) -> torch.Tensor:
    """(T, h, w, 3): each cell's mean colour, centred on grey, unit length."""
    rgb = seq.frames.permute(0, 3, 1, 2).float() / 255 - 0.5
    return F.normalize(F.adaptive_avg_pool2d(rgb, grid).permute(0, 2, 3, 1), dim=-1)


def pooled_truth(seq: Sequence, grid: tuple[int, int]) -> torch.Tensor:
    """Predicted labels (T, H, W) of the true object share on the grid, upsampled back."""
    share = object_share(seq, grid)
    both = torch.cat((1 - share, share), 1)
    full = F.interpolate(both, size=seq.masks.shape[1:], mode="bilinear")
    return full.argmax(1)


def shown_frames(seqs: list[Sequence]) -> list[int]:
    return [i for i in FRAMES if i < max(len(s.masks) for s in seqs)]


def score(name: str, seqs: list[Sequence], predict: Callable[[Sequence], torch.Tensor]) -> None:
    js, fs = [], []
    tp, fp, fn = (torch.zeros(max(len(s.masks) for s in seqs)) for _ in range(3))
    for seq in seqs:
        pred, truth = predict(seq) > 0, seq.masks > 0
        r = jf_scores(pred.long(), truth.long(), [1])
        js += r["j"]
        fs += r["f"]
        n = len(truth)
        tp[:n] += (pred & truth).flatten(1).sum(1)
        fp[:n] += (pred & ~truth).flatten(1).sum(1)
        fn[:n] += (~pred & truth).flatten(1).sum(1)
    j, f = 100 * sum(js) / len(js), 100 * sum(fs) / len(fs)
    shown = shown_frames(seqs)
    prec = [round(100 * (tp[i] / (tp[i] + fp[i]).clamp_min(1)).item()) for i in shown]
    rec = [round(100 * (tp[i] / (tp[i] + fn[i]).clamp_min(1)).item()) for i in shown]
    print(
        f"| {name} | {(j + f) / 2:.1f} | {j:.1f} | {f:.1f} | "
        f"{' / '.join(map(str, prec))} | {' / '.join(map(str, rec))} |",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--synth", required=True, help="val.csv of a `vidrop data synth` folder")
    ap.add_argument("--backbone", nargs="+", required=True)
    ap.add_argument("--limit", type=int, default=48, help="first N videos (0: all)")
    ap.add_argument("--shifts", type=int, default=2)
    args = ap.parse_args()
    cfg = PropagationConfig(shifts=args.shifts)
    models = {path: load_backbone(path) for path in args.backbone}
    first = next(iter(models.values()))
    torch.manual_seed(0)  # the demo's random init: the weights its pretraining started from
    models["random init"] = VideoViT(first.cfg).eval()
    _, it = synth_sequences(args.synth, args.limit)
    seqs = [s for s in it if int(s.masks[0].max()) > 0]
    grid = grid_of(first, args.shifts, tuple(seqs[0].masks.shape[1:]))

    print(f"command: {command_line()}\nmachine: {describe_machine()}")
    print(f"{len(seqs)} sequences, {grid[0]}x{grid[1]} grid, {cfg}\n")
    print(f"| features | J&F | J | F | precision at frames {shown_frames(seqs)} | recall |")
    print("|---|---:|---:|---:|---|---|")
    score("true masks on the grid", seqs, lambda s: pooled_truth(s, grid))
    rows: dict[str, Features] = {
        "objectness oracle": lambda s: share_features(s, grid),
        "raw colour": lambda s: colour_features(s, grid),
    }
    for name, model in models.items():
        rows[name] = lambda s, m=model: frame_features(m, s.frames, shifts=args.shifts)
    for name, feats in rows.items():
        score(name, seqs, lambda s, fe=feats: predict_labels(fe(s), (s.masks > 0).long(), cfg))


if __name__ == "__main__":
    main()
