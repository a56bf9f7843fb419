import math

import numpy as np
import pytest

from vidrop.config import OptimConfig
from vidrop.train.schedules import build_schedules, cosine_schedule, scaled_lr


def test_cosine_with_warmup_and_freeze():
    s = cosine_schedule(1.0, 0.1, total_steps=20, warmup_steps=5, start_warmup=0.0, freeze_steps=3)
    assert len(s) == 20
    assert (s[:3] == 0).all()
    np.testing.assert_allclose(s[3:8], np.linspace(0, 1, 5))
    assert s[8] == pytest.approx(1.0)
    assert s[-1] == pytest.approx(0.1 + 0.45 * (1 + math.cos(math.pi * 11 / 12)))
    assert (np.diff(s[8:]) <= 1e-12).all()
    with pytest.raises(ValueError, match="exceed"):
        cosine_schedule(1, 0, 4, warmup_steps=5)


def test_dinov2_schedules():
    cfg = OptimConfig(epochs=10, warmup_epochs=2, warmup_teacher_temp_epochs=3, base_lr=0.004)
    s = build_schedules(cfg, epoch_length=10, global_batch=256)
    lr = 0.004 * math.sqrt(256 / 1024)
    assert s.at(0)["lr"] == 0.0 and s.at(20)["lr"] == pytest.approx(lr)
    assert s.at(9)["last_layer_lr"] == 0.0 and s.at(10)["last_layer_lr"] > 0  # frozen epoch 1
    assert s.at(0)["wd"] == pytest.approx(0.04) and s.at(99)["wd"] == pytest.approx(0.4, abs=1e-3)
    assert s.at(0)["momentum"] == pytest.approx(0.992) and s.at(99)["momentum"] > 0.9999
    assert s.at(0)["teacher_temp"] == pytest.approx(0.04)
    assert s.at(29)["teacher_temp"] == pytest.approx(0.07)
    assert s.at(50)["teacher_temp"] == pytest.approx(0.07)
    assert s.at(10_000) == {
        "lr": cfg.min_lr,
        "last_layer_lr": cfg.min_lr,
        "wd": 0.4,
        "momentum": 1.0,
        "teacher_temp": 0.07,
    }


def test_lr_scaling_rules():
    assert scaled_lr(OptimConfig(base_lr=0.004), 1024) == pytest.approx(0.004)
    assert scaled_lr(OptimConfig(base_lr=1e-3, lr_scaling="linear_wrt_256"), 512) == 2e-3
    assert scaled_lr(OptimConfig(base_lr=1e-3, lr_scaling="none"), 8) == 1e-3
