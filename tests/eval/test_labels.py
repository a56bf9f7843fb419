import pytest
import torch

from vidrop.eval.features import Features
from vidrop.eval.labels import LabelError, probe_sets
from vidrop.eval.views import EvalViews


def _features(labels: list[str | None], ok: list[bool] | None = None) -> Features:
    n = len(labels)
    return Features(
        cls=torch.randn(n, 2, 4),
        mean=torch.randn(n, 2, 4),
        patch=None,
        ok=torch.tensor(ok if ok is not None else [True] * n),
        short=torch.zeros(n, dtype=torch.bool),
        paths=[f"v{i}.mp4" for i in range(n)],
        labels=labels,
        views=EvalViews(4, 32, 1, clips=2),
    )


def test_a_val_label_unknown_to_training_is_named():
    with pytest.raises(LabelError, match=r"val: labels \['zebra'\] do not occur"):
        probe_sets(_features(["a", "b"]), _features(["a", "zebra"]), "cls")


def test_a_class_whose_training_videos_all_failed_is_an_error():
    with pytest.raises(LabelError, match=r"classes \['b'\] have no decodable training video"):
        probe_sets(_features(["a", "b"], ok=[True, False]), _features(["a", "b"]), "cls")


def test_unlabelled_training_videos_are_an_error():
    with pytest.raises(LabelError, match="no label"):
        probe_sets(_features(["a", None]), _features(["a"]), "cls")


def test_undecodable_videos_are_left_out_and_listed():
    classes, tr, va = probe_sets(
        _features(["b", "a", "a"]), _features(["a", "b"], ok=[False, True]), "cls+mean"
    )
    assert classes == ["a", "b"] and tr.y.tolist() == [1, 0, 0]
    assert va.skipped == ["v0.mp4"] and va.y.tolist() == [1] and va.x.shape == (1, 2, 8)


def test_patch_tokens_must_have_been_extracted():
    with pytest.raises(LabelError, match="--patch-tokens"):
        probe_sets(_features(["a"]), _features(["a"]), "patch")
