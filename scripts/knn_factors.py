"""kNN accuracy split by the factors of a compound label ("triangle_rise": shape, motion).

The synthetic set's 12 classes are 3 shapes (each with its own hue) x 4 motions. Top-1 alone does
not say WHAT a backbone's features tell apart; this says how often the kNN prediction gets each
factor right, and how often a val clip's nearest val clip comes from the same video (does the
feature describe the video or the clip?). Give it features files written by `vidrop extract`
(same views for train and val):

    vidrop extract --backbone vidrop-demo/run/export --data vidrop-demo/data/train.csv \\
        --clips 3 --out feats/train.safetensors
    vidrop extract --backbone vidrop-demo/run/export --data vidrop-demo/data/val.csv \\
        --clips 3 --out feats/val.safetensors
    python scripts/knn_factors.py --train feats/train.safetensors --val feats/val.safetensors
"""

from __future__ import annotations

import argparse
import json

import torch
import torch.nn.functional as F

from vidrop.eval.features import Features
from vidrop.eval.knn import knn_scores, pool_views
from vidrop.eval.labels import probe_sets


def factor_accuracy(predicted: list[str], truth: list[str], sep: str = "_") -> dict[str, float]:
    """Percent of predictions right as a whole ("top1") and in each factor ("factor0", ...)."""
    parts_p = [p.split(sep) for p in predicted]
    parts_t = [t.split(sep) for t in truth]
    if len({len(p) for p in parts_p + parts_t}) != 1:
        raise ValueError(f"labels do not all have the same number of '{sep}'-separated factors")
    n = len(truth)
    out = {"top1": 100.0 * sum(p == t for p, t in zip(predicted, truth, strict=True)) / n}
    for f in range(len(parts_t[0])):
        right = sum(p[f] == t[f] for p, t in zip(parts_p, parts_t, strict=True))
        out[f"factor{f}"] = 100.0 * right / n
    return out


def knn_factors(
    train: Features, val: Features, ks: tuple[int, ...] = (10, 20, 100), feature: str = "cls"
) -> dict[int, dict[str, float]]:
    """Per k, the accuracy per factor of the weighted kNN that `vidrop eval knn` runs, on the same
    sets (undecodable videos left out, labels checked)."""
    classes, tr, va = probe_sets(train, val, feature)
    scores = knn_scores(pool_views(tr.x), tr.y, pool_views(va.x), len(classes), ks)
    truth = [classes[i] for i in va.y.tolist()]
    return {
        k: factor_accuracy([classes[i] for i in s.argmax(1).tolist()], truth)
        for k, s in scores.items()
    }


def nearest_view_shares(feats: Features, feature: str = "cls") -> dict[str, float]:
    """Percent of views (clips) whose nearest other view (cosine) belongs to the same video, and
    to a video of the same class. Per-video kNN averages a video's views first; this says whether
    those views agree: a feature that describes the video (its object, its motion) finds the
    video's other clips, one that describes the clip (its shot's background) does not."""
    ok = feats.ok.nonzero().flatten()
    x = feats.vector(feature)[ok]
    n, v, d = x.shape
    if v < 2:
        raise ValueError("needs at least two views per video (vidrop extract --clips 2 or more)")
    z = F.normalize(x.reshape(n * v, d), dim=1)
    sim = z @ z.T
    sim.fill_diagonal_(-2.0)  # a view is not its own neighbour
    pairs = list(
        zip(
            (sim.argmax(1) // v).tolist(),
            torch.arange(n).repeat_interleave(v).tolist(),
            strict=True,
        )
    )
    labels = [feats.labels[i] for i in ok.tolist()]
    return {
        "same_video": 100.0 * sum(a == b for a, b in pairs) / len(pairs),
        "same_class": 100.0 * sum(labels[a] == labels[b] for a, b in pairs) / len(pairs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", required=True, help="features of the training videos")
    parser.add_argument("--val", required=True, help="features of the val videos")
    parser.add_argument("--feature", default="cls", choices=["cls", "mean", "cls+mean"])
    args = parser.parse_args()
    train, val = Features.load(args.train), Features.load(args.val)
    result = knn_factors(train, val, feature=args.feature)
    for k, acc in result.items():
        print(f"k={k:<4d} " + "  ".join(f"{name} {value:5.1f}" for name, value in acc.items()))
    shares = nearest_view_shares(val, args.feature) if val.cls.shape[1] > 1 else {}
    if shares:
        print(
            f"val clips whose nearest val clip is of the same video {shares['same_video']:.1f}%, "
            f"of the same class {shares['same_class']:.1f}%"
        )
    print(json.dumps({**{str(k): v for k, v in result.items()}, "nearest_view": shares}))


if __name__ == "__main__":
    main()
