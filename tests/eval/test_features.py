from pathlib import Path

import torch

from tests.conftest import manifest_rows
from vidrop.data.video import probe, read_frames
from vidrop.data.views import normalize
from vidrop.eval.features import ClipSpec, extract_features
from vidrop.models.vit import VideoViT, ViTConfig


def test_extracted_feature_equals_a_direct_forward(synth_data):
    root = Path(synth_data["train"]).parent
    paths = [str(root / r["path"]) for r in manifest_rows(synth_data["train"])][:3]
    torch.manual_seed(0)
    model = VideoViT(ViTConfig(arch="vit_t", depth=2, num_frames=8, img_size=64)).eval()
    feats, ok = extract_features(
        model, paths, ClipSpec(frames=8, size=64, stride=2), "cls+mean", batch_size=2, num_workers=0
    )
    assert ok.all() and feats.shape == (3, 384)
    n = probe(paths[1]).frames
    start = (n - 15) // 2  # centred clip of 8 frames, stride 2
    frames = torch.from_numpy(read_frames(paths[1], list(range(start, start + 15, 2))))
    clip = normalize(frames.permute(3, 0, 1, 2)[None])  # 64x64 already: no resize or crop
    with torch.no_grad():
        out = model.forward_features(clip)
    direct = torch.cat((out["cls"], out["patch"].mean(1)), -1)[0]
    torch.testing.assert_close(feats[1], direct, rtol=1e-4, atol=1e-4)


def test_unreadable_video_is_flagged(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"nope")
    model = VideoViT(ViTConfig(arch="vit_t", depth=1, num_frames=4, img_size=32))
    _, ok = extract_features(model, [str(bad)], ClipSpec(4, 32, 1), num_workers=0)
    assert not ok.any()
