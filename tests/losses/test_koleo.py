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


def test_gradient_flows():
    x = torch.randn(8, 4, requires_grad=True)
    koleo_loss(x).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
