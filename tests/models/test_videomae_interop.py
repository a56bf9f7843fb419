"""Numerical equivalence with HF transformers' VideoMAE (random tiny configs, built offline),
the original VideoMAE checkpoint layout, and safe loading."""

import argparse
import os

import pytest
import torch

from vidrop.models.export import export_hf_videomae
from vidrop.models.formats.videomae import sinusoid_table
from vidrop.models.load import load_backbone
from vidrop.models.safe_load import CheckpointError

transformers = pytest.importorskip("transformers")  # in the [dev] extra: CI runs these


def tiny_hf(qkv_bias: bool, mean_pool: bool, seed: int = 0, eps: float = 1e-12):
    torch.manual_seed(seed)
    cfg = transformers.VideoMAEConfig(
        image_size=32,
        patch_size=16,
        num_channels=3,
        num_frames=4,
        tubelet_size=2,
        hidden_size=48,
        num_hidden_layers=2,
        num_attention_heads=3,
        intermediate_size=96,
        qkv_bias=qkv_bias,
        use_mean_pooling=mean_pool,
        layer_norm_eps=eps,
    )
    model = transformers.VideoMAEModel(cfg).eval()
    with torch.no_grad():  # make biases and norms non-trivial, so a wrong map cannot pass
        for name, p in model.named_parameters():
            if "bias" in name or "layernorm" in name:
                p.add_(torch.randn_like(p) * 0.1)
    return model


