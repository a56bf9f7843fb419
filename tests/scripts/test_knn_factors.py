import pytest
import torch

from tests.conftest import load_script
from vidrop.eval.features import Features
from vidrop.eval.views import EvalViews

SHAPES, MOTIONS = ["cross", "square", "triangle"], ["fall", "pulse", "rise", "spin"]


def _features(motion_shift: int, motion_weight: float, copies: int) -> Features:
    """One video per (shape, motion) x copies; features = shape one-hot + weighted motion one-hot,
    the motion one-hot rolled by `motion_shift` (a backbone that reads the motion wrongly)."""
    rows, labels = [], []
    for _ in range(copies):
        for s, shape in enumerate(SHAPES):
            for m, motion in enumerate(MOTIONS):
                x = torch.zeros(7)
                x[s] = 1.0
                x[3 + (m + motion_shift) % 4] = motion_weight
                rows.append(x)
                labels.append(f"{shape}_{motion}")
    cls = torch.stack(rows)[:, None]  # one view
    n = len(labels)
    return Features(
        cls=cls, mean=cls.clone(), patch=None, ok=torch.ones(n, dtype=torch.bool),
        short=torch.zeros(n, dtype=torch.bool), paths=[f"v{i}.mp4" for i in range(n)],
        labels=labels, views=EvalViews(4, 32, 1),
    )  # fmt: skip


def test_factor_accuracy_counts_each_factor():
    module = load_script("knn_factors")
    got = module.factor_accuracy(["a_x", "a_y", "b_y", "b_x"], ["a_x", "a_x", "a_y", "c_z"])
    assert got == {"top1": 25.0, "factor0": 50.0, "factor1": 50.0}
    with pytest.raises(ValueError, match="same number"):
        module.factor_accuracy(["a_x_1"], ["a_x"])


def test_a_backbone_that_knows_the_shape_but_misreads_the_motion():
    module = load_script("knn_factors")
    train = _features(0, 0.3, copies=3)
    right = module.knn_factors(train, _features(0, 0.3, copies=1), ks=(3,))
    assert right[3] == {"top1": 100.0, "factor0": 100.0, "factor1": 100.0}
    # val motion read one place off: its nearest training videos share the shape, not the motion
    wrong = module.knn_factors(train, _features(1, 0.3, copies=1), ks=(3,))
    assert wrong[3] == {"top1": 0.0, "factor0": 100.0, "factor1": 0.0}
