import json

import numpy as np
import torch

from vidrop.data.manifest import read_manifest
from vidrop.data.video import read_frames
from vidrop.data.views import normalize
from vidrop.eval.snippets import extract_snippets
from vidrop.eval.views import EvalViews
from vidrop.models.vit import VideoViT, ViTConfig


def test_snippets_cover_the_video_every_step_frames(synth_data, tmp_path):
    manifest = read_manifest(synth_data["val"])
    manifest.entries = manifest.entries[:2]
    torch.manual_seed(0)
    model = VideoViT(ViTConfig(arch="vit_t", depth=1, num_frames=4, img_size=64)).eval()
    views = EvalViews(frames=4, size=64, stride=2)
    index = extract_snippets(model, manifest, views, tmp_path, step=3)
    path = manifest.paths[0]
    info = index["videos"][path]
    feats = np.load(tmp_path / info["file"])
    assert info["span"] == 7 and feats.shape == ((16 - 7) // 3 + 1, 192) == (info["snippets"], 192)
    frames = torch.from_numpy(read_frames(path, [6, 8, 10, 12]))  # snippet 2 starts at frame 6
    with torch.no_grad():
        direct = model.forward_features(normalize(frames.permute(3, 0, 1, 2)[None]))["cls"][0]
    torch.testing.assert_close(torch.from_numpy(feats[2]), direct, rtol=1e-4, atol=1e-4)
    assert json.loads((tmp_path / "index.json").read_text())["step"] == 3


def test_two_videos_with_one_file_name_are_refused(synth_data, tmp_path):
    import pytest

    from vidrop.data.manifest import Entry, ManifestError

    manifest = read_manifest(synth_data["val"])
    manifest.entries = [manifest.entries[0], Entry("/other/" + manifest.entries[0].path[-9:], "x")]
    model = VideoViT(ViTConfig(arch="vit_t", depth=1, num_frames=4, img_size=64))
    with pytest.raises(ManifestError, match="occur twice"):
        extract_snippets(model, manifest, EvalViews(4, 64, 2), tmp_path)
