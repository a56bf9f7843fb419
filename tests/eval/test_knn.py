import torch

from vidrop.eval.knn import knn_accuracy, knn_predict


def test_separable_clusters_are_classified_perfectly():
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(4, 16, generator=g) * 5
    train_y = torch.arange(4).repeat_interleave(25)
    train = centers[train_y] + torch.randn(100, 16, generator=g) * 0.1
    test_y = torch.arange(4).repeat(5)
    test = centers[test_y] + torch.randn(20, 16, generator=g) * 0.1
    assert knn_accuracy(train, train_y, test, test_y, k=20) == 100.0


def test_random_labels_are_near_chance():
    g = torch.Generator().manual_seed(1)
    train, test = torch.randn(2000, 8, generator=g), torch.randn(500, 8, generator=g)
    acc = knn_accuracy(
        train,
        torch.randint(0, 4, (2000,), generator=g),
        test,
        torch.randint(0, 4, (500,), generator=g),
    )
    assert 15 < acc < 35


def test_votes_are_weighted_by_exp_similarity():
    train = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    labels = torch.tensor([0, 1, 1])
    test = torch.tensor([[1.0, 0.05]])
    scores = knn_predict(train, labels, test, n_classes=2, k=3, temp=0.07)
    sim = (
        torch.nn.functional.normalize(test, dim=1) @ torch.nn.functional.normalize(train, dim=1).t()
    )
    w = (sim[0] / 0.07).exp()
    torch.testing.assert_close(scores[0], torch.stack([w[0], w[1] + w[2]]))
    assert scores.argmax(1).item() == 0  # one very close neighbour beats two far ones
    assert knn_predict(train, labels, test, 2, k=50).shape == (1, 2)  # k capped at the memory
