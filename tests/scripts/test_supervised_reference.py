import torch

from tests.helpers import load_script
from vidrop.models.load import load_backbone
from vidrop.models.vit import VideoViT


def test_learns_the_labels_from_the_demo_init_and_exports(synth_data, tmp_path):
    """It starts from the demo's seed-0 init, the loss falls well below chance on 24 videos, the
    export loads and holds the trained weights, and the same seed gives the same weights."""
    module = load_script("supervised_reference")
    argv = ["--train", synth_data["train"], "--steps", "60", "--batch", "8", "model.depth=1"]
    losses = module.main([*argv, "--out", str(tmp_path / "a")])
    assert len(losses) == 60
    assert losses[0] > 2.0  # before the first update: about ln(12) = 2.48
    assert sum(losses[-10:]) / 10 < 1.5
    trained, meta = load_backbone(tmp_path / "a", with_meta=True)
    assert meta["supervised_reference"]["steps"] == 60
    torch.manual_seed(0)
    init = VideoViT(trained.cfg)
    assert not torch.equal(trained.blocks[0].attn.qkv.weight, init.blocks[0].attn.qkv.weight)
    module.main([*argv, "--out", str(tmp_path / "b")])
    again, _ = load_backbone(tmp_path / "b", with_meta=True)
    other = again.state_dict()
    for name, value in trained.state_dict().items():
        assert torch.equal(value, other[name]), name
