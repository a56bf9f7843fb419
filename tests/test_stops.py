"""SIGTERM and SIGUSR1 end a training run as Ctrl-C does: a checkpoint at the step reached, a
one-line message, exit 128 + the signal; the same command then resumes to exactly the state of an
uninterrupted run. `vidrop compare` passes the signal on to its child run."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.helpers import tiny_config
from vidrop.config import save_config
from vidrop.train.checkpoint import load_checkpoint
from vidrop.train.metrics import read_metrics

ROOT = Path(__file__).parents[1]
STEPS = 24  # of the schedule's 30: long enough to be signalled mid-run


def pretrain_cmd(config: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "vidrop", "pretrain", "--config", str(config), "--out", str(out)]


def signal_mid_run(cmd: list[str], out: Path, signum: int) -> subprocess.CompletedProcess:
    """Start `cmd`, send `signum` once it has logged 3 steps, wait for it to end."""
    child = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    metrics = out / "metrics.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and child.poll() is None:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 3:
            child.send_signal(signum)
            break
        time.sleep(0.02)
    _, err = child.communicate(timeout=240)
    return subprocess.CompletedProcess(cmd, child.returncode, "", err)


@pytest.fixture(scope="module")
def straight(synth_data, tmp_path_factory):
    """The run no signal stopped, by the same command in a process of its own (a run inside
    pytest may use another number of threads, so another order of float sums), and its config."""
    cfg = tiny_config(synth_data["train"], f"train.max_steps={STEPS}", "data.num_workers=1")
    folder = tmp_path_factory.mktemp("straight")
    save_config(cfg, folder / "run.yaml")
    done = subprocess.run(
        pretrain_cmd(folder / "run.yaml", folder / "run"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return cfg, folder / "run"


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGUSR1])
def test_a_stop_signal_checkpoints_the_step_reached_and_the_run_resumes_exactly(
    straight, tmp_path, signum
):
    cfg, reference = straight
    config = tmp_path / "run.yaml"
    save_config(cfg, config)
    out = tmp_path / "stopped"
    done = signal_mid_run(pretrain_cmd(config, out), out, signum)
    assert done.returncode == 128 + signum  # 143 for SIGTERM
    reached = read_metrics(out / "metrics.jsonl")[-1]["step"]
    assert 3 <= reached < STEPS and load_checkpoint(out / "checkpoint.pt")["step"] == reached
    name = signal.Signals(signum).name
    said = [line for line in done.stderr.splitlines() if name in line]
    assert said and f"{name} at step {reached}: checkpoint saved" in said[-1]
    assert "Traceback" not in done.stderr and not (out / ".vidrop.lock").exists()
    again = subprocess.run(
        pretrain_cmd(config, out), cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stderr[-2000:]
    a, b = load_checkpoint(out / "checkpoint.pt"), load_checkpoint(reference / "checkpoint.pt")
    assert a["step"] == b["step"] == STEPS
    for k, v in b["model"].items():
        assert torch.equal(a["model"][k], v), k
    assert [r["step"] for r in read_metrics(out / "metrics.jsonl")] == list(range(1, STEPS + 1))


@pytest.mark.slow
def test_compare_passes_sigterm_to_its_child_run_and_resumes(eval_data, tmp_path):
    out = tmp_path / "cmp"
    cmd = [
        sys.executable,
        "-m",
        "vidrop",
        "compare",
        "--data",
        eval_data["train"],
        "--val",
        eval_data["val"],
        "--out",
        str(out),
        "--methods",
        "vidrop",
        "--steps",
        "60",
        "--no-tuning",
        "--no-attentive",
        "data.num_workers=0",
        "optim.batch_size=4",
        "head.prototypes=32",
        "head.patch_prototypes=32",
        "head.hidden_dim=32",
        "head.bottleneck_dim=16",
        "views.small_clips=2",
        "model.depth=1",
    ]
    child = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and child.poll() is None:
        runs = list((out / "runs").glob("vidrop-s0-*/metrics.jsonl"))
        if runs and len(runs[0].read_text().splitlines()) >= 3:
            child.send_signal(signal.SIGTERM)
            break
        time.sleep(0.02)
    _, err = child.communicate(timeout=240)
    assert child.returncode == 143, err[-2000:]
    run = next((out / "runs").glob("vidrop-s0-*"))
    assert 3 <= load_checkpoint(run / "checkpoint.pt")["step"] < 60
    assert not (run / "done.json").exists() and "run the same command to resume" in err
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert [r["step"] for r in read_metrics(run / "metrics.jsonl")] == list(range(1, 61))
