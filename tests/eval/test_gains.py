import pytest
import torch

from vidrop.eval.gains import outcomes, paired_gains


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


def copies(pairs: dict) -> dict:
    """An eval all result with only copy detection: query -> (scores, hits, true pairs)."""
    return {"copy_detection": {"per_query_pairs": pairs}}


def test_copy_uap_gain_is_the_difference_of_pooled_uaps_with_a_query_bootstrap():
    from vidrop.eval.copydetect import micro_average_precision

    # ours: every copy's original first; theirs: the distractors' wrong matches score higher
    ours = {f"q{i}": ([0.9, 0.2], [True, False], 1) for i in range(20)}
    ours.update({f"d{i}": ([0.5, 0.4], [False, False], 0) for i in range(20)})
    theirs = {f"q{i}": ([0.6, 0.5], [True, False], 1) for i in range(20)}
    theirs.update({f"d{i}": ([0.8, 0.1], [False, False], 0) for i in range(20)})
    g = paired_gains(copies(ours), copies(theirs), samples=300)["copy µAP"]
    # theirs: 20 false pairs at 0.8 first, then the 20 true ones at 0.6: precision 20/40
    scores = torch.tensor([0.6, 0.5] * 20 + [0.8, 0.1] * 20)
    hits = torch.tensor([True, False] * 20 + [False, False] * 20)
    assert micro_average_precision(scores, hits, 20) == 0.5
    assert g.value == pytest.approx(100 * (1.0 - 0.5))
    assert g.items == 40 and 0 < g.low <= g.value <= g.high
    same = paired_gains(copies(ours), copies(ours), samples=100)["copy µAP"]
    assert same.value == same.low == same.high == 0.0
    # a result without the pairs (written before µAP existed) has no µAP gain
    assert "copy µAP" not in paired_gains(copies(ours), {"copy_detection": {}}, samples=10)


def test_all_resamples_score_as_micro_average_precision_scores_each():
    """The bootstrap scores every resample at once by weighting each pair by its query's count;
    each equals `micro_average_precision` of that resample's pooled pairs: ties (a drawn query's
    copies, and equal scores across queries), unequal candidate counts, distractors, and a
    resample that drew no true pair."""
    from vidrop.eval.copydetect import micro_average_precision
    from vidrop.eval.gains import _counts, _pairs_tensors, resampled_uaps

    g = torch.Generator().manual_seed(0)
    pairs = {}
    for i in range(30):
        n = 1 + i % 4  # 1 to 4 candidates: -inf padded in the tensors
        scores = (torch.randint(0, 6, (n,), generator=g) / 5).tolist()  # many equal scores
        hits = [j == 0 and i % 3 > 0 for j in range(n)]  # every third query a distractor
        pairs[f"q{i}"] = (scores, hits, int(i % 3 > 0) + int(i % 5 == 0))  # a true pair missed
    queries = sorted(pairs)
    scores, hits, true = _pairs_tensors(pairs, queries)
    idx = torch.randint(0, 30, (40, 30), generator=g)
    idx[0] = queries.index("q3")  # a distractor thirty times: no true pair
    got = resampled_uaps(scores, hits, true, _counts(idx, 30))
    for row, uap in zip(idx, got.tolist(), strict=True):
        rows = [pairs[queries[i]] for i in row]
        n_true = sum(r[2] for r in rows)
        s = torch.tensor([x for r in rows for x in r[0]])
        h = torch.tensor([x for r in rows for x in r[1]])
        assert uap == pytest.approx(micro_average_precision(s, h, n_true) if n_true else 0.0)
    assert got[0] == 0.0
