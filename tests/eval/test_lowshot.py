import statistics

import torch

from vidrop.eval.labels import LabelledSet
from vidrop.eval.linear import LinearConfig
from vidrop.eval.lowshot import lowshot


def test_lowshot_draws_a_share_per_class_and_reports_mean_and_spread():
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(3, 8, generator=g) * 4
    y = torch.arange(60) % 3
    train = LabelledSet(
        centers[y][:, None] + torch.randn(60, 2, 8, generator=g), y, [""] * 60, [], 0
    )
    yv = torch.arange(30) % 3
    val = LabelledSet(
        centers[yv][:, None] + torch.randn(30, 2, 8, generator=g), yv, [""] * 30, [], 0
    )
    rows = lowshot(train, val, 3, 0.1, 0.0, (0.05, 0.5), (0, 1, 2), LinearConfig(epochs=10), k=5)
    assert [r.videos for r in rows] == [3, 30]  # ceil(5% of 20) = 1 and 10 per class
    for r in rows:
        assert len(r.linear_runs) == 3 == len(r.knn_runs)
        assert r.linear_mean == statistics.mean(r.linear_runs)
        assert r.knn_std == statistics.pstdev(r.knn_runs)
    assert rows[1].linear_mean >= 90  # half the labels on separable data
