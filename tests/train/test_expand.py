"""A grown model continues where the small one was: same loss, not a fresh model's."""

import pytest
import torch

from tests.helpers import tiny_config
from vidrop.config import ConfigError, load_config
from vidrop.data.views import normalize
from vidrop.methods import get_method
from vidrop.methods.meta_arch import ViDROP
from vidrop.train.checkpoint import load_checkpoint
from vidrop.train.expand import expand_run
from vidrop.train.loop import pretrain


def loss_on_fixed_batch(cfg, state=None) -> float:
    torch.manual_seed(0)
    model = ViDROP(cfg.model, cfg.head, cfg.loss)
    if state is not None:
        model.load_state_dict(state)
    model.train()
    v, g = cfg.views, torch.Generator().manual_seed(0)
    large = torch.randint(
        0, 256, (2, v.large_clips, 3, v.large_frames, v.large_size, v.large_size), generator=g
    )
    small = torch.randint(
        0, 256, (2, v.small_clips, 3, v.small_frames, v.small_size, v.small_size), generator=g
    )
    plan = get_method("vidrop").plan_spec(cfg, rank=0).draw(2 * v.large_clips, 0)
    with torch.no_grad():
        terms = model(
            normalize(large.to(torch.uint8)), normalize(small.to(torch.uint8)), plan, 0.05
        )
    return float(terms.loss)


@pytest.mark.slow
def test_grown_run_starts_at_the_small_models_loss(synth_data, tmp_path):
    small_cfg = tiny_config(synth_data["train"], "train.max_steps=3", "model.drop_path=0.0")
    pretrain(small_cfg, tmp_path / "small")
    out = expand_run(tmp_path / "small" / "checkpoint.pt", "vit_s", tmp_path / "big")
    big_cfg = load_config(str(out / "config.yaml"), [])
    assert (big_cfg.model.embed_dim, big_cfg.model.depth) == (384, 12)
    state = load_checkpoint(out / "checkpoint.pt")
    assert state["optimizer"] is None and state["step"] == 0

    small_loss = loss_on_fixed_batch(
        small_cfg, load_checkpoint(tmp_path / "small" / "checkpoint.pt")["model"]
    )
    grown_loss = loss_on_fixed_batch(big_cfg, state["model"])
    fresh_loss = loss_on_fixed_batch(big_cfg)
    assert abs(grown_loss - small_loss) < 1e-4 * abs(small_loss)
    assert abs(fresh_loss - small_loss) > 50 * abs(grown_loss - small_loss) + 1e-2

    result = pretrain(load_config(str(out / "config.yaml"), ["train.max_steps=1"]), out)
    assert result.step == 1  # trains on: fresh optimizer, the grown weights


@pytest.mark.slow
def test_a_lemon_stage_is_sized_to_itself_and_runs_to_its_end(synth_data, tmp_path):
    """The documented continuation: `expand --epochs N` scales the warmups with the stage, so
    the grown run trains its whole schedule; overriding optim.epochs alone names the fix."""
    small_cfg = tiny_config(synth_data["train"], "train.max_steps=2")
    pretrain(small_cfg, tmp_path / "small")
    ckpt = tmp_path / "small" / "checkpoint.pt"
    with pytest.raises(ConfigError, match=r"warmup_epochs=1 does not fit in optim.epochs=0.5"):
        expand_run(ckpt, "vit_s", tmp_path / "x", overrides=["optim.epochs=0.5"])
    out = expand_run(ckpt, "vit_s", tmp_path / "big", epochs=2)
    cfg = load_config(str(out / "config.yaml"), [])
    assert (cfg.optim.epochs, cfg.optim.warmup_epochs) == (2, 0.2)  # tiny_config: 10 and 1
    result = pretrain(cfg, out)
    assert result.step == 6  # 12 training videos / 4 a step = 3 steps a pass; to its end


def test_a_stage_recipe_brings_its_schedule_and_keeps_the_grown_model(synth_data, tmp_path):
    pretrain(tiny_config(synth_data["train"], "train.max_steps=1"), tmp_path / "small")
    out = expand_run(
        tmp_path / "small" / "checkpoint.pt",
        "vit_s",
        tmp_path / "b",
        recipe="lemon_b",
        overrides=["data.num_workers=0"],
    )
    cfg = load_config(str(out / "config.yaml"), [])
    assert (cfg.optim.epochs, cfg.optim.warmup_epochs, cfg.optim.total_batch) == (6, 0.6, 512)
    assert cfg.model.embed_dim == 384 and cfg.model.num_frames == 8  # grown, on the tiny grid
    assert cfg.head.prototypes == 64 and cfg.data.train == synth_data["train"]  # the checkpoint's
    assert cfg.views.large_size == 224  # the stage's views (the paper's)
