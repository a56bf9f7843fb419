import pytest
import torch
import torch.nn.functional as F

from vidrop.models.pos_embed import resample_grid
from vidrop.models.vit import ARCHS, VideoViT, ViTConfig
from vidrop.tokens import TokenGrid, drop_tokens


def tiny(**kw) -> VideoViT:
    torch.manual_seed(0)
    cfg = dict(arch="vit_t", depth=2, num_frames=8, img_size=64, drop_path=0.0)
    cfg.update(kw)
    return VideoViT(ViTConfig(**cfg)).eval()


def video(b: int = 2, t: int = 8, s: int = 64) -> torch.Tensor:
    return torch.randn(b, 3, t, s, s, generator=torch.Generator().manual_seed(1))


def test_shapes_and_sizes():
    m = tiny()
    out = m.forward_features(video())
    assert out["cls"].shape == (2, 192) and out["patch"].shape == (2, 64, 192)
    assert torch.isfinite(out["patch"]).all()
    for name, (dim, depth, heads) in ARCHS.items():
        cfg = ViTConfig(arch=name).resolved()
        assert (cfg.embed_dim, cfg.depth, cfg.num_heads) == (dim, depth, heads)
    assert ViTConfig(arch="vit_h").resolved().embed_dim // 16 == 80  # ViT-H heads are 80 wide


def test_patch_embedding_equals_conv3d():
    m = tiny()
    x = video()
    patches, grid = m.patch_embed.patchify(x)
    ours = m.patch_embed(patches)
    ref = m.patch_embed.proj(x).flatten(2).transpose(1, 2)  # (B, N, D), t-major order
    assert grid.as_tuple() == (4, 4, 4)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)


def test_keeping_every_token_equals_the_dense_forward():
    m = tiny()
    x = video()
    keep = torch.arange(64).expand(2, -1)
    a, b = m.forward_features(x), m.forward_features(x, keep)
    torch.testing.assert_close(a["patch"], b["patch"])
    torch.testing.assert_close(a["cls"], b["cls"])


def test_dropped_tokens_are_removed_and_do_not_influence_the_output():
    m = tiny()
    x = video(1)
    keep = drop_tokens("random", 1, TokenGrid(4, 4, 4), 0.75, torch.Generator().manual_seed(0))
    out = m.forward_features(x, keep)
    assert out["patch"].shape == (1, 16, 192)
    # change the pixels of one dropped token: the output must not move
    dropped = sorted(set(range(64)) - set(keep[0].tolist()))[0]
    t, h, w = dropped // 16, dropped // 4 % 4, dropped % 4
    y = x.clone()
    y[:, :, 2 * t : 2 * t + 2, 16 * h : 16 * h + 16, 16 * w : 16 * w + 16] += 5.0
    torch.testing.assert_close(m.forward_features(y, keep)["cls"], out["cls"])


def test_mask_token_replaces_the_patch_embedding_before_position():
    m = tiny()
    with torch.no_grad():
        m.mask_token.normal_()
    x = video(1)
    keep = torch.arange(64)[None]
    mask = torch.zeros(1, 64, dtype=torch.bool)
    mask[0, 5] = True
    tokens = m.prepare_tokens(x, keep, mask)
    expected = m.mask_token[0, 0] + m.pos_embed[0, 5]
    torch.testing.assert_close(tokens[0, 1 + 5], expected)
    y = x.clone()
    y[:, :, 0:2, 16:32, 16:32] += 3.0  # token 5 is (t=0, h=1, w=1): masked, so no effect
    torch.testing.assert_close(
        m.forward_features(y, keep, mask)["cls"], m.forward_features(x, keep, mask)["cls"]
    )


def test_small_clips_use_resampled_position_embeddings():
    m = tiny()
    out = m.forward_features(video(2, t=4, s=32))
    assert out["patch"].shape == (2, 2 * 2 * 2, 192)
    pos = resample_grid(m.pos_embed, (4, 4, 4), (4, 4, 4))
    assert pos is m.pos_embed
    constant = torch.ones(1, 64, 3)
    torch.testing.assert_close(resample_grid(constant, (4, 4, 4), (2, 3, 5)), torch.ones(1, 30, 3))


