import pytest
import torch

from vidrop.models.layers import ATTENTION_BACKENDS, Attention, attention_backend


@pytest.mark.parametrize("name", list(ATTENTION_BACKENDS))
def test_every_attention_backend_computes_the_same_attention(name):
    """Each train.attention choice runs here (a kernel the machine lacks, e.g. cuDNN on a CPU,
    falls back to the next) and gives the math kernel's output and gradients."""
    torch.manual_seed(0)
    attn = Attention(32, 4)
    x = torch.randn(3, 7, 32, requires_grad=True)
    with attention_backend("math"):
        ref = attn(x)
    (ref_grad,) = torch.autograd.grad(ref.square().sum(), x)
    with attention_backend(name):
        out = attn(x)
    (grad,) = torch.autograd.grad(out.square().sum(), x)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(grad, ref_grad, atol=1e-5, rtol=1e-5)


def test_attention_backend_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown attention backend 'fa3'"):
        attention_backend("fa3")
