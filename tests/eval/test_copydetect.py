import pytest
import torch

from vidrop.eval.copydetect import (
    Whitening,
    average_precision,
    copy_detection,
    micro_average_precision,
)
from vidrop.eval.errors import EvalError
from vidrop.eval.features import Features, gem
from vidrop.eval.views import EvalViews


def _features(cls: torch.Tensor, names: list[str], ok: list[bool] | None = None) -> Features:
    """One view per video; the GeM part equals the CLS part, so the descriptor is [x, x]."""
    n = len(names)
    x = cls[:, None]
    return Features(
        cls=x,
        mean=x.clone(),
        patch=None,
        ok=torch.tensor(ok) if ok is not None else torch.ones(n, dtype=torch.bool),
        short=torch.zeros(n, dtype=torch.bool),
        paths=[f"/data/{m}" for m in names],
        labels=[None] * n,
        views=EvalViews(4, 32, 1),
        gem=x.clone(),
    )


def test_average_precision_matches_the_holidays_trapezoids():
    assert average_precision([0], 1) == 1.0
    assert average_precision([1], 1) == pytest.approx(0.25)  # (0 + 1/2) / 2
    assert average_precision([], 1) == 0.0  # not among the results
    # ranks 0 and 2 of 2 positives: (1 + 1)/2 * 1/2 + (1/2 + 2/3)/2 * 1/2
    assert average_precision([0, 2], 2) == pytest.approx(0.5 + 7 / 24)


def test_gem_is_dinos_pooling_and_ignores_negative_activations():
    tokens = torch.tensor([[1.0, -5.0], [3.0, -1.0]])  # (L=2, D=2)
    expected = torch.tensor([((1 + 81) / 2) ** 0.25, 1e-6])
    torch.testing.assert_close(gem(tokens), expected)
    assert gem(torch.randn(3, 5, 7, 16)).shape == (3, 5, 16)


def test_whitening_makes_the_fitting_set_white():
    torch.manual_seed(0)
    x = torch.randn(4000, 6) @ torch.randn(6, 6) + 3.0
    w = Whitening.fit(x)
    y = w(x)
    torch.testing.assert_close(y.mean(0), torch.zeros(6), atol=1e-4, rtol=0)
    torch.testing.assert_close(torch.cov(y.T), torch.eye(6), atol=2e-3, rtol=0)


def test_exact_and_lightly_edited_copies_are_all_found_first():
    torch.manual_seed(0)
    db = torch.randn(50, 16)
    order = torch.randperm(50)
    queries = db[order] + 0.05 * torch.randn(50, 16)
    names = [f"v{i}.mp4" for i in range(50)]
    result = copy_detection(
        _features(queries, [f"q{i}.mp4" for i in range(50)]),
        _features(db, names),
        [names[i] for i in order.tolist()],
    )
    assert result.map == 100.0 and result.top1 == 100.0 and result.queries == 50
    assert result.ranks == [0] * 50


def test_a_copy_ranked_second_scores_a_quarter():
    db = torch.tensor([[1.0, 0.0], [0.8, 0.6]])
    # closer to v0 than to its own original v1
    query = torch.tensor([[0.95, 0.31]])
    result = copy_detection(
        _features(query, ["q.mp4"]), _features(db, ["v0.mp4", "v1.mp4"]), ["v1.mp4"]
    )
    assert result.ranks == [1] and result.map == pytest.approx(25.0) and result.top1 == 0.0
    assert result.per_query() == {"/data/q.mp4": pytest.approx(25.0)}


def test_distractor_queries_and_undecodable_videos():
    torch.manual_seed(1)
    db = torch.randn(4, 8)
    queries = torch.cat([db[:2], torch.randn(2, 8)])
    result = copy_detection(
        _features(queries, ["a", "b", "c", "d"], ok=[True, True, True, False]),
        _features(db, ["v0", "v1", "v2", "v3"]),
        ["/data/v0", "v1", None, "v3"],  # a path or a file name; None: no original
    )
    assert result.queries == 2 and result.distractor_queries == 1 and result.map == 100.0
    assert result.per_query() == {"/data/a": 100.0, "/data/b": 100.0}  # those with an original
    assert result.database == 4 and result.skipped_queries == 1


def test_a_query_whose_original_did_not_decode_is_skipped_and_counted():
    db = torch.eye(3)
    result = copy_detection(
        _features(db.clone(), ["a", "b", "c"]),
        _features(db, ["v0", "v1", "v2"], ok=[True, False, True]),
        ["v0", "v1", "v2"],
    )
    assert result.queries == 2 and result.skipped_queries == 1 and result.database == 2
    assert result.map == 100.0