@pytest.mark.parametrize("qkv_bias", ["qkv", "qv", "none"])
@pytest.mark.parametrize("layerscale", [0.0, 1e-5])
def test_every_parameter_gets_a_gradient(qkv_bias, layerscale):
    m = tiny(qkv_bias=qkv_bias, layerscale=layerscale, drop_path=0.1).train()
    keep = torch.arange(0, 64, 2).expand(2, -1)
    mask = torch.zeros(2, 32, dtype=torch.bool)
    mask[:, :4] = True
    out = m.forward_features(video(), keep, mask)
    (out["cls"].square().sum() + out["patch"].square().sum()).backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    names = dict(m.named_parameters())
    assert ("blocks.0.attn.q_bias" in names) == (qkv_bias == "qv")
    assert ("blocks.0.ls1.gamma" in names) == (layerscale > 0)


def test_qv_bias_keeps_k_bias_at_zero():
    m = tiny(qkv_bias="qv")
    attn = m.blocks[0].attn
    with torch.no_grad():
        attn.q_bias.normal_()
        attn.v_bias.normal_()
    x = torch.randn(1, 5, 192)
    d = 192
    q = F.linear(x, attn.qkv.weight[:d], attn.q_bias)
    k = F.linear(x, attn.qkv.weight[d : 2 * d])
    v = F.linear(x, attn.qkv.weight[2 * d :], attn.v_bias)
    split = lambda t: t.view(1, 5, 3, 64).transpose(1, 2)  # noqa: E731
    ref = (
        F.scaled_dot_product_attention(split(q), split(k), split(v))
        .transpose(1, 2)
        .reshape(1, 5, d)
    )
    torch.testing.assert_close(attn(x), attn.proj(ref))


def test_lr_layer_ids():
    m = tiny()
    assert m.lr_layer_id("patch_embed.proj.weight") == 0
    assert m.lr_layer_id("pos_embed") == 0
    assert m.lr_layer_id("blocks.1.mlp.fc1.weight") == 2
    assert m.lr_layer_id("norm.weight") == 3


def test_bad_config():
    with pytest.raises(ValueError, match="unknown arch"):
        VideoViT(ViTConfig(arch="vit_q"))
    with pytest.raises(ValueError, match="divisible"):
        VideoViT(ViTConfig(arch="vit_t", depth=1, num_heads=5))


@pytest.mark.slow
def test_compiled_module_matches_eager_through_forward_features():
    """`.compile()` must take effect on the path training uses (forward_features, keep, mask)."""
    m = tiny()
    x = video()
    keep = drop_tokens("random", 2, TokenGrid(4, 4, 4), 0.5, torch.Generator().manual_seed(0))
    mask = torch.zeros_like(keep, dtype=torch.bool)
    mask[:, ::3] = True
    eager = m.forward_features(x, keep, mask)
    torch._dynamo.reset()
    m.compile()
    counter = torch._dynamo.utils.counters
    counter.clear()
    compiled = m.forward_features(x, keep, mask)
    assert counter["stats"]["unique_graphs"] >= 1  # a graph was really captured
    torch.testing.assert_close(compiled["cls"], eager["cls"], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(compiled["patch"], eager["patch"], rtol=1e-4, atol=1e-4)


def test_activation_checkpointing_gives_the_same_gradients():
    torch.manual_seed(0)
    cfg = ViTConfig(arch="vit_t", depth=2, num_frames=4, img_size=32, drop_path=0.0)
    m = VideoViT(cfg).train()
    x = torch.randn(2, 3, 4, 32, 32)
    grads = []
    for on in (False, True):
        m.activation_checkpointing = on
        m.zero_grad()
        m(x)["cls"].square().sum().backward()
        grads.append([p.grad.clone() for p in m.parameters() if p.grad is not None])
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b)
