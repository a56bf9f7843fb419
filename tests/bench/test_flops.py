"""Counted FLOPs against a hand count of a tiny ViT (attention included, also on the CPU)."""

import torch

from vidrop.bench.flops import count_flops
from vidrop.models.vit import VideoViT, ViTConfig


def hand_count(batch: int, tokens: int, dim: int, depth: int, patch_in: int) -> dict[str, float]:
    """Multiply-adds x 2 of a ViT forward: patch embedding on the patches, then per block
    qkv (3D^2), projection (D^2) and MLP (8D^2) per token, and QK^T and AV (2 N^2 D)."""
    patches = tokens - 1  # the CLS token is not embedded
    return {
        "patch": 2 * batch * patches * patch_in * dim,
        "linear": 2 * depth * batch * tokens * 12 * dim * dim,
        "attention": 2 * depth * batch * 2 * tokens * tokens * dim,
    }


def test_forward_and_training_flops_match_a_hand_count():
    torch.manual_seed(0)
    model = VideoViT(ViTConfig(arch="vit_t", depth=2, num_frames=8, img_size=128))
    video = torch.randn(2, 3, 8, 128, 128)
    parts = hand_count(batch=2, tokens=257, dim=192, depth=2, patch_in=3 * 2 * 16 * 16)
    assert parts["attention"] / sum(parts.values()) > 0.12  # so an omitted attention fails
    forward, _ = count_flops(lambda: model(video))
    assert abs(forward / sum(parts.values()) - 1) < 0.05

    def step() -> None:
        out = model(video)
        (out["cls"].sum() + out["patch"].sum()).backward()

    # backward: two products per weight (input and weight gradients; the pixels need none) and
    # 2.5 forwards for attention (torch's count of its gradient)
    trained, _ = count_flops(step)
    want = 3 * parts["linear"] + 2 * parts["patch"] + 3.5 * parts["attention"]
    assert abs(trained / want - 1) < 0.05
