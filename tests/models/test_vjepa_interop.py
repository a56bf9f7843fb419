"""V-JEPA layout: the 3-D sin-cos table against the published formula, and a round trip."""

import math

import torch

from vidrop.models.load import load_backbone
from vidrop.models.vit import VideoViT, ViTConfig

Tensors = dict[str, torch.Tensor]


# V-JEPA's own layout, written here to make checkpoints in it: its 3-D sin-cos table (saved in
# its checkpoints, so vidrop loads it as stored) and its encoder keys
def sincos_1d(dim: int, pos: torch.Tensor) -> torch.Tensor:
    """(M,) positions -> (M, dim): [sin(pos * w_k), cos(pos * w_k)], w_k = 10000^(-k / (dim/2))."""
    omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2.0))
    out = pos.double().reshape(-1, 1) * omega
    return torch.cat([out.sin(), out.cos()], dim=1)


def sincos_3d(
    dim: int, grid_size: int, grid_depth: int, uniform_power: bool = False
) -> torch.Tensor:
    """V-JEPA's table (1, depth*size*size, dim), t-major: [time | height | width] parts of
    dim/2, dim/4, dim/4 (or 2*ceil(dim/6) each with uniform_power), cut to dim."""
    d, h, w = torch.meshgrid(
        torch.arange(grid_depth), torch.arange(grid_size), torch.arange(grid_size), indexing="ij"
    )
    if uniform_power:
        dt = dh = dw = int(math.ceil(dim / 6) * 2)
    else:
        dt, dh, dw = dim // 2, dim // 4, dim // 4
    table = torch.cat([sincos_1d(dt, d), sincos_1d(dh, h), sincos_1d(dw, w)], dim=1)[:, :dim]
    return table.float().unsqueeze(0)


def state_to_vjepa(ours: Tensors, prefix: str = "module.backbone.") -> Tensors:
    """Ours -> V-JEPA encoder keys (CLS and mask tokens have no place there)."""
    return {prefix + k: v for k, v in ours.items() if k not in ("cls_token", "mask_token")}


def test_3d_sincos_table_matches_the_formula_on_known_values():
    dim, size, depth = 8, 3, 2
    t = sincos_3d(dim, size, depth)[0]
    assert t.shape == (depth * size * size, dim)

    def one_d(d: int, pos: int) -> list[float]:  # [sin(pos w_k)..., cos(pos w_k)...]
        w = [1 / 10000 ** (k / (d / 2)) for k in range(d // 2)]
        return [math.sin(pos * x) for x in w] + [math.cos(pos * x) for x in w]

    for d_, h, w in [(0, 0, 0), (1, 2, 0), (1, 1, 2), (0, 2, 1)]:
        n = (d_ * size + h) * size + w  # t-major token order
        want = one_d(4, d_) + one_d(2, h) + one_d(2, w)  # time dim/2, height dim/4, width dim/4
        torch.testing.assert_close(t[n], torch.tensor(want, dtype=torch.float32))
    assert torch.allclose(t[size * size], torch.tensor(one_d(4, 1) + one_d(2, 0) + one_d(2, 0)))


def vjepa_like_model() -> VideoViT:
    torch.manual_seed(0)
    cfg = ViTConfig(
        arch="vit_s",
        embed_dim=64,
        depth=2,
        num_heads=1,
        num_frames=4,
        img_size=32,
        qkv_bias="qkv",
        cls_token=False,
        drop_path=0.0,
    )
    m = VideoViT(cfg).eval()
    with torch.no_grad():
        m.pos_embed.copy_(sincos_3d(64, 2, 2))
        m.norm.bias.normal_()
    return m


def test_a_state_dict_in_vjepa_layout_round_trips(tmp_path):
    m = vjepa_like_model()
    other = VideoViT(m.cfg)  # a different online encoder: the EMA target must win
    ckpt = {
        "encoder": state_to_vjepa(other.state_dict()),
        "target_encoder": state_to_vjepa(m.state_dict()),
        "predictor": {"module.predictor_embed.weight": torch.zeros(2, 2)},
        "epoch": 3,
    }
    torch.save(ckpt, tmp_path / "jepa-latest.pth.tar")
    loaded, meta = load_backbone(
        tmp_path / "jepa-latest.pth.tar", num_frames=4, num_heads=1, with_meta=True
    )
    assert meta["format"] == "vjepa" and loaded.cfg.img_size == 32
    for k, v in m.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v)
    x = torch.randn(2, 3, 4, 32, 32)
    torch.testing.assert_close(loaded.forward_features(x), m.forward_features(x))
    back = state_to_vjepa(loaded.state_dict())
    assert set(back) == set(ckpt["target_encoder"])
