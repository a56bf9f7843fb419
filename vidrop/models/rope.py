"""3-D rotary position embeddings laid out as V-JEPA 2 does (`model.pos_embed=rope3d`).

Each attention head's dimensions are cut into three equal even parts, for the token's time,
height and width (2 * floor(head_dim / 6) dims each; the rest of the head is not rotated). A
part of D dims turns the neighbouring pairs (x[2i], x[2i+1]) of q and k, element by element:
x cos(pos w_j) + (-x[2i+1], x[2i]) sin(pos w_j), w_j = 10000^(-j / (D/2)), j = the element's
index mod D/2. V-JEPA 2 tiles its frequencies [w, w] over the part, so the two dims of a pair
turn at different rates and, unlike textbook RoPE, a logit is not a function of position
differences alone; its weights were trained with exactly this, so it is reproduced. Positions
are each token's own (t, h, w), so dropped tokens keep theirs; a CLS token is not rotated.
"""

from __future__ import annotations

import torch


def rope_part(head_dim: int) -> int:
    """Dims given to each of time, height and width."""
    return 2 * ((head_dim // 3) // 2)


def rope3d_tables(coords: torch.Tensor, head_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(..., N, 3) token positions -> (cos, sin), each (..., 1, N, head_dim) float32, the 1 for
    the heads; unrotated dims get cos 1 and sin 0."""
    part = rope_part(head_dim)
    j = torch.arange(part // 2, dtype=torch.float64, device=coords.device)
    omega = 1.0 / 10000 ** (j / (part / 2.0))
    freq = coords.to(torch.float64).unsqueeze(-1) * omega  # (..., N, 3, part/2)
    freq = torch.cat((freq, freq), dim=-1).flatten(-2)  # (..., N, 3 * part), [w, w] per part
    cos, sin = freq.cos(), freq.sin()
    rest = head_dim - 3 * part
    if rest:
        cos = torch.cat((cos, cos.new_ones(*cos.shape[:-1], rest)), dim=-1)
        sin = torch.cat((sin, sin.new_zeros(*sin.shape[:-1], rest)), dim=-1)
    return cos.float().unsqueeze(-3), sin.float().unsqueeze(-3)


def with_unrotated_prefix(
    tables: tuple[torch.Tensor, torch.Tensor], n: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Tables for `n` leading tokens that are not rotated (the CLS token) + the given ones."""
    cos, sin = tables
    ones = cos.new_ones(*cos.shape[:-2], n, cos.shape[-1])
    return torch.cat((ones, cos), dim=-2), torch.cat((torch.zeros_like(ones), sin), dim=-2)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate (B, heads, N, head_dim) queries or keys: x cos + (-x[2i+1], x[2i]) sin."""
    pairs = x.unflatten(-1, (-1, 2))
    turned = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
    return x * cos.to(x.dtype) + turned * sin.to(x.dtype)
