"""V-JEPA 2 (transformers' VJEPA2Model) in and out: a random tiny model saved with
save_pretrained must give transformers' encoder outputs through load_backbone, also on dropped
tokens, and an export must reload in transformers to the same outputs."""

import json

import pytest
import torch

from vidrop.models.load import load_backbone

transformers = pytest.importorskip("transformers")


def tiny_vjepa2(folder, qkv_bias: bool = True):
    """A random VJEPA2Model (64-dim, 2 layers, 4 heads of 16 dims: parts of 4 dims, 4 left)
    on 4x32x32 clips, saved as transformers saves it."""
    torch.manual_seed(0)
    cfg = transformers.VJEPA2Config(
        patch_size=16,
        crop_size=32,
        frames_per_clip=4,
        tubelet_size=2,
        hidden_size=64,
        num_attention_heads=4,
        num_hidden_layers=2,
        qkv_bias=qkv_bias,
        pred_hidden_size=32,
        pred_num_attention_heads=2,
        pred_num_hidden_layers=1,
        num_pooler_layers=1,
    )
    model = transformers.VJEPA2Model(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():  # every bias and norm away from its init value
            p.add_(0.05 * torch.randn_like(p))
    model.save_pretrained(folder)
    return model


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


@pytest.mark.parametrize("qkv_bias", [True, False])
def test_load_backbone_gives_transformers_encoder_outputs(tmp_path, qkv_bias):
    theirs = tiny_vjepa2(tmp_path / "hf", qkv_bias)
    ours, meta = load_backbone(tmp_path / "hf", with_meta=True)
    assert meta["format"] == "hf-vjepa2" and ours.cfg.pos_embed == "rope3d"
    assert ours.cls_token is None and ours.pos_embed is None
    assert any(p.startswith("predictor") for p in meta["ignored"])
    video = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        want = theirs.get_vision_features(video.transpose(1, 2))  # HF: (B, T, C, H, W)
        got = ours.forward_features(video)["patch"]
    assert _rel(got, want) < 1e-5


def test_dropped_tokens_match_transformers_layers_on_the_kept_tokens(tmp_path):
    """transformers' encoder has no token dropping, but its layers take each token's position
    id: its embeddings, the kept tokens, its layers with their ids, its final norm."""
    theirs = tiny_vjepa2(tmp_path / "hf")
    ours = load_backbone(tmp_path / "hf")
    video = torch.randn(2, 3, 4, 32, 32)
    keep = torch.tensor([[0, 3, 5, 6], [1, 2, 4, 7]])  # 4 of the 2x2x2 tokens, per clip
    with torch.no_grad():
        x = theirs.encoder.embeddings(video.transpose(1, 2))
        x = x.gather(1, keep[..., None].expand(-1, -1, x.shape[-1]))
        for layer in theirs.encoder.layer:
            x = layer(x, keep)[0]
        want = theirs.encoder.layernorm(x)
        got = ours.forward_features(video, keep)["patch"]
    assert _rel(got, want) < 1e-5


def test_export_reloads_in_transformers_with_the_same_outputs(tmp_path):
    from vidrop.cli import main

    tiny_vjepa2(tmp_path / "hf")
    assert (
        main(
            [
                "export",
                "--checkpoint",
                str(tmp_path / "hf"),
                "--format",
                "hf-vjepa2",
                "--out",
                str(tmp_path / "back"),
            ]
        )
        == 0
    )
    config = json.loads((tmp_path / "back" / "config.json").read_text())
    assert config["model_type"] == "vjepa2" and config["crop_size"] == 32
    again = transformers.VJEPA2Model.from_pretrained(tmp_path / "back").eval()
    ours = load_backbone(tmp_path / "hf")
    video = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        got = again.get_vision_features(video.transpose(1, 2))
        want = ours.forward_features(video)["patch"]
    assert _rel(got, want) < 1e-5
    # with a CLS token (a ViDROP run from V-JEPA 2) the export is refused before writing
    with_cls = load_backbone(tmp_path / "hf", cls_token=True)
    from vidrop.models.export import ExportError, export_hf_vjepa2

    with pytest.raises(ExportError, match="it has a CLS token"):
        export_hf_vjepa2(with_cls, tmp_path / "refused")
    assert not (tmp_path / "refused").exists()


def test_a_vidrop_run_starts_from_v_jepa_2(tmp_path, synth_data):
    """The tiny recipe's ViT (192 wide, 4 layers, 3 heads, 8x64x64) saved as V-JEPA 2, then three
    ViDROP steps from it: rotary positions, the CLS token added as DINOv2 initialises it."""
    from tests.helpers import tiny_config
    from vidrop.train.loop import pretrain

    torch.manual_seed(0)
    hf = transformers.VJEPA2Config(
        patch_size=16,
        crop_size=64,
        frames_per_clip=8,
        tubelet_size=2,
        hidden_size=192,
        num_attention_heads=3,
        num_hidden_layers=4,
        pred_hidden_size=32,
        pred_num_attention_heads=2,
        pred_num_hidden_layers=1,
        num_pooler_layers=1,
    )
    transformers.VJEPA2Model(hf).save_pretrained(tmp_path / "vjepa2")
    cfg = tiny_config(
        synth_data["train"],
        f"train.init={tmp_path / 'vjepa2'}",
        "model.pos_embed=rope3d",
        "model.qkv_bias=qkv",
        "train.max_steps=3",
    )
    run = pretrain(cfg, tmp_path / "run")
    init = json.loads((tmp_path / "run" / "init.json").read_text())
    assert init["format"] == "hf-vjepa2" and any("cls_token" in a for a in init["added"])
    losses = [json.loads(line)["loss"] for line in run.metrics.read_text().splitlines()]
    assert run.step == 3 and all(torch.isfinite(torch.tensor(losses)))
    exported = load_backbone(run.export)
    assert exported.cfg.pos_embed == "rope3d" and exported.cls_token is not None