def test_bad_originals_are_named():
    db = _features(torch.randn(2, 4), ["v0.mp4", "v1.mp4"])
    with pytest.raises(EvalError, match="'nope.mp4' is not in the database"):
        copy_detection(_features(torch.randn(1, 4), ["q"]), db, ["nope.mp4"])
    twins = _features(torch.randn(2, 4), ["v0.mp4", "v0.mp4"])
    twins.paths = ["/a/v0.mp4", "/b/v0.mp4"]
    with pytest.raises(EvalError, match="names several database videos"):
        copy_detection(_features(torch.randn(1, 4), ["q"]), twins, ["v0.mp4"])
    with pytest.raises(EvalError, match="no decodable query has an original"):
        copy_detection(_features(torch.randn(1, 4), ["q"]), db, [None])


def test_micro_average_precision_known_answers():
    def uap(scores, match, n):
        return micro_average_precision(torch.tensor(scores), torch.tensor(match), n)

    assert uap([0.9, 0.8, 0.1], [True, True, False], 2) == 1.0  # perfect ranking
    assert uap([0.9, 0.5], [True, False], 2) == 0.5  # one true pair never retrieved
    assert uap([0.9, 0.8], [False, True], 1) == 0.5  # a false pair (a distractor) ranked first
    # (1 x 1 + 2/3 x 1) / 2: true, false, true
    assert uap([0.9, 0.8, 0.7], [True, False, True], 2) == pytest.approx(5 / 6)
    # equal scores are one step: precision 1/2 at recall 1, whichever comes first
    assert uap([0.5, 0.5], [True, False], 1) == uap([0.5, 0.5], [False, True], 1) == 0.5
    assert uap([], [], 3) == 0.0
    with pytest.raises(ValueError, match="true pair"):
        uap([0.5], [True], 0)
    with pytest.raises(ValueError, match="matching candidates"):
        uap([0.5, 0.4], [True, True], 1)


def test_micro_average_precision_against_an_independent_computation():
    g = torch.Generator().manual_seed(0)
    for trial in range(20):
        n = 200
        scores = (torch.rand(n, generator=g) * (10 if trial % 2 else 1000)).round()  # ties
        match = torch.rand(n, generator=g) < 0.3
        n_true = int(match.sum()) + trial  # some true pairs never retrieved
        # the area under the precision-recall steps, one step per distinct threshold
        expected, recall = 0.0, 0.0
        for t in sorted(set(scores.tolist()), reverse=True):
            above = scores >= t
            precision = float(match[above].sum() / above.sum())
            new_recall = float(match[above].sum()) / n_true
            expected += (new_recall - recall) * precision
            recall = new_recall
        assert micro_average_precision(scores, match, n_true) == pytest.approx(expected)
    # without ties: VSC's formula, the mean over true pairs of the precision where each is found
    scores = torch.randperm(50, generator=g).float()
    match = torch.rand(50, generator=g) < 0.4
    ranked = match[torch.argsort(scores, descending=True)].double()
    vsc = float((ranked.cumsum(0) / torch.arange(1, 51) * ranked).sum()) / (int(match.sum()) + 2)
    assert micro_average_precision(scores, match, int(match.sum()) + 2) == pytest.approx(vsc)


def test_distractor_queries_cost_micro_ap_but_not_map():
    db = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    copies = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.9, 0.0]])  # cosine 0.99, 0.98 to theirs
    distractor = torch.tensor([[1.0, 0.0, 0.0]])  # closer to v0 than any copy: cosine 1
    names = ["v0.mp4", "v1.mp4"]
    alone = copy_detection(_features(copies, ["a", "b"]), _features(db, names), names, topk=1)
    assert alone.map == alone.uap == 100.0 and alone.true_pairs == 2
    both = copy_detection(
        _features(torch.cat([copies, distractor]), ["a", "b", "c"]),
        _features(db, names),
        [*names, None],
        topk=1,
    )
    # the distractor's pair ranks first and is false: (1/2 + 2/3) / 2 true pairs
    assert both.map == 100.0 and both.uap == pytest.approx(100 * (1 / 2 + 2 / 3) / 2)
    assert both.distractor_queries == 1 and both.candidate_pairs == 3


def test_a_query_with_several_originals():
    db = torch.eye(3)
    query = torch.tensor([[1.0, 0.9, 0.0]])  # v0 first, v1 second
    r = copy_detection(
        _features(query, ["q"]), _features(db, ["v0", "v1", "v2"]), [("v0", "v1")], topk=3
    )
    assert r.map == 100.0 and r.uap == 100.0 and r.true_pairs == 2 and r.ranks == [0]
    r = copy_detection(
        _features(query, ["q"]), _features(db, ["v0", "v1", "v2"]), [("v1", "v2")], topk=3
    )
    # v1 at rank 1 and v2 at rank 2 of 2 positives; µAP (1/2 + 2/3) / 2
    assert r.uap == pytest.approx(100 * (1 / 2 + 2 / 3) / 2) and r.ranks == [1]
