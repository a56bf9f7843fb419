import json

import pytest
import torch

from tests.helpers import tiny_export
from vidrop.models.export import save_backbone
from vidrop.models.load import load_backbone
from vidrop.models.vit import VideoViT, ViTConfig


def test_export_round_trip(tmp_path):
    torch.manual_seed(0)
    m = VideoViT(ViTConfig(arch="vit_t", depth=2, num_frames=8, img_size=64, qkv_bias="qv")).eval()
    save_backbone(tmp_path / "export", m, {"eval": {"frames": 8, "size": 64, "stride": 2}})
    assert (tmp_path / "export" / "backbone.safetensors").is_file()
    loaded, meta = load_backbone(tmp_path / "export", with_meta=True)
    assert meta["eval"]["stride"] == 2
    x = torch.randn(1, 3, 8, 64, 64)
    torch.testing.assert_close(loaded(x), m(x))  # dicts of cls and patch tokens


def test_load_backbone_returns_the_model_as_the_readme_shows(tmp_path):
    import vidrop

    tiny_export(tmp_path / "export")
    backbone = vidrop.load_backbone(tmp_path / "export")  # what the README shows
    out = backbone.forward_features(torch.randn(2, 3, 8, 64, 64))
    assert out["cls"].shape == (2, 192) and out["patch"].shape == (2, 64, 192)
    assert backbone.meta["eval"]["stride"] == 2 and not backbone.training


def test_export_mismatch_is_reported(tmp_path):
    m = VideoViT(ViTConfig(arch="vit_t", depth=2, num_frames=8, img_size=64))
    save_backbone(tmp_path, m)
    meta = json.loads((tmp_path / "backbone.json").read_text())
    meta["model"]["depth"] = 3
    (tmp_path / "backbone.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="does not match"):
        load_backbone(tmp_path)
    with pytest.raises(FileNotFoundError, match="backbone.json"):
        load_backbone(tmp_path / "nowhere")
