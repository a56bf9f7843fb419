import torch
import torch.nn.functional as F

from vidrop.eval.knn import knn_accuracy, knn_predictions, knn_scores, pool_views


def test_separable_clusters_are_classified_perfectly_at_every_k():
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(4, 16, generator=g) * 5
    train_y = torch.arange(4).repeat_interleave(25)
    train = centers[train_y] + torch.randn(100, 16, generator=g) * 0.1
    test_y = torch.arange(4).repeat(5)
    test = centers[test_y] + torch.randn(20, 16, generator=g) * 0.1
    assert knn_accuracy(train, train_y, test, test_y, ks=(10, 20)) == {10: 100.0, 20: 100.0}


def test_random_labels_are_near_chance():
    g = torch.Generator().manual_seed(1)
    train, test = torch.randn(2000, 8, generator=g), torch.randn(500, 8, generator=g)
    acc = knn_accuracy(
        train,
        torch.randint(0, 4, (2000,), generator=g),
        test,
        torch.randint(0, 4, (500,), generator=g),
        ks=(20,),
    )
    assert 15 < acc[20] < 35


def test_votes_are_weighted_by_exp_similarity_and_each_k_uses_its_nearest():
    train = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    labels = torch.tensor([0, 1, 1])
    test = torch.tensor([[1.0, 0.05]])
    scores = knn_scores(train, labels, test, n_classes=2, ks=(1, 3), temp=0.07)
    sim = F.normalize(test, dim=1) @ F.normalize(train, dim=1).t()
    w = (sim[0] / 0.07).exp()
    torch.testing.assert_close(scores[3][0], torch.stack([w[0], w[1] + w[2]]))
    torch.testing.assert_close(scores[1][0], torch.stack([w[0], torch.tensor(0.0)]))
    assert scores[3].argmax(1).item() == 0  # one very close neighbour beats two far ones
    assert knn_scores(train, labels, test, 2, ks=(50,))[50].shape == (1, 2)  # k capped


def test_small_k_and_large_k_can_disagree():
    """k=1 follows the single nearest; k=3 is outvoted by two slightly farther neighbours."""
    train = torch.tensor([[1.0, 0.0], [0.9, 0.45], [0.9, -0.45]])
    labels = torch.tensor([0, 1, 1])
    acc = knn_accuracy(train, labels, torch.tensor([[1.0, 0.0]]), torch.tensor([0]), (1, 3), 1.0)
    assert acc == {1: 100.0, 3: 0.0}
    preds = knn_predictions(train, labels, torch.tensor([[1.0, 0.0]]), (1, 3), 1.0)
    assert {k: p.tolist() for k, p in preds.items()} == {1: [0], 3: [1]}


def test_views_are_pooled_as_the_mean_of_unit_vectors():
    x = torch.tensor([[[3.0, 0.0], [0.0, 0.5]]])  # two views of different lengths weigh the same
    torch.testing.assert_close(pool_views(x), F.normalize(torch.tensor([[1.0, 1.0]]), dim=1))
