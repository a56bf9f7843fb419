"""End-to-end pretraining runs on the tiny recipe (CPU, seconds each)."""

import logging
import math
from pathlib import Path

import pytest
import torch

from tests.helpers import manifest_rows, tiny_config
from vidrop.config import ConfigError, load_config
from vidrop.data.manifest import ManifestError
from vidrop.tokens import num_kept
from vidrop.train.checkpoint import load_checkpoint
from vidrop.train.loop import Trainer, pretrain
from vidrop.train.metrics import read_metrics


@pytest.mark.slow
def test_fifty_steps_lower_the_loss_without_collapse(synth_data, tmp_path):
    cfg = tiny_config(
        synth_data["train"],
        "optim.epochs=17",  # 12 videos / batch 4 = 3 steps per epoch -> 51 scheduled steps
        "train.max_steps=50",
        "optim.warmup_teacher_temp=0.07",  # fixed targets' temperature: losses comparable over time
    )
    result = pretrain(cfg, tmp_path / "run")
    rows = read_metrics(result.metrics)
    assert [r["step"] for r in rows] == list(range(1, 51))
    first = sum(r["loss"] for r in rows[:10]) / 10
    last = sum(r["loss"] for r in rows[-10:]) / 10
    assert last < first - 0.05, (first, last)
    end = rows[-1]
    log_k = math.log(64)
    assert 0.05 * log_k < end["teacher_entropy"] < 0.98 * log_k  # neither one-hot nor uniform
    assert end["teacher_usage"] > 0.5 * log_k  # many prototypes in use, not one constant
    assert end["cls_std"] > 0.02  # features not collapsed to a point (1/sqrt(192) = 0.072)
    for key in (
        "dino_global_loss",
        "dino_local_loss",
        "ibot_loss",
        "koleo_loss",
        "lr",
        "wd",
        "momentum",
        "teacher_temp",
        "student_tokens",
        "masked_tokens",
        "teacher_tokens",
        "clips_per_s",
    ):
        assert key in end, key
    kept = num_kept(64, cfg.mask.drop_ratio)  # 8x64x64 clips: 4x4x4 tokens
    assert end["teacher_tokens"] == 2 * 4 * (64 + 1)
    assert end["student_tokens"] == 2 * 4 * (kept + 1) + 2 * 4 * (8 + 1)  # + 2 small clips x 4
    assert 0 < end["masked_tokens"] <= 2 * 4 * kept
    assert (tmp_path / "run" / "export" / "backbone.safetensors").is_file()
    assert (tmp_path / "run" / "config.yaml").is_file()


def state_of(run: Path) -> dict:
    return load_checkpoint(run / "checkpoint.pt")


@pytest.mark.parametrize(
    ("acc", "accum"),
    [("optim.accum_steps=1", 1), ("optim.accum_steps=2", 2), ("optim.total_batch=8", 2)],
)
def test_resume_continues_with_the_same_state(synth_data, tmp_path, acc, accum):
    """6 steps straight == 3 steps, stop, restart on the folder for 3 more: bit for bit (also
    with 2 micro-batches per step, given directly or as a total batch of 8 at batch_size 4: the
    sampler resumes at the right micro-batch)."""
    cfg = tiny_config(synth_data["train"], "train.max_steps=6", "train.checkpoint_every=3", acc)
    pretrain(cfg, tmp_path / "straight")

    stopped = tiny_config(synth_data["train"], "train.max_steps=3", "train.checkpoint_every=3", acc)
    pretrain(stopped, tmp_path / "resumed")
    assert state_of(tmp_path / "resumed")["step"] == 3
    trainer = Trainer(cfg, tmp_path / "resumed")
    assert trainer.step == 3
    trainer.run()

    a, b = state_of(tmp_path / "straight"), state_of(tmp_path / "resumed")
    assert a["step"] == b["step"] == 6
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    for sa, sb in zip(
        a["optimizer"]["state"].values(), b["optimizer"]["state"].values(), strict=True
    ):
        assert torch.equal(sa["exp_avg"], sb["exp_avg"]) and sa["step"] == sb["step"]
    assert [g["lr"] for g in a["optimizer"]["param_groups"]] == [
        g["lr"] for g in b["optimizer"]["param_groups"]
    ]
    records = read_metrics(tmp_path / "resumed" / "metrics.jsonl")
    assert [r["step"] for r in records] == list(range(1, 7))
    # teacher tokens are totals per optimizer step: accum x 4 videos x 2 large clips x 65
    assert records[0]["teacher_tokens"] == accum * 4 * 2 * 65


