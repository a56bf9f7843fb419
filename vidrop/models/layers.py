"""Small transformer building blocks: layer norm, attention (SDPA), MLP, layer scale, drop path,
block."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from vidrop.models.rope import apply_rope

Rope = tuple[torch.Tensor, torch.Tensor]  # (cos, sin) of rotary positions, vidrop.models.rope

# train.attention names -> SDPA kernels; "auto" leaves torch's own order, which recent torch
# versions already make the fastest for our shapes (docs/experiments/2026-11-26-h200-leases.md)
ATTENTION_BACKENDS: dict[str, SDPBackend | None] = {
    "auto": None,
    "cudnn": SDPBackend.CUDNN_ATTENTION,
    "flash": SDPBackend.FLASH_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
    "math": SDPBackend.MATH,
}


def attention_backend(name: str) -> AbstractContextManager:
    """Try the named SDPA kernel first, the others after it where it cannot run (a CPU has no
    cuDNN attention): for cards and torch versions whose default order is not the fastest. The
    choice is made at forward time and the backward follows it."""
    if name not in ATTENTION_BACKENDS:
        raise ValueError(f"unknown attention backend {name!r}; one of {list(ATTENTION_BACKENDS)}")
    first = ATTENTION_BACKENDS[name]
    if first is None:
        return nullcontext()
    order = [first, *(b for b in ATTENTION_BACKENDS.values() if b is not None and b != first)]
    return sdpa_kernel(order, set_priority=True)


class LayerNorm(nn.LayerNorm):
    """nn.LayerNorm that keeps a bf16/fp16 input in its dtype under autocast.

    Autocast runs layer_norm in fp32, so every norm of a bf16 residual stream cost two extra
    copies (cast up, and the next matmul casting down), a sizeable share of a bf16 step.
    The CUDA kernel accumulates its statistics in fp32 either way; only the output rounding moves,
    and the next matmul rounds to bf16 anyway. fp32 inputs take the plain path (same numbers)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.float32 or not torch.is_autocast_enabled(x.device.type):
            return super().forward(x)
        with torch.autocast(x.device.type, enabled=False):
            w = None if self.weight is None else self.weight.to(x.dtype)
            b = None if self.bias is None else self.bias.to(x.dtype)
            return F.layer_norm(x, self.normalized_shape, w, b, self.eps)


class Attention(nn.Module):
    """Multi-head self-attention through scaled_dot_product_attention (flash/memory-efficient).

    qkv_bias: "qkv" (one bias for q, k and v), "qv" (VideoMAE's learned q and v biases, k bias
    fixed at zero, so VideoMAE weights load unchanged), or "none".
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: str = "qkv") -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"embed dim {dim} is not divisible by {num_heads} heads")
        if qkv_bias not in ("qkv", "qv", "none"):
            raise ValueError(f"qkv_bias must be 'qkv', 'qv' or 'none', got {qkv_bias!r}")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias == "qkv")
        self.q_bias: nn.Parameter | None = None
        self.v_bias: nn.Parameter | None = None
        if qkv_bias == "qv":
            self.q_bias = nn.Parameter(torch.zeros(dim))
            self.v_bias = nn.Parameter(torch.zeros(dim))
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, rope: Rope | None = None) -> torch.Tensor:
        """x (B, N, D); `rope`: (cos, sin) tables of rotary positions for q and k."""
        b, n, d = x.shape
        bias: torch.Tensor | None = self.qkv.bias
        if self.q_bias is not None and self.v_bias is not None:
            bias = torch.cat((self.q_bias, torch.zeros_like(self.q_bias), self.v_bias))
        qkv = F.linear(x, self.qkv.weight, bias)
        q, k, v = qkv.view(b, n, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        x = F.scaled_dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class LayerScale(nn.Module):
    """Per-channel residual scale (CaiT/DINOv2); named `gamma` so weight decay skips it."""

    def __init__(self, dim: int, init: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


def drop_path(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Stochastic depth: zero the residual branch of whole samples with probability p."""
    if p == 0.0 or not training:
        return x
    keep = torch.empty(x.shape[0], *([1] * (x.dim() - 1)), device=x.device, dtype=x.dtype)
    return x * keep.bernoulli_(1.0 - p) / (1.0 - p)


class Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: str = "qkv",
        drop_path: float = 0.0,
        layerscale: float = 0.0,
        norm_eps: float = 1e-6,
    ) -> None:
        super().__init__()
        self.norm1 = LayerNorm(dim, eps=norm_eps)
        self.attn = Attention(dim, num_heads, qkv_bias)
        self.norm2 = LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.ls1 = LayerScale(dim, layerscale) if layerscale > 0 else nn.Identity()
        self.ls2 = LayerScale(dim, layerscale) if layerscale > 0 else nn.Identity()
        self.drop_path = drop_path

    def forward(self, x: torch.Tensor, rope: Rope | None = None) -> torch.Tensor:
        x = x + drop_path(self.ls1(self.attn(self.norm1(x), rope)), self.drop_path, self.training)
        x = x + drop_path(self.ls2(self.mlp(self.norm2(x))), self.drop_path, self.training)
        return x
