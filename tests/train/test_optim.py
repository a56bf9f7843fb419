"""The schedules reach each optimizer group through its multipliers."""

import torch

from vidrop.train.optim import apply_schedule


def test_apply_schedule_sets_last_layer_separately():
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW(
        [
            {"params": [a], "lr_multiplier": 0.5, "wd_multiplier": 0.0, "is_last_layer": False},
            {"params": [b], "lr_multiplier": 1.0, "wd_multiplier": 1.0, "is_last_layer": True},
        ]
    )
    apply_schedule(opt, lr=1.0, last_layer_lr=0.0, wd=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.0]
    assert [g["weight_decay"] for g in opt.param_groups] == [0.0, 0.1]
