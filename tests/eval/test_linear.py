import pytest
import torch

from vidrop.eval.labels import LabelledSet
from vidrop.eval.linear import LinearConfig, linear_probe

FAST = LinearConfig(epochs=20)


def _set(x: torch.Tensor, y: torch.Tensor) -> LabelledSet:
    return LabelledSet(x, y, [str(i) for i in range(len(y))], [], 0)


def _clusters(n: int, seed: int, centers: torch.Tensor, views: int = 3) -> LabelledSet:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % len(centers)
    return _set(centers[y][:, None] + torch.randn(n, views, centers.shape[1], generator=g), y)


def test_separable_classes_reach_100_percent():
    centers = torch.randn(4, 16, generator=torch.Generator().manual_seed(0)) * 3
    r = linear_probe(_clusters(80, 1, centers), _clusters(40, 2, centers), 4, FAST)
    assert r.top1 == 100.0 and r.top5 == 100.0
    assert r.predictions == (torch.arange(40) % 4).tolist()  # each val video's class, in order
    assert len(r.grid) == len(FAST.lrs) * len(FAST.wds)
    assert (r.lr, r.wd) in {(g["lr"], g["wd"]) for g in r.grid}


def test_random_labels_stay_near_chance():
    g = torch.Generator().manual_seed(3)
    train = _set(torch.randn(200, 2, 16, generator=g), torch.randint(0, 4, (200,), generator=g))
    val = _set(torch.randn(400, 2, 16, generator=g), torch.randint(0, 4, (400,), generator=g))
    r = linear_probe(train, val, 4, FAST)
    assert 15 < r.top1 < 36
    hits = (torch.tensor(r.predictions) == val.y).float()
    assert r.top1 == pytest.approx(100 * float(hits.mean()))


def test_linearly_separable_but_not_by_nearest_centre():
    """y = [x0 > 0] beside a large irrelevant dimension: a linear head finds the rule."""
    g = torch.Generator().manual_seed(4)

    def make(n):
        x = torch.randn(n, 1, 8, generator=g)
        x[..., 1] *= 20  # dominant irrelevant dimension
        return _set(x, (x[:, 0, 0] > 0).long())

    assert linear_probe(make(300), make(200), 2, FAST).top1 > 90


def test_val_never_chooses_the_hyperparameters():
    centers = torch.randn(3, 8, generator=torch.Generator().manual_seed(5))
    train = _clusters(60, 6, centers)
    a = linear_probe(train, _clusters(30, 7, centers), 3, FAST)
    shuffled = _clusters(30, 8, centers)
    shuffled.y = shuffled.y[torch.randperm(30, generator=torch.Generator().manual_seed(0))]
    b = linear_probe(train, shuffled, 3, FAST)
    assert (a.lr, a.wd, a.holdout_top1) == (b.lr, b.wd, b.holdout_top1)


def test_a_single_setting_needs_no_held_out_videos():
    centers = torch.eye(2) * 4
    one_each = _clusters(2, 0, centers)
    r = linear_probe(one_each, _clusters(20, 1, centers), 2, LinearConfig(lrs=(0.1,), wds=(0.0,)))
    assert r.top1 == 100.0