def test_resume_refuses_another_model(synth_data, tmp_path):
    pretrain(tiny_config(synth_data["train"], "train.max_steps=1"), tmp_path / "run")
    with pytest.raises(ConfigError, match="different model"):
        Trainer(tiny_config(synth_data["train"], "model.depth=2"), tmp_path / "run")


def test_broken_videos_are_skipped_named_and_counted(synth_data, tmp_path, caplog):
    root = Path(synth_data["train"]).parent
    rows = manifest_rows(synth_data["train"])
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 1000)
    (tmp_path / "empty.mp4").write_bytes(b"")
    manifest = tmp_path / "m.csv"
    with open(manifest, "w") as f:
        f.write("path,label\n")
        f.write(f"{tmp_path / 'broken.mp4'},x\n{tmp_path / 'empty.mp4'},x\n")
        for r in rows[:6]:
            f.write(f"{root / r['path']},{r['label']}\n")
    cfg = tiny_config(manifest, "train.max_steps=4")
    with caplog.at_level(logging.WARNING, logger="vidrop"):
        result = pretrain(cfg, tmp_path / "run")
    assert read_metrics(result.metrics)[-1]["skipped_videos"] == 2
    assert "broken.mp4" in caplog.text and "empty.mp4" in caplog.text


def test_missing_video_and_bad_config_fail_before_any_work(synth_data, tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"path,label\n{tmp_path / 'gone.mp4'},a\n")
    with pytest.raises(ManifestError, match="gone.mp4"):
        pretrain(tiny_config(manifest), tmp_path / "run")
    assert not (tmp_path / "run").exists()
    with pytest.raises(ConfigError, match=r"optim.bse_lr.*did you mean .base_lr"):
        load_config("tiny", ["optim.bse_lr=1"])
    with pytest.raises(ConfigError, match=r"mask.drop_ratio must be in \[0, 1\)"):
        load_config("tiny", ["mask.drop_ratio=1.5"])


def test_the_ablation_switches_train_and_resume(synth_data, tmp_path):
    """A shared head, iBOT on visible tokens and no small clips: a run trains, checkpoints and
    resumes with them."""
    switches = (
        "head.shared=true",
        "loss.ibot_tokens=visible",
        "views.small_clips=0",
        "mask.mask_prob=0.5",
    )
    cfg = tiny_config(synth_data["train"], "train.max_steps=2", *switches)
    pretrain(cfg, tmp_path / "run")
    state = state_of(tmp_path / "run")
    assert not any(".ibot_head." in k for k in state["model"])
    resumed = tiny_config(synth_data["train"], "train.max_steps=3", *switches)
    assert pretrain(resumed, tmp_path / "run").step == 3
    records = read_metrics(tmp_path / "run" / "metrics.jsonl")
    assert all(r["dino_local_loss"] == 0 and r["ibot_loss"] > 0 for r in records)


def test_tensorboard_holds_every_logged_scalar_once_after_a_resume(synth_data, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    on = ("train.tensorboard=true", "train.log_every=1")
    pretrain(tiny_config(synth_data["train"], "train.max_steps=2", *on), tmp_path / "run")
    pretrain(tiny_config(synth_data["train"], "train.max_steps=3", *on), tmp_path / "run")
    records = read_metrics(tmp_path / "run" / "metrics.jsonl")
    numbers = (int, float)
    logged = {k for r in records for k, v in r.items() if k != "step" and isinstance(v, numbers)}
    acc = EventAccumulator(str(tmp_path / "run" / "tb"))
    acc.Reload()
    assert set(acc.Tags()["scalars"]) == logged
    for tag in logged:
        events = [(e.step, e.value) for e in acc.Scalars(tag)]
        expected = [(r["step"], r[tag]) for r in records if tag in r]
        assert [s for s, _ in events] == [s for s, _ in expected] == [1, 2, 3], tag
        assert [v for _, v in events] == pytest.approx([float(v) for _, v in expected]), tag
    assert "config/text_summary" in acc.Tags()["tensors"]  # the resolved config, as text
