import pytest
import torch

from vidrop.eval.stats import paired_bootstrap


def test_identical_outcomes_gain_nothing_with_no_doubt():
    a = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0])
    i = paired_bootstrap(a, a.clone())
    assert (i.value, i.low, i.high, i.items) == (0.0, 0.0, 0.0, 5)


def test_always_right_against_always_wrong():
    i = paired_bootstrap(torch.ones(50), torch.zeros(50), samples=200)
    assert (i.value, i.low, i.high) == (1.0, 1.0, 1.0)


def test_independent_outcomes_give_the_binomial_width():
    g = torch.Generator().manual_seed(1)
    n = 4000
    a = (torch.rand(n, generator=g) < 0.6).double()
    b = (torch.rand(n, generator=g) < 0.5).double()
    i = paired_bootstrap(a, b, samples=2000)
    assert i.value == pytest.approx(float(a.mean() - b.mean()))
    se = ((0.6 * 0.4 + 0.5 * 0.5) / n) ** 0.5
    assert i.high - i.low == pytest.approx(2 * 1.96 * se, rel=0.15)
    assert i.low < i.value < i.high


def test_pairing_narrows_the_interval_when_the_backbones_agree():
    """b = a with 5% of the items flipped: the top-1s have the binomial spread, the gain a far
    smaller one, as only the disagreeing items move it."""
    g = torch.Generator().manual_seed(2)
    n = 1000
    a = (torch.rand(n, generator=g) < 0.5).double()
    flip = torch.rand(n, generator=g) < 0.05
    b = torch.where(flip, 1 - a, a)
    i = paired_bootstrap(a, b, samples=2000)
    d = a - b
    assert i.high - i.low == pytest.approx(2 * 1.96 * float(d.std() / n**0.5), rel=0.2)
    assert i.high - i.low < 0.5 * 2 * 1.96 * (2 * 0.25 / n) ** 0.5  # unpaired width


def test_intervals_cover_the_true_gain_about_as_often_as_they_claim():
    g = torch.Generator().manual_seed(3)
    n, runs, covered = 200, 200, 0
    for seed in range(runs):
        a = (torch.rand(n, generator=g) < 0.35).double()
        b = (torch.rand(n, generator=g) < 0.20).double()
        i = paired_bootstrap(a, b, samples=400, seed=seed)
        covered += i.low <= 0.15 <= i.high
    assert 0.88 <= covered / runs <= 0.99


def test_weights_make_the_mean_over_objects():
    """Two sequences, one with 3 objects: the statistic is the mean over the 4 objects."""
    i = paired_bootstrap(torch.tensor([1.0, 0.0]), torch.zeros(2), torch.tensor([3.0, 1.0]))
    assert i.value == pytest.approx(0.75)
    assert 0.0 <= i.low <= i.value <= i.high <= 1.0


@pytest.mark.parametrize(
    "a, b, w, level, match",
    [
        (torch.ones(3), torch.ones(4), None, 0.95, "one non-empty length"),
        (torch.ones(0), torch.ones(0), None, 0.95, "one non-empty length"),
        (torch.ones(3), torch.ones(3), None, 1.0, "level"),
        (torch.ones(3), torch.ones(3), torch.tensor([1.0, 0.0, 1.0]), 0.95, "positive"),
    ],
)
def test_bad_arguments_are_refused(a, b, w, level, match):
    with pytest.raises(ValueError, match=match):
        paired_bootstrap(a, b, w, level=level)
