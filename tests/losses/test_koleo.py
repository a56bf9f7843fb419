import math

import torch

from vidrop.losses import koleo_loss


def test_hand_computed_three_points():
    x = torch.tensor([[2.0, 0.0], [0.0, 3.0], [1.0, 1.0]])  # normalised: e1, e2, diagonal
    d = math.sqrt(2 - 2 * math.cos(math.pi / 4))  # every nearest neighbour is 45 degrees away
    assert math.isclose(float(koleo_loss(x)), -math.log(d), rel_tol=1e-5)


def test_spread_points_score_lower_than_clustered_points():
    torch.manual_seed(0)
    spread = torch.randn(64, 16)
    clustered = torch.randn(1, 16) + 0.01 * torch.randn(64, 16)
    assert koleo_loss(spread) < koleo_loss(clustered)


def test_gradient_matches_finite_differences():
    """The loss computes in float32: central differences of 1e-3 agree with autograd to 1%."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 4, generator=g, requires_grad=True)
    koleo_loss(x).backward()
    numeric = torch.zeros_like(x)
    with torch.no_grad():
        for i in range(8):
            for j in range(4):
                e = torch.zeros_like(x)
                e[i, j] = 1e-3
                numeric[i, j] = (koleo_loss(x + e) - koleo_loss(x - e)) / 2e-3
    torch.testing.assert_close(x.grad, numeric, rtol=1e-2, atol=1e-3)
