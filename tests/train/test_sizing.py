"""A run's size: the total batch and how it is reached, the schedule in passes and steps."""

import pytest

from vidrop.config import ConfigError, OptimConfig, load_config
from vidrop.train.schedules import build_schedules
from vidrop.train.sizing import accumulation, scale_schedule, size_run, steps_of


def test_the_total_batch_is_reached_by_accumulation_or_refused():
    o = OptimConfig(total_batch=512, batch_size=64)
    assert [accumulation(o, w) for w in (1, 2, 4, 8)] == [8, 4, 2, 1]
    with pytest.raises(ConfigError, match=r"not a multiple of 16 .*optim.batch_size=32"):
        accumulation(o, 16)
    with pytest.raises(ConfigError, match=r"optim.batch_size=8"):
        accumulation(OptimConfig(total_batch=24, batch_size=10), 1)
    assert accumulation(OptimConfig(accum_steps=3), 4) == 3  # no total batch: as given


def test_epochs_are_passes_over_the_videos():
    # the paper's ViT-B: 60 passes over 240,000 videos at 512 a step on 8 processes
    s = size_run(
        OptimConfig(total_batch=512, batch_size=64, epochs=60, warmup_epochs=6), 240_000, 8
    )
    assert (s.accum, s.total_batch, s.epoch_length) == (1, 512, 468)
    assert s.total_steps == 60 * 468
    text = s.describe()
    assert "total batch 512 = 8 process(es) x 1 accumulation x 64 videos" in text
    assert "28080 steps = 59.90 passes over 240000 videos" in text  # 468 full steps a pass
    assert "lr warmup 2808 steps" in text
    unknown = size_run(OptimConfig(total_batch=512, batch_size=64, epochs=60), None, 1)
    assert "60 x videos / 512 steps" in unknown.describe()
    with pytest.raises(ConfigError, match="fewer than one total batch"):
        size_run(OptimConfig(total_batch=512, batch_size=64), 100, 1)


def test_fractional_epochs_round_to_steps():
    assert steps_of(0.6, 468) == 281 and steps_of(6, 16) == 96
    s = build_schedules(
        OptimConfig(
            epochs=2.5,
            warmup_epochs=0.5,
            freeze_last_layer_epochs=0.25,
            warmup_teacher_temp_epochs=1,
        ),
        10,
        64,
    )
    assert len(s.lr) == 25 and s.lr[3] < s.lr[4] == max(s.lr)  # 5 warmup steps: 0 .. peak
    # 0.25 x 10 = 2.5 frozen steps round to 2 (Python rounds halves to even)
    assert (s.last_layer_lr[:2] == 0).all() and s.last_layer_lr[2] > 0


def test_scaled_schedule_keeps_each_share():
    o = scale_schedule(
        OptimConfig(
            epochs=100, warmup_epochs=10, warmup_teacher_temp_epochs=30, freeze_last_layer_epochs=1
        ),
        6,
    )
    assert (o.epochs, o.warmup_epochs, o.freeze_last_layer_epochs) == (6, 0.6, 0.06)
    assert o.warmup_teacher_temp_epochs == pytest.approx(1.8)


def test_a_warmup_longer_than_the_run_is_a_config_error_with_the_fix():
    with pytest.raises(ConfigError, match=r"warmup_epochs=6 does not fit in optim.epochs=4"):
        load_config("vit_b", ["optim.epochs=4"])
    with pytest.raises(ConfigError, match="total_batch or optim.accum_steps, not both"):
        load_config("vit_b", ["optim.accum_steps=2"])


@pytest.mark.parametrize(
    "recipe",
    ["paper", "vit_s", "vit_b", "vit_l", "vit_h", "lemon_s", "lemon_b", "lemon_l", "lemon_h"],
)
def test_paper_recipes_state_the_total_batch_and_passes(recipe):
    o = load_config(recipe).optim
    assert o.total_batch == 512 and o.epoch_length == 0  # epochs are passes over the data
    assert o.warmup_epochs == pytest.approx(0.1 * o.epochs)  # DINOv2's shares, of each run
    assert o.warmup_teacher_temp_epochs == pytest.approx(0.3 * o.epochs)
