"""LEMON expansion is lossless: the grown model computes the small one's function."""

from dataclasses import replace

import pytest
import torch

from vidrop.models.heads import DINOHead
from vidrop.models.lemon import expand_backbone, expand_head, grown_config
from vidrop.models.vit import VideoViT, ViTConfig

SMALL = dict(
    arch="vit_s",
    embed_dim=48,
    depth=2,
    num_heads=3,
    num_frames=4,
    img_size=32,
    drop_path=0.0,
    qkv_bias="qv",
)
CASES = {
    "width (S->B-like: more heads)": dict(embed_dim=96, num_heads=6),
    "depth only": dict(depth=5),
    "width and depth": dict(embed_dim=96, num_heads=6, depth=4),
    "wider heads (L->H-like: 64 -> 80 dims)": dict(embed_dim=60, num_heads=3),
    "not a multiple (B->L-like: 768 -> 1024)": dict(embed_dim=64, num_heads=4, depth=3),
}


def small_model(qkv_bias: str = "qv") -> VideoViT:
    torch.manual_seed(0)
    m = VideoViT(ViTConfig(**{**SMALL, "qkv_bias": qkv_bias})).eval()
    with torch.no_grad():  # non-trivial norms and biases, so no wrong map passes by luck
        for name, p in m.named_parameters():
            if "norm" in name or "bias" in name or name in ("pos_embed", "cls_token", "mask_token"):
                p.add_(torch.randn_like(p) * 0.2 if "norm" in name or "bias" in name else 0.0)
    return m


def grown(m: VideoViT, **change) -> VideoViT:
    dst = grown_config(m.cfg, **change)
    big = VideoViT(dst).eval()
    big.load_state_dict(expand_backbone(m.state_dict(), m.cfg, dst, seed=1))
    return big


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).detach().norm() / b.detach().norm())


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("qkv_bias", ["qv", "qkv", "none"])
def test_expansion_is_lossless(case, qkv_bias):
    m = small_model(qkv_bias)
    big = grown(m, **CASES[case])
    x = torch.randn(2, 3, 4, 32, 32) * 0.01  # small activations: LayerNorm eps matters
    keep = torch.tensor([[0, 2, 5, 7], [1, 3, 4, 6]])
    mask = torch.tensor([[True, False, False, True], [False, False, True, False]])
    for args in [(x,), (x, keep, mask)]:  # teacher (dense) and student (dropped + masked) paths
        a, b = m.forward_features(*args), big.forward_features(*args)
        d = m.cfg.embed_dim
        assert rel(b["cls"][:, :d], a["cls"]) < 1e-4 and rel(b["patch"][..., :d], a["patch"]) < 1e-4
        if big.embed_dim > d:
            assert b["patch"][..., d:].abs().max() < 1e-4  # the new coordinates read as zero
    head = DINOHead(48, 64, 32, 16).eval()
    big_head = DINOHead(big.embed_dim, 64, 32, 16).eval()
    big_head.load_state_dict(expand_head(head.state_dict(), big.embed_dim, seed=2))
    cls_a, cls_b = m.forward_features(x)["cls"], big.forward_features(x)["cls"]
    assert rel(big_head(cls_b), head(cls_a)) < 1e-4


def test_expansion_refuses_what_it_cannot_keep():
    m = small_model()
    with pytest.raises(ValueError, match="patch_size"):
        expand_backbone(m.state_dict(), m.cfg, ViTConfig(**{**SMALL, "patch_size": 8}))
    with pytest.raises(ValueError, match="cannot shrink"):
        expand_backbone(m.state_dict(), m.cfg, ViTConfig(**{**SMALL, "embed_dim": 24}))
    rope = ViTConfig(**{**SMALL, "pos_embed": "rope3d"})
    with pytest.raises(ValueError, match="rotary positions"):
        expand_backbone(VideoViT(rope).state_dict(), rope, replace(rope, embed_dim=96))


@pytest.mark.slow
@pytest.mark.parametrize("src,dst", [("vit_s", "vit_b"), ("vit_b", "vit_l"), ("vit_l", "vit_h")])
def test_paper_sizes_grow_losslessly(src, dst):
    """The paper's chain at real widths and depths (on a tiny clip): S->B adds heads, B->L adds
    width and depth, L->H widens every head from 64 to 80 dims."""
    torch.manual_seed(0)
    cfg = ViTConfig(arch=src, num_frames=4, img_size=32, drop_path=0.0, qkv_bias="qv")
    m = VideoViT(cfg).eval()
    big_cfg = grown_config(cfg, arch=dst, embed_dim=0, depth=0, num_heads=0)
    big = VideoViT(big_cfg).eval()
    big.load_state_dict(expand_backbone(m.state_dict(), cfg, big_cfg))
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        a, b = m(x), big(x)
    d = m.embed_dim
    assert rel(b["patch"][..., :d], a["patch"]) < 1e-4 and rel(b["cls"][:, :d], a["cls"]) < 1e-4
