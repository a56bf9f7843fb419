import torch

from vidrop.eval.probe import (
    average_views,
    per_class_subset,
    standardizer,
    stratified_holdout,
    topk_accuracy,
)


def test_average_views_averages_probabilities_not_logits():
    # view 1 is very sure of class 0; views 2 and 3 mildly prefer class 1
    logits = torch.tensor([[[10.0, 0.0], [0.0, 0.5], [0.0, 0.5]]])
    probs = average_views(logits)
    expected = torch.stack([lg.softmax(-1) for lg in logits[0]]).mean(0)
    torch.testing.assert_close(probs[0], expected)
    assert probs.argmax(1).item() == 0  # mean softmax: the confident view wins
    assert logits.mean(1).argmax(1).item() == 0


def test_multi_view_averaging_fixes_a_single_wrong_view():
    logits = torch.tensor([[[2.0, 0.0], [2.0, 0.0], [0.0, 1.0]]])  # 2 of 3 views right
    assert topk_accuracy(average_views(logits), torch.tensor([0])) == 100.0
    assert topk_accuracy(logits[:, 2], torch.tensor([0])) == 0.0


def test_topk_accuracy():
    scores = torch.tensor([[0.1, 0.5, 0.4], [0.6, 0.3, 0.1]])
    y = torch.tensor([2, 0])
    assert topk_accuracy(scores, y, 1) == 50.0
    assert topk_accuracy(scores, y, 2) == 100.0
    assert topk_accuracy(scores, y, 10) == 100.0  # k capped at the class count


def test_stratified_holdout_keeps_every_class_in_the_fit_part():
    y = torch.tensor([0] * 10 + [1] * 5 + [2])
    fit, held = stratified_holdout(y, 0.2, seed=0)
    assert sorted(torch.cat((fit, held)).tolist()) == list(range(16))
    assert torch.bincount(y[held], minlength=3).tolist() == [2, 1, 0]
    assert set(y[fit].tolist()) == {0, 1, 2}  # the single video of class 2 stays in fit


def test_per_class_subset_takes_a_share_rounded_up_and_at_least_one():
    y = torch.tensor([0] * 20 + [1] * 3)
    idx = per_class_subset(y, 0.1, seed=0)
    assert torch.bincount(y[idx]).tolist() == [2, 1]
    assert not torch.equal(idx, per_class_subset(y, 0.1, seed=1))  # seeds draw differently


def test_standardizer_over_samples_and_views():
    x = torch.tensor([[[1.0, 10.0], [3.0, 10.0]]])
    mean, std = standardizer(x)
    torch.testing.assert_close(mean, torch.tensor([2.0, 10.0]))
    assert std[1] == 1e-6  # a constant feature is not divided by zero


def test_stratified_folds_cover_every_row_once_and_split_each_class_evenly():
    from vidrop.eval.probe import stratified_folds

    y = torch.tensor([0] * 10 + [1] * 7 + [2] * 3)
    folds = stratified_folds(y, 5, seed=0)
    assert sorted(torch.cat(folds).tolist()) == list(range(20))
    for c, n in ((0, 10), (1, 7), (2, 3)):
        per_fold = [int((y[f] == c).sum()) for f in folds]
        assert sum(per_fold) == n and max(per_fold) - min(per_fold) <= 1
    assert [f.tolist() for f in folds] == [f.tolist() for f in stratified_folds(y, 5, seed=0)]
