"""Rotary positions (model.pos_embed=rope3d) against V-JEPA 2's formula."""

import pytest
import torch

from vidrop.models.rope import apply_rope, rope3d_tables, rope_part, with_unrotated_prefix
from vidrop.tokens.grid import TokenGrid


def _vjepa2_rotate(x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """V-JEPA 2's rotation of one part, written from its description: frequencies
    w_j = 10000^(-j / (D/2)) tiled [w, w], neighbouring dims paired (-x[2i+1], x[2i])."""
    d = x.shape[-1]
    w = 1.0 / 10000 ** (torch.arange(d // 2, dtype=torch.float64) / (d / 2))
    f = pos.double()[:, None] * w.repeat(2)[None]  # (N, D)
    turned = torch.empty_like(x)
    turned[..., 0::2], turned[..., 1::2] = -x[..., 1::2], x[..., 0::2]
    return (x * f.cos() + turned * f.sin()).float()


def test_rope3d_rotates_time_height_and_width_parts_and_leaves_the_rest():
    head = 20  # parts of 2 * (20 // 3 // 2) = 6 dims, 2 dims left unrotated
    assert rope_part(head) == 6 and rope_part(64) == 20 and rope_part(32) == 10
    grid = TokenGrid(t=2, h=3, w=4)
    coords = grid.coords()
    assert coords[0].tolist() == [0, 0, 0] and coords[4 * 3 + 5].tolist() == [1, 1, 1]
    x = torch.randn(1, 1, grid.numel, head)
    got = apply_rope(x, *rope3d_tables(coords, head))[0, 0]
    for axis in range(3):
        part = slice(6 * axis, 6 * axis + 6)
        want = _vjepa2_rotate(x[0, 0, :, part], coords[:, axis])
        torch.testing.assert_close(got[:, part], want, rtol=1e-6, atol=1e-6)
    assert torch.equal(got[:, 18:], x[0, 0, :, 18:])


def test_rope3d_is_not_purely_relative_as_in_v_jepa_2():
    """The two dims of a pair turn at different frequencies ([w, w] tiled over neighbouring
    pairs), so unlike textbook RoPE a logit also depends on absolute positions: reproduced, as
    V-JEPA 2's weights were trained with it. Position 0 is the identity."""
    head = 32
    q, k = torch.randn(head), torch.randn(head)

    def logit(pq: list[int], pk: list[int]) -> float:
        cq, sq = rope3d_tables(torch.tensor([pq]), head)
        ck, sk = rope3d_tables(torch.tensor([pk]), head)
        return float(
            apply_rope(q.view(1, 1, 1, -1), cq, sq).flatten()
            @ apply_rope(k.view(1, 1, 1, -1), ck, sk).flatten()
        )

    assert logit([0, 0, 0], [0, 0, 0]) == pytest.approx(float(q @ k), rel=1e-6)
    assert logit([3, 1, 2], [1, 4, 0]) != pytest.approx(logit([7, 5, 9], [5, 8, 7]), rel=1e-3)


def test_a_cls_token_is_not_rotated():
    cos, sin = with_unrotated_prefix(rope3d_tables(TokenGrid(1, 2, 2).coords()[None], 12))
    assert cos.shape == (1, 1, 5, 12)
    x = torch.randn(1, 2, 5, 12)
    y = apply_rope(x, cos, sin)
    assert torch.equal(y[:, :, 0], x[:, :, 0]) and not torch.equal(y[:, :, 1:], x[:, :, 1:])