def hf_tokens(model, video: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(pixel_values=video.permute(0, 2, 1, 3, 4)).last_hidden_state


VIDEO = torch.randn(2, 3, 4, 32, 32, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("qkv_bias", [True, False])
@pytest.mark.parametrize("mean_pool", [True, False])
def test_patch_tokens_equal_hf_videomae(tmp_path, qkv_bias, mean_pool):
    hf = tiny_hf(qkv_bias, mean_pool)
    hf.save_pretrained(tmp_path)
    ours, meta = load_backbone(tmp_path, with_meta=True)
    assert meta["format"] == "hf-videomae" and ours.cls_token is None
    got = ours.forward_features(VIDEO)["patch"]
    torch.testing.assert_close(got, hf_tokens(hf, VIDEO), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("qkv_bias", [True, False])
def test_export_to_hf_and_back_gives_the_same_outputs(tmp_path, qkv_bias):
    hf = tiny_hf(qkv_bias, mean_pool=False)
    hf.save_pretrained(tmp_path / "src")
    ours, _ = load_backbone(tmp_path / "src", with_meta=True)
    export_hf_videomae(ours, tmp_path / "out")
    again = transformers.VideoMAEModel.from_pretrained(tmp_path / "out").eval()
    torch.testing.assert_close(hf_tokens(again, VIDEO), hf_tokens(hf, VIDEO), atol=1e-5, rtol=0)


def original_layout(hf) -> dict[str, torch.Tensor]:
    """The MCG-NJU pretraining checkpoint layout, built from HF weights by the documented map."""
    sd, out = hf.state_dict(), {}
    out["encoder.patch_embed.proj.weight"] = sd["embeddings.patch_embeddings.projection.weight"]
    out["encoder.patch_embed.proj.bias"] = sd["embeddings.patch_embeddings.projection.bias"]
    for i in range(hf.config.num_hidden_layers):
        h, o = f"encoder.layer.{i}.", f"encoder.blocks.{i}."
        a = f"{h}attention.attention."
        out[f"{o}attn.qkv.weight"] = torch.cat(
            [sd[f"{a}{n}.weight"] for n in ("query", "key", "value")]
        )
        out[f"{o}attn.q_bias"], out[f"{o}attn.v_bias"] = sd[f"{a}query.bias"], sd[f"{a}value.bias"]
        pairs = [
            ("norm1", "layernorm_before"),
            ("norm2", "layernorm_after"),
            ("attn.proj", "attention.output.dense"),
            ("mlp.fc1", "intermediate.dense"),
            ("mlp.fc2", "output.dense"),
        ]
        for ours, theirs in pairs:
            for p in ("weight", "bias"):
                out[f"{o}{ours}.{p}"] = sd[f"{h}{theirs}.{p}"]
    if "layernorm.weight" in sd:  # absent with use_mean_pooling (VideoMAE's fine-tuned models)
        out["encoder.norm.weight"] = sd["layernorm.weight"]
        out["encoder.norm.bias"] = sd["layernorm.bias"]
    out["decoder.blocks.0.mlp.fc1.weight"] = torch.zeros(4, 4)  # a decoder: ignored
    return out


def test_original_videomae_checkpoint_loads_to_the_same_outputs(tmp_path):
    hf = tiny_hf(qkv_bias=True, mean_pool=False, eps=1e-6)  # the original code's LayerNorm eps
    path = tmp_path / "checkpoint-799.pth"
    args = argparse.Namespace(model="pretrain_videomae_tiny", num_frames=4)
    torch.save({"model": original_layout(hf), "args": args, "epoch": 799}, path)
    ours, meta = load_backbone(
        path, with_meta=True
    )  # frames and size are not in the weights: 16 x 224
    assert meta["format"] == "videomae" and ours.cfg.num_frames == 16
    assert (ours.cfg.embed_dim, ours.cfg.depth, ours.cfg.qkv_bias) == (48, 2, "qv")
    ours, _ = load_backbone(path, num_frames=4, img_size=32, num_heads=3, with_meta=True)
    want = hf_tokens(hf.eval(), VIDEO)
    torch.testing.assert_close(ours.forward_features(VIDEO)["patch"], want, atol=1e-5, rtol=1e-5)


def test_cls_token_is_added_for_vidrop_training(tmp_path):
    tiny_hf(True, False).save_pretrained(tmp_path)
    ours, meta = load_backbone(tmp_path, cls_token=True, with_meta=True)
    assert meta["added"] == ["cls_token"] and ours.cls_token is not None
    out = ours.forward_features(VIDEO)
    assert out["cls"].shape == (2, 48) and out["patch"].shape == (2, 8, 48)


def test_export_refuses_what_videomae_cannot_hold_and_writes_nothing(tmp_path):
    from vidrop.models.export import ExportError
    from vidrop.models.vit import VideoViT, ViTConfig

    m = VideoViT(ViTConfig(arch="vit_t", depth=1, num_frames=4, img_size=32, qkv_bias="qv"))
    with pytest.raises(ExportError, match="CLS token.*learned"):
        export_hf_videomae(m, tmp_path / "x")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("layerscale", [0.0, 0.3])
def test_a_qkv_bias_and_layer_scale_export_exactly(tmp_path, layerscale):
    """A CLS-less backbone with a key bias and layer scale: the key bias is dropped (softmax
    cancels it) and the gains fold into the projections; transformers gives our outputs."""
    from vidrop.models.formats.videomae import sinusoid_table
    from vidrop.models.vit import VideoViT, ViTConfig

    cfg = ViTConfig(
        arch="vit_t",
        embed_dim=48,
        depth=2,
        num_heads=3,
        num_frames=4,
        img_size=32,
        qkv_bias="qkv",
        cls_token=False,
        layerscale=layerscale,
    )
    torch.manual_seed(0)
    m = VideoViT(cfg).eval()
    with torch.no_grad():
        m.pos_embed.copy_(sinusoid_table(m.grid.numel, 48))
        for name, p in m.named_parameters():
            if "bias" in name or "gamma" in name:
                p.add_(torch.randn_like(p) * 0.2)  # a key bias that matters if mishandled
    export_hf_videomae(m, tmp_path / "x", {"frames": 4, "size": 32, "stride": 3})
    back = transformers.VideoMAEModel.from_pretrained(tmp_path / "x").eval()
    want = m(VIDEO)["patch"]
    torch.testing.assert_close(hf_tokens(back, VIDEO), want, atol=1e-5, rtol=1e-5)
    again, meta = load_backbone(tmp_path / "x", with_meta=True)
    assert meta["eval"] == {"frames": 4, "size": 32, "stride": 3}  # the views travel along
    torch.testing.assert_close(again(VIDEO)["patch"], want, atol=1e-5, rtol=1e-5)


def test_decoder_is_reported_and_an_unknown_tensor_refused(tmp_path):
    hf = tiny_hf(qkv_bias=True, mean_pool=False, eps=1e-6)
    sd = original_layout(hf)
    torch.save({"model": sd}, tmp_path / "ok.pth")
    _, meta = load_backbone(
        tmp_path / "ok.pth", num_frames=4, img_size=32, num_heads=3, with_meta=True
    )
    assert meta["ignored"] == ["decoder (1 tensors)"]
    sd["encoder.rel_pos"] = torch.zeros(2)
    torch.save({"model": sd}, tmp_path / "odd.pth")
    with pytest.raises(CheckpointError, match=r"does not know where.*'encoder.rel_pos'"):
        load_backbone(tmp_path / "odd.pth", num_frames=4, img_size=32, num_heads=3)
    del sd["encoder.rel_pos"]
    sd["encoder.blocks.0.attn.relative_position_bias_table"] = torch.zeros(3, 3)
    torch.save({"model": sd}, tmp_path / "odd.pth")
    with pytest.raises(CheckpointError, match="unexpected keys.*relative_position_bias_table"):
        load_backbone(tmp_path / "odd.pth", num_frames=4, img_size=32, num_heads=3)


def test_hf_pretraining_model_decoder_is_reported(tmp_path):
    cfg = transformers.VideoMAEConfig(
        image_size=32,
        patch_size=16,
        num_frames=4,
        tubelet_size=2,
        hidden_size=48,
        num_hidden_layers=2,
        num_attention_heads=3,
        intermediate_size=96,
        use_mean_pooling=False,
        decoder_hidden_size=24,
        decoder_num_hidden_layers=1,
        decoder_num_attention_heads=3,
        decoder_intermediate_size=48,
    )
    transformers.VideoMAEForPreTraining(cfg).save_pretrained(tmp_path)
    _, meta = load_backbone(tmp_path, with_meta=True)
    assert [i.split(" ")[0] for i in meta["ignored"]] == [
        "decoder",
        "encoder_to_decoder",
        "mask_token",
    ]


def test_sinusoid_table_matches_the_published_formula():
    t = sinusoid_table(5, 6)[0]
    import math

    for pos in range(5):
        for j in range(6):
            angle = pos / 10000 ** (2 * (j // 2) / 6)
            want = math.sin(angle) if j % 2 == 0 else math.cos(angle)
            assert abs(float(t[pos, j]) - want) < 1e-6


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_code_executing_checkpoint_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"model": {"w": torch.zeros(1)}, "payload": Evil(marker)}, path)
    with pytest.raises(CheckpointError, match="refused.*could run code"):
        load_backbone(path)
    assert not marker.exists()


def test_truncated_and_mismatched_checkpoints_get_clear_errors(tmp_path):
    hf = tiny_hf(True, False, eps=1e-6)
    sd = original_layout(hf)
    path = tmp_path / "ok.pth"
    torch.save({"model": sd}, path)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="cannot be read.*complete"):
        load_backbone(cut)
    sd["encoder.blocks.1.attn.proj.weight"] = torch.zeros(48, 7)
    torch.save({"model": sd}, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match=r"blocks.1.attn.proj.weight has shape \(48, 7\)"):
        load_backbone(tmp_path / "bad.pth")


def test_original_finetuning_layout_loads_to_the_same_tokens(tmp_path):
    hf = tiny_hf(qkv_bias=True, mean_pool=True, eps=1e-6)  # no final token norm, as fine-tuned
    sd = {k.removeprefix("encoder."): v for k, v in original_layout(hf).items()}
    sd["fc_norm.weight"], sd["fc_norm.bias"] = torch.ones(48), torch.zeros(48)
    sd["head.weight"], sd["head.bias"] = torch.zeros(400, 48), torch.zeros(400)
    torch.save({"module": sd}, tmp_path / "finetuned.pth")
    import vidrop

    ours = vidrop.load_backbone(tmp_path / "finetuned.pth", num_frames=4, img_size=32, num_heads=3)
    meta = ours.meta
    assert meta["format"] == "videomae" and not ours.cfg.final_norm
    want = hf_tokens(hf, VIDEO)
    torch.testing.assert_close(ours.forward_features(VIDEO)["patch"], want, atol=1e-5, rtol=1e-5)
