from pathlib import Path

import pytest
import torch

from tests.helpers import manifest_rows
from vidrop.data.manifest import read_manifest
from vidrop.data.video import probe, read_frames
from vidrop.data.views import normalize
from vidrop.eval.features import Features, extract_features
from vidrop.eval.views import EvalViews
from vidrop.models.vit import VideoViT, ViTConfig


def test_extracted_features_equal_a_direct_forward_of_each_view(synth_data, tmp_path):
    manifest = read_manifest(synth_data["train"])
    manifest.entries = manifest.entries[:3]
    torch.manual_seed(0)
    model = VideoViT(ViTConfig(arch="vit_t", depth=2, num_frames=4, img_size=64)).eval()
    views = EvalViews(frames=4, size=64, stride=2, clips=2)
    feats = extract_features(model, manifest, views, patch_tokens=True, batch_size=2, num_workers=0)
    assert (
        feats.ok.all() and feats.cls.shape == (3, 2, 192) and feats.patch.shape == (3, 2, 32, 192)
    )
    path = manifest.paths[1]
    n = probe(path).frames  # 16 frames, span 7: clips start at 0 and 9
    for view, start in enumerate((0, n - 7)):
        frames = torch.from_numpy(read_frames(path, list(range(start, start + 7, 2))))
        with torch.no_grad():
            out = model.forward_features(normalize(frames.permute(3, 0, 1, 2)[None]))
        torch.testing.assert_close(feats.cls[1, view], out["cls"][0], rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(
            feats.mean[1, view], out["patch"][0].mean(0), rtol=1e-4, atol=1e-4
        )
        gem = out["patch"][0].clamp(min=1e-6).pow(4).mean(0).pow(0.25)  # DINO's copy pooling
        torch.testing.assert_close(feats.gem[1, view], gem, rtol=1e-4, atol=1e-4)
    assert feats.labels == [r["label"] for r in manifest_rows(synth_data["train"])][:3]

    saved = Features.load(feats.save(tmp_path / "f.safetensors"))
    assert torch.equal(saved.cls, feats.cls) and torch.equal(saved.patch, feats.patch)
    assert torch.equal(saved.gem, feats.gem)
    assert saved.paths == feats.paths and saved.views == views and saved.labels == feats.labels


def test_unreadable_video_is_flagged(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"nope")
    (tmp_path / "m.csv").write_text("path,label\nbad.mp4,a\n")
    model = VideoViT(ViTConfig(arch="vit_t", depth=1, num_frames=4, img_size=32))
    feats = extract_features(
        model, read_manifest(tmp_path / "m.csv"), EvalViews(4, 32, 1), num_workers=0
    )
    assert not feats.ok.any()


def test_a_file_that_is_not_a_features_file_is_refused(tmp_path):
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(1)}, tmp_path / "other.safetensors")
    with pytest.raises(ValueError, match="not a vidrop features file"):
        Features.load(Path(tmp_path / "other.safetensors"))


def test_features_from_before_gem_pooling_say_to_extract_again(tmp_path):
    n = 2
    old = Features(
        cls=torch.randn(n, 1, 4),
        mean=torch.randn(n, 1, 4),
        patch=None,
        ok=torch.ones(n, dtype=torch.bool),
        short=torch.zeros(n, dtype=torch.bool),
        paths=["a.mp4", "b.mp4"],
        labels=["x", "y"],
        views=EvalViews(4, 32, 1),
    )
    loaded = Features.load(old.save(tmp_path / "old.safetensors"))
    assert loaded.gem is None and loaded.vector("cls").shape == (2, 1, 4)
    with pytest.raises(ValueError, match="extract them again"):
        loaded.vector("cls+gem")
