import pytest
import torch

from vidrop.eval.attentive import AttentiveConfig, AttentivePooler, attentive_probe
from vidrop.eval.labels import LabelledSet


def _tokens(n: int, seed: int, centers: torch.Tensor | None) -> LabelledSet:
    """The class signal sits in one token of 12 (at a random place); the rest is noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 4
    x = torch.randn(n, 2, 12, 16, generator=g)
    if centers is not None:
        where = torch.randint(0, 12, (n,), generator=g)
        x[torch.arange(n), :, where] += centers[y][:, None]
    return LabelledSet(x, y, [str(i) for i in range(n)], [], 0)


def test_pooler_shapes_and_gradients():
    probe = AttentivePooler(16, 5, heads=4)
    out = probe(torch.randn(3, 7, 16))
    assert out.shape == (3, 5)
    out.sum().backward()
    assert all(p.grad is not None for p in probe.parameters())


def test_finds_the_one_informative_token():
    centers = torch.randn(4, 16, generator=torch.Generator().manual_seed(0)) * 4
    cfg = AttentiveConfig(epochs=40, lrs=(1e-3, 3e-3))
    r = attentive_probe(_tokens(120, 1, centers), _tokens(40, 2, centers), 4, cfg)
    assert r.top1 >= 90


def test_noise_stays_near_chance():
    cfg = AttentiveConfig(epochs=10, lrs=(1e-3,))
    val = _tokens(200, 4, None)
    r = attentive_probe(_tokens(120, 3, None), val, 4, cfg)
    assert r.top1 < 40
    hits = (torch.tensor(r.predictions) == val.y).float()
    assert r.top1 == pytest.approx(100 * float(hits.mean()))
