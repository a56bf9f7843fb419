import torch

from vidrop.losses import SoftmaxCenter, sinkhorn_knopp


def dinov2_sinkhorn(teacher_output: torch.Tensor, temp: float, n_iterations: int = 3):
    """DINOv2's sinkhorn_knopp_teacher, single process, written out as the reference."""
    q = torch.exp(teacher_output / temp).t()
    b, k = q.shape[1], q.shape[0]
    q /= q.sum()
    for _ in range(n_iterations):
        q /= q.sum(dim=1, keepdim=True)
        q /= k
        q /= q.sum(dim=0, keepdim=True)
        q /= b
    q *= b
    return q.t()


def test_matches_the_dinov2_formula():
    torch.manual_seed(0)
    logits = torch.randn(32, 16)
    torch.testing.assert_close(
        sinkhorn_knopp(logits, 0.07), dinov2_sinkhorn(logits.double(), 0.07).float()
    )


def test_marginals():
    torch.manual_seed(1)
    logits = torch.randn(64, 8) * 0.3
    q = sinkhorn_knopp(logits, 0.1, n_iterations=30)
    torch.testing.assert_close(q.sum(1), torch.ones(64))  # each sample is a distribution
    torch.testing.assert_close(
        q.sum(0), torch.full((8,), 64 / 8), rtol=1e-3, atol=1e-3
    )  # equal use


def test_low_temperature_does_not_overflow():
    logits = torch.tensor([[50.0, 0.0], [0.0, 50.0]])
    q = sinkhorn_knopp(logits, 0.04)
    assert torch.isfinite(q).all()


def test_empty_batch():
    assert sinkhorn_knopp(torch.zeros(0, 8), 0.1).shape == (0, 8)


def test_softmax_centering():
    center = SoftmaxCenter(3, momentum=0.9)
    logits = torch.tensor([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    probs = center(logits, 0.5)
    torch.testing.assert_close(probs, torch.softmax(logits / 0.5, -1))  # center starts at 0
    torch.testing.assert_close(center.center, 0.1 * logits.mean(0, keepdim=True))
    probs = center(logits, 0.5)
    torch.testing.assert_close(probs, torch.softmax((logits - 0.1 * logits.mean(0)) / 0.5, -1))
    before = center.center.clone()
    center(torch.zeros(0, 3), 0.5)  # no samples: centre unchanged
    torch.testing.assert_close(center.center, before)


def test_a_low_temperature_gives_near_one_hot_rows_on_distinct_prototypes():
    """Each sample's logits favour its own prototype (a permutation): at temperature 0.01 the
    balanced assignment is that permutation, almost one-hot."""
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(8, generator=g)
    logits = torch.randn(8, 8, generator=g) * 0.1
    logits[torch.arange(8), perm] += 1.0
    q = sinkhorn_knopp(logits, 0.01)
    assert torch.equal(q.argmax(1), perm) and bool((q.max(1).values > 0.99).all())
