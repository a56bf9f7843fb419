import pytest

from vidrop.eval.compare import outcomes, paired_gains


def result(preds: dict, videos=("v0", "v1", "v2", "v3"), labels=(0, 1, 2, 0), seqs=None) -> dict:
    r = {"per_video": {"videos": list(videos), "labels": list(labels), "predictions": preds}}
    if seqs is not None:
        r["propagation"] = {"per_sequence": seqs}
    return r


def test_outcomes_are_right_or_wrong_per_video_and_jf_per_sequence():
    r = result({"linear": [0, 1, 0, 1]}, seqs={"s0": {"jf": 0.5, "objects": 2}})
    o = outcomes(r)
    assert o["linear"] == {
        "v0": (100.0, 1.0),
        "v1": (100.0, 1.0),
        "v2": (0.0, 1.0),
        "v3": (0.0, 1.0),
    }
    assert o["J&F"] == {"s0": (50.0, 2.0)}


def test_gains_are_top1_differences_on_the_same_videos():
    ours = result({"kNN k=20": [0, 1, 2, 0], "linear": [0, 1, 0, 0]})
    base = result({"kNN k=20": [0, 0, 0, 0], "linear": [0, 1, 2, 1]})
    g = paired_gains(ours, base, samples=200)
    assert g["kNN k=20"].value == pytest.approx(100 - 50)
    assert g["linear"].value == pytest.approx(75 - 75)
    assert g["kNN k=20"].items == 4


def test_only_the_videos_both_scored_are_compared():
    """A video the baseline's run could not decode is left out of both sides."""
    ours = result({"linear": [0, 1, 2, 0]})
    base = result({"linear": [0, 0, 1]}, videos=("v1", "v2", "v3"), labels=(1, 2, 0))
    g = paired_gains(ours, base, samples=200)["linear"]
    assert g.items == 3 and g.value == pytest.approx(100.0 - 0.0)


def test_jf_gain_is_the_mean_over_objects():
    ours = result({}, seqs={"a": {"jf": 0.6, "objects": 3}, "b": {"jf": 0.2, "objects": 1}})
    base = result({}, seqs={"a": {"jf": 0.4, "objects": 3}, "b": {"jf": 0.2, "objects": 1}})
    g = paired_gains(ours, base, samples=200)
    assert set(g) == {"J&F"} and g["J&F"].value == pytest.approx(100 * (3 * 0.2 + 0) / 4)


def test_a_metric_only_one_side_has_is_left_out():
    ours = result({"linear": [0, 1, 2, 0], "attentive": [0, 1, 2, 0]})
    base = result({"linear": [0, 1, 2, 0]})
    assert set(paired_gains(ours, base, samples=50)) == {"linear"}


def test_copy_map_gain_pairs_the_queries_both_scored():
    """Per-query average precisions, paired by query path; a query only one side scored (its
    video did not decode in the other run) is left out of both."""
    ours = {"copy_detection": {"per_query": {"q0": 100.0, "q1": 25.0}}}
    base = {"copy_detection": {"per_query": {"q0": 50.0, "q1": 25.0, "q2": 0.0}}}
    g = paired_gains(ours, base, samples=200)
    assert set(g) == {"copy mAP"} and g["copy mAP"].items == 2
    assert g["copy mAP"].value == pytest.approx((100 + 25) / 2 - (50 + 25) / 2)
    assert g["copy mAP"].low <= g["copy mAP"].value <= g["copy mAP"].high
