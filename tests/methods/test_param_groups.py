"""DINOv2's optimizer groups of the ViDROP student."""

import pytest

from vidrop.config import HeadConfig
from vidrop.methods.meta_arch import build_student
from vidrop.methods.param_groups import layerwise_groups
from vidrop.models.vit import ViTConfig


@pytest.mark.parametrize("qkv_bias", ["qkv", "qv"])
def test_layerwise_decay_patch_embed_mult_and_weight_decay_exclusions(qkv_bias):
    student = build_student(
        ViTConfig(arch="vit_t", depth=2, num_frames=4, img_size=32, qkv_bias=qkv_bias),
        HeadConfig(prototypes=8, patch_prototypes=8, hidden_dim=16, bottleneck_dim=8),
    )
    groups = layerwise_groups(student, layerwise_decay=0.5, patch_embed_lr_mult=0.2)
    where = {id(p): g for g in groups for p in g["params"]}
    named = dict(student.named_parameters())

    def group(name):
        return where[id(named[name])]

    assert group("backbone.patch_embed.proj.weight")["lr_multiplier"] == pytest.approx(0.5**3 * 0.2)
    assert group("backbone.pos_embed")["lr_multiplier"] == pytest.approx(0.5**3)
    assert group("backbone.blocks.0.attn.qkv.weight")["lr_multiplier"] == pytest.approx(0.5**2)
    assert group("backbone.blocks.1.mlp.fc1.weight")["lr_multiplier"] == pytest.approx(0.5)
    assert group("backbone.norm.weight")["lr_multiplier"] == 1.0
    assert group("dino_head.mlp.0.weight")["lr_multiplier"] == 1.0
    biases = ["qkv.bias"] if qkv_bias == "qkv" else ["q_bias", "v_bias"]
    for bias in biases:
        assert group(f"backbone.blocks.0.attn.{bias}")["wd_multiplier"] == 0.0
    assert group("backbone.blocks.0.norm1.weight")["wd_multiplier"] == 0.0
    assert group("backbone.blocks.0.attn.qkv.weight")["wd_multiplier"] == 1.0
    assert group("dino_head.last_layer.weight_v")["is_last_layer"]
    assert sum(len(g["params"]) for g in groups) == len(named)
