"""Tuning's pure parts: the trials, the override text, the choice."""

import pytest

from vidrop.compare.tuning import (
    Trial,
    at_edge,
    choose,
    finalists,
    selection_score,
    trials,
    widened,
)
from vidrop.methods import resolve_config


def test_trials_are_every_lr_for_every_knob_setting_the_recipes_first():
    got = trials((1e-3, 3e-5), [{"mask.drop_ratio": 0.5}, {"mask.drop_ratio": 0.75}])
    assert [(t.lr, t.settings["mask.drop_ratio"]) for t in got] == [
        (3e-5, 0.5),
        (1e-3, 0.5),
        (3e-5, 0.75),
        (1e-3, 0.75),
    ]


def test_a_trial_sets_the_peak_lr_without_batch_scaling_and_its_knob():
    cfg = resolve_config("tiny", method="videomae")  # its recipe scales lr with the batch
    t = Trial(3e-4, {"mask.drop_ratio": 0.75, "mask.mask_ratio": [0.1, 0.5]})
    out = t.apply(cfg)
    assert (out.optim.base_lr, out.optim.lr_scaling) == (3e-4, "none")
    assert out.optim.min_lr == pytest.approx(3e-6)  # the same 1% of the peak for everyone
    assert out.mask.drop_ratio == 0.75 and out.mask.mask_ratio == (0.1, 0.5)
    assert out.mask.drop_pattern == "tube"  # the rest of its recipe stays


def test_the_choice_is_the_best_mean_of_knn_and_linear_ties_alike_for_every_method():
    own, other = {"k": 1}, {"k": 2}
    a, b, e = Trial(1e-4, own), Trial(1e-3, own), Trial(1e-2, own)
    c, d = Trial(1e-3, other), Trial(1e-2, other)
    assert selection_score({"knn": 30.0, "linear": 50.0}) == 40.0
    results = [
        (a, {"knn": 30.0, "linear": 50.0}),  # 40
        (b, {"knn": 20.0, "linear": 60.0}),  # 40: b's lr is the grid's geometric middle
        (e, {"knn": 40.0, "linear": 40.0}),  # 40
        (c, {"knn": 45.0, "linear": 35.0}),  # 40, but not the method's own knob setting
        (d, None),  # failed: never chosen
    ]
    assert choose(results) == b
    assert choose([*results[:3], (d, {"knn": 41.0, "linear": 40.0})]) == d  # the best wins
    assert choose([(c, {"knn": 1.0, "linear": 1.0}), (d, None)]) == c
    with pytest.raises(RuntimeError, match="every tuning trial failed"):
        choose([(d, None)])
    assert at_edge(3e-3, (3e-5, 3e-3)) and not at_edge(3e-4, (3e-5, 3e-4, 3e-3))


def test_the_finalists_are_the_best_trial_at_each_of_the_best_lrs():
    own, other = {"mask.drop_ratio": 0.5}, {"mask.drop_ratio": 0.75}
    scores = {  # (lr, knob): held-out score; 3e-3 holds the two best trials
        (3e-3, 0.75): 34.0,
        (3e-3, 0.5): 27.0,
        (1e-3, 0.5): 26.0,
        (1e-3, 0.75): 26.0,  # a tie at 1e-3: the method's own knob setting goes on
        (3e-4, 0.75): 25.0,
    }
    results = [
        (Trial(lr, own if d == 0.5 else other), {"knn": v, "linear": v})
        for (lr, d), v in scores.items()
    ]
    results = [results[1], *results[:1], *results[2:]]  # the recipe's setting first
    picks = finalists(results, 2)
    assert picks == [Trial(3e-3, other), Trial(1e-3, own)]
    assert finalists(results, 1) == [choose(results)]
    # finalists that tie at the full budget: the lr nearest the whole grid's middle, not theirs
    tied = [
        (Trial(1e-3, own), {"knn": 30.0, "linear": 30.0}),
        (Trial(3e-3, own), {"knn": 30.0, "linear": 30.0}),
    ]
    assert choose(tied, own, grid=(1e-4, 3e-4, 1e-3, 3e-3, 1e-2)) == Trial(1e-3, own)
    assert choose(tied[::-1], own, grid=(1e-3, 3e-3, 1e-2, 3e-2, 1e-1)) == Trial(3e-3, own)
    assert finalists([(Trial(1e-3, own), {"knn": 1.0, "linear": 1.0})], 2) == [Trial(1e-3, own)]


def test_a_grid_grows_one_step_past_each_edge_a_chosen_lr_sits_on():
    grid = (3e-5, 1e-4, 3e-4, 1e-3, 3e-3)
    assert widened(grid, [3e-4, 1e-3]) == grid  # interior choices: the grid was wide enough
    assert widened(grid, [3e-4, 3e-3]) == (*grid, 1e-2)  # the half-decade pattern continued
    assert widened(grid, [3e-5, 3e-3]) == (1e-5, *grid, 1e-2)
    assert widened((3e-3, 3e-5, 3e-4), [3e-3]) == (3e-5, 3e-4, 3e-3, 3e-2)  # unsorted, decades
    assert widened((1e-4, 1e-3), [1e-4]) == (1e-5, 1e-4, 1e-3)
    assert widened((1e-3,), [1e-3]) == (1e-3,)  # one lr: fixed, not searched


def test_trials_that_differ_only_in_lr_share_one_cost_measurement():
    from vidrop.compare.budget import cost_key

    cfg = resolve_config("tiny")
    a, b = Trial(3e-5, {"mask.drop_ratio": 0.5}), Trial(3e-3, {"mask.drop_ratio": 0.5})
    c = Trial(3e-5, {"mask.drop_ratio": 0.75})  # fewer tokens: a cheaper step
    assert cost_key(a.apply(cfg)) == cost_key(b.apply(cfg)) != cost_key(c.apply(cfg))
