import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from vidrop.models.heads import DINOHead, WeightNormLinear


def test_weight_norm_linear_matches_torch_weight_norm():
    torch.manual_seed(0)
    ours = WeightNormLinear(16, 32)
    with torch.no_grad():
        ours.weight_g.uniform_(0.5, 2.0)
    ref = weight_norm(nn.Linear(16, 32, bias=False), dim=0)
    with torch.no_grad():
        ref.parametrizations.weight.original0.copy_(ours.weight_g)
        ref.parametrizations.weight.original1.copy_(ours.weight_v)
    x = torch.randn(5, 16)
    torch.testing.assert_close(ours(x), ref(x))


def test_head_shapes_and_normalised_bottleneck():
    torch.manual_seed(0)
    head = DINOHead(48, out_dim=100, hidden_dim=64, bottleneck_dim=16, nlayers=3)
    out = head(torch.randn(7, 48))
    assert out.shape == (7, 100)
    # g = 1 and a unit-norm bottleneck bound every logit by 1 (Cauchy-Schwarz)
    assert out.abs().max() <= 1.0 + 1e-5
    linears = [m for m in head.mlp if isinstance(m, nn.Linear)]
    assert [lin.out_features for lin in linears] == [64, 64, 16]
