import pytest
import torch

from vidrop.compress.kmeans import kmeans, nearest, sampled_init


def planted(n_per: int = 100, k: int = 8, dim: int = 12, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(k, dim, generator=g) * 20
    x = centres.repeat_interleave(n_per, 0) + torch.randn(k * n_per, dim, generator=g) * 0.5
    return centres, x[torch.randperm(len(x), generator=g)]


def test_nearest_matches_brute_force_in_chunks():
    x, c = torch.randn(1000, 30), torch.randn(50, 30)
    ids, dist = nearest(x, c, chunk=97)
    d = torch.cdist(x, c) ** 2
    assert torch.equal(ids, d.argmin(1))
    torch.testing.assert_close(dist, d.min(1).values, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kmeans_recovers_planted_clusters(seed):
    centres, x = planted(seed=seed)
    r = kmeans(x, 8, iterations=30, seed=seed, init="kmeans++")
    found = r.centroids
    match = torch.cdist(centres, found).argmin(1)
    assert len(set(match.tolist())) == 8  # one found centroid per planted cluster
    assert torch.cdist(centres, found).min(1).values.max() < 0.3
    assert r.inertia[-1] < 12 * 0.5**2 * 1.2  # ~ dim * noise variance
    assert r.inertia == sorted(r.inertia, reverse=True)  # Lloyd never increases inertia


def test_sampled_init_draws_distinct_rows_and_lloyd_descends():
    _, x = planted()
    c = sampled_init(x, 8, torch.Generator().manual_seed(0))
    rows = {tuple(r.tolist()) for r in c}
    assert len(rows) == 8 and all(any(torch.equal(r, xi) for xi in x) for r in c)
    r = kmeans(x, 8, iterations=10, init="sample")
    assert r.inertia == sorted(r.inertia, reverse=True)


def test_same_seed_same_codebook():
    _, x = planted()
    a, b = kmeans(x, 8, 5, seed=3), kmeans(x, 8, 5, seed=3)
    assert torch.equal(a.centroids, b.centroids)


def test_empty_clusters_are_reseeded():
    x = torch.arange(12.0).repeat_interleave(5).unsqueeze(1)  # 12 distinct values, 60 rows
    r = kmeans(x, 12, iterations=30, init=torch.zeros(12, 1))  # one centre, 11 clusters empty
    assert r.reseeded[0] == 11
    ids, dist = nearest(x, r.centroids)
    assert ids.unique().numel() == 12 and dist.max() == 0  # every value has its own centre


def test_too_few_samples_is_a_clear_error():
    with pytest.raises(ValueError, match="at least k=16"):
        kmeans(torch.randn(8, 3), 16)
