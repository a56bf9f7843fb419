import pytest
import torch

from tests.helpers import load_script
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
        cls=cls,
        mean=cls.clone(),
        patch=None,
        ok=torch.ones(n, dtype=torch.bool),
        short=torch.zeros(n, dtype=torch.bool),
        paths=[f"v{i}.mp4" for i in range(n)],
        labels=labels,
        views=EvalViews(4, 32, 1),
    )


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


def test_nearest_view_shares_tell_video_features_from_clip_features():
    module = load_script("knn_factors")
    video = _features(0, 0.3, copies=1)  # 12 videos, one per class, one view each
    torch.manual_seed(0)
    per_video = torch.randn(12, 1, 16)
    # views that repeat their video's vector (plus a little noise): the nearest is a sibling
    video.cls = per_video.repeat(1, 3, 1) + 0.01 * torch.randn(12, 3, 16)
    assert module.nearest_view_shares(video) == {"same_video": 100.0, "same_class": 100.0}
    # views that share nothing with their video (independent noise): siblings are found by chance
    video.cls = torch.randn(12, 3, 16)
    shares = module.nearest_view_shares(video)
    assert shares["same_video"] < 50.0 and shares["same_video"] == shares["same_class"]
    video.cls = per_video  # one view per video: nothing to compare
    with pytest.raises(ValueError, match="two views"):
        module.nearest_view_shares(video)
