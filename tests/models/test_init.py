"""`train.init`: other weights move into every packaged recipe exactly, or the run stops naming
the key; nothing is dropped silently."""

from dataclasses import replace

import pytest
import torch

from vidrop.config import ConfigError, load_config
from vidrop.models.convert import ConversionError, convert_state
from vidrop.models.init import init_backbones
from vidrop.models.vit import VideoViT, ViTConfig

transformers = pytest.importorskip("transformers")  # in the [dev] extra: CI runs these

RECIPES = ["tiny", "paper", "vit_s", "vit_b", "vit_l", "vit_h"]


def videomae_folder(path, m: ViTConfig) -> None:
    """A one-block HF VideoMAE of the recipe's width and clip, with non-trivial q/v biases."""
    hf_cfg = transformers.VideoMAEConfig(
        image_size=m.img_size,
        patch_size=m.patch_size,
        num_frames=m.num_frames,
        tubelet_size=m.tubelet,
        hidden_size=m.embed_dim,
        num_hidden_layers=1,
        num_attention_heads=m.num_heads,
        intermediate_size=int(m.embed_dim * m.mlp_ratio),
        use_mean_pooling=False,
        layer_norm_eps=m.norm_eps,
    )
    torch.manual_seed(0)
    model = transformers.VideoMAEModel(hf_cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "bias" in name:
                p.add_(torch.randn_like(p) * 0.5)  # q/v biases that matter
    model.save_pretrained(path)
    return model


def tokens_without_cls(model: VideoViT, video: torch.Tensor) -> torch.Tensor:
    """The backbone's patch tokens as if it had no CLS token (VideoMAE's view of it)."""
    x = model.prepare_tokens(video)[:, 1:]
    for blk in model.blocks:
        x = blk(x)
    return model.norm(x)


@pytest.mark.parametrize("recipe", RECIPES)
@pytest.mark.parametrize("qkv_bias", ["recipe", "qkv"])
@torch.no_grad()
@pytest.mark.slow
def test_videomae_init_reproduces_the_source_in_every_recipe(tmp_path, recipe, qkv_bias):
    overrides = ["model.depth=1"] + ([f"model.qkv_bias={qkv_bias}"] * (qkv_bias != "recipe"))
    m = load_config(recipe, overrides).model.resolved()
    hf = videomae_folder(tmp_path / "hf", m)
    student, teacher = VideoViT(m), VideoViT(m)
    report = init_backbones(student, teacher, str(tmp_path / "hf"))
    assert report["format"] == "hf-videomae"
    assert report["added"][0].startswith("cls_token")
    assert any("qv bias -> qkv" in c for c in report["converted"]) == (m.qkv_bias == "qkv")
    video = torch.randn(1, 3, m.num_frames, m.img_size, m.img_size)
    want = hf(pixel_values=video.permute(0, 2, 1, 3, 4)).last_hidden_state
    for model in (student.eval(), teacher.eval()):
        got = tokens_without_cls(model, video)
        assert float((got - want).norm() / want.norm()) < 1e-5


def test_the_packaged_recipes_use_videomae_attention_biases():
    for recipe in RECIPES:
        assert load_config(recipe).model.qkv_bias == "qv", recipe


def small(**change) -> ViTConfig:
    base = ViTConfig(arch="vit_t", embed_dim=48, depth=2, num_heads=3, num_frames=4, img_size=32)
    return replace(base, **change)


def random_state(cfg: ViTConfig, seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    model = VideoViT(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "bias" in name or "gamma" in name:
                p.add_(torch.randn_like(p) * 0.3)
    return model.state_dict()


@pytest.mark.parametrize(
    ("src", "dst"),
    [
        (small(qkv_bias="qv"), small(qkv_bias="qkv")),
        (small(qkv_bias="qkv"), small(qkv_bias="qv")),  # the key bias: cancelled by softmax
        (small(qkv_bias="none"), small(qkv_bias="qkv")),
        (small(layerscale=0.1), small()),  # layer scale folded into the projections
        (small(num_frames=8, img_size=64), small()),  # another grid: positions resampled
    ],
)
@torch.no_grad()
def test_conversions_keep_the_function(src, dst):
    state = random_state(src)
    a = VideoViT(src).eval()
    a.load_state_dict(state)
    out, note = convert_state(state, src, dst, VideoViT(dst).state_dict())
    b = VideoViT(dst).eval()
    b.load_state_dict(out)  # strict: every key given
    assert note.converted
    # on the destination's clip (another grid: the source resamples its positions the same way)
    video = torch.randn(2, 3, dst.num_frames, dst.img_size, dst.img_size)
    torch.testing.assert_close(b(video), a(video), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    ("src", "dst", "key"),
    [
        (small(qkv_bias="qv"), small(qkv_bias="none"), r"blocks.0.attn.q bias is non-zero"),
        (small(), small(layerscale=1e-5), "ls1.gamma"),
        (small(), small(cls_token=False), "cls_token"),
        (small(final_norm=True), small(final_norm=False), "norm.weight"),
        (small(), small(embed_dim=96, num_heads=6), "model.embed_dim"),
        (small(), small(pos_embed="rope3d"), "model.pos_embed differs"),
    ],
)
def test_what_cannot_move_exactly_is_refused_by_name(src, dst, key):
    with pytest.raises(ConversionError, match=key):
        convert_state(random_state(src), src, dst, VideoViT(dst).state_dict())


def test_a_refused_init_stops_the_run_naming_the_key(tmp_path):
    src = small(qkv_bias="qv", cls_token=False)
    torch.manual_seed(0)
    from vidrop.models.export import save_backbone

    save_backbone(tmp_path / "w", VideoViT(src))
    dst = small(layerscale=1e-5)
    with pytest.raises(ConfigError, match=r"train.init=.*ls1.gamma.*model.layerscale=0"):
        init_backbones(VideoViT(dst), VideoViT(dst), str(tmp_path / "w"))
