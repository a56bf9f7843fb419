import torch
import torch.nn.functional as F

from vidrop.losses import ibot_masked_loss


def ce(s: torch.Tensor, t: torch.Tensor, temp: float) -> torch.Tensor:
    return -(t * F.log_softmax(s / temp, -1)).sum(-1)


def test_per_clip_weighting_as_in_dinov2():
    torch.manual_seed(0)
    masks = torch.tensor([[True, False, True], [False, False, False], [False, True, False]])
    s = torch.randn(3, 5)  # 3 masked tokens in row-major order: clip0 x2, clip2 x1
    t = torch.softmax(torch.randn(3, 5), -1)
    c = ce(s, t, 0.1)
    # clip 0 averages its two tokens, clip 2 has one, clip 1 counts in the denominator
    expected = ((c[0] + c[1]) / 2 + c[2]) / 3
    torch.testing.assert_close(ibot_masked_loss(s, t, masks, 0.1), expected)


def test_no_masked_tokens_gives_zero_with_a_graph():
    s = torch.zeros(0, 5, requires_grad=True)
    loss = ibot_masked_loss(s, torch.zeros(0, 5), torch.zeros(2, 3, dtype=torch.bool))
    assert loss.detach().item() == 0.0 and loss.requires_grad
