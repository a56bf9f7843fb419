"""Data parallelism is exact: 2 gloo processes on half batches give the loss and gradients of
one process on the whole batch (DINO + iBOT + KoLeo with Sinkhorn-Knopp), and a torchrun run
writes one checkpoint that resumes on one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp

from tests.train.test_meta_arch import HEAD, MODEL, inputs
from vidrop.config import LossConfig
from vidrop.train.meta_arch import ViDROP

B, WORLD = 4, 2
MODEL_NO_DROP = type(MODEL)(**{**MODEL.__dict__, "drop_path": 0.0})


def run_step(large, small, keep, masks) -> tuple[ViDROP, torch.Tensor]:
    torch.manual_seed(0)  # the same initial weights in every process
    model = ViDROP(MODEL_NO_DROP, HEAD, LossConfig()).train()
    terms = model(large, small, keep, masks, teacher_temp=0.05)
    terms.loss.backward()
    return model, terms.loss.detach()


def local_rows(rows: torch.Tensor, rank: int) -> torch.Tensor:
    """Clip-major (L*B, K) rows of this rank's videos: row clip*B + b for b in its half."""
    per = B // WORLD
    idx = [c * B + rank * per + b for c in range(rows.shape[0] // B) for b in range(per)]
    return rows[idx]


def worker(rank: int, init: str, out: str) -> None:
    torch_dist.init_process_group("gloo", init_method=init, rank=rank, world_size=WORLD)
    large, small, keep, masks = inputs(b=B)
    per = B // WORLD
    sl = slice(rank * per, (rank + 1) * per)
    model, loss = run_step(large[sl], small[sl], local_rows(keep, rank), local_rows(masks, rank))
    grads = [p.grad for p in model.student.parameters()]
    for g in grads:  # what DDP does: average the gradients over ranks
        torch_dist.all_reduce(g)
        g /= WORLD
    torch_dist.all_reduce(loss)
    if rank == 0:
        torch.save({"loss": loss / WORLD, "grads": grads}, out)
    torch_dist.barrier()  # gloo aborts a process that leaves while its peer still talks
    torch_dist.destroy_process_group()


def rendezvous(tmp_path: Path) -> str:
    """A file rendezvous: no port to pick, so no race with other processes for a free one."""
    return f"file://{tmp_path / 'rendezvous'}"


def test_two_processes_equal_one_process_on_the_whole_batch(tmp_path):
    out = str(tmp_path / "ddp.pt")
    mp.spawn(worker, args=(rendezvous(tmp_path), out), nprocs=WORLD, join=True)
    model, loss = run_step(*inputs(b=B))
    got = torch.load(out, weights_only=True)
    torch.testing.assert_close(got["loss"], loss, atol=1e-6, rtol=1e-6)
    worst = 0.0
    for (name, p), g in zip(model.student.named_parameters(), got["grads"], strict=True):
        rel = float((g - p.grad).norm() / p.grad.norm())
        worst = max(worst, rel)
        assert rel < 1e-6, f"{name}: relative gradient error {rel:.2e}"
    print(f"worst relative gradient error {worst:.2e}")


def test_torchrun_two_processes_write_one_checkpoint_that_resumes_on_one(synth_data, tmp_path):
    run = tmp_path / "run"
    common = [
        "--config", "tiny", "--out", str(run), f"data.train={synth_data['train']}",
        "data.num_workers=0", "optim.batch_size=2", "train.log_every=1", "views.small_clips=2",
        "head.prototypes=32", "head.patch_prototypes=32", "head.hidden_dim=64",
        "head.bottleneck_dim=16",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path.cwd())}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                "2", "-m", "vidrop", "pretrain"]  # fmt: skip
    done = subprocess.run([*torchrun, *common, "train.max_steps=2"], env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in run.glob("*.pt*")) == ["checkpoint.pt"]  # one, not one per rank
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2]
    # tokens are totals over both ranks: 2 ranks x 2 videos x 2 large clips x (kept + CLS)
    per_clip = records[0]["teacher_tokens"] / (2 * 2 * 2)
    assert per_clip == 4 * 4 * 4 + 1  # tiny: 8 frames / tubelet 2, 64 px / patch 16, + CLS
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    assert state["step"] == 2
    again = subprocess.run([sys.executable, "-m", "vidrop", "pretrain", *common,
                            "train.max_steps=3"], env=env, capture_output=True, text=True,
                           timeout=300)  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resuming" in again.stderr and torch.load(run / "checkpoint.pt")["step"] == 3


def fsdp_worker(rank: int, init: str, out: str) -> None:
    """Sharded (FSDP2) student and teacher on half batches: gradients, one AdamW step and one EMA
    update, all gathered to full tensors on rank 0."""
    from vidrop.config import OptimConfig
    from vidrop.train.optim import build_optimizer
    from vidrop.train.parallel import full_state, shard_vidrop

    torch_dist.init_process_group("gloo", init_method=init, rank=rank, world_size=WORLD)
    large, small, keep, masks = inputs(b=B)
    per = B // WORLD
    sl = slice(rank * per, (rank + 1) * per)
    torch.manual_seed(0)
    model = ViDROP(MODEL_NO_DROP, HEAD, LossConfig()).train()
    shard_vidrop(model)
    optimizer = build_optimizer(model.student, OptimConfig(), fused=False)
    terms = model(large[sl], small[sl], local_rows(keep, rank), local_rows(masks, rank), 0.05)
    terms.loss.backward()
    grads = [p.grad.full_tensor() for p in model.student.parameters()]  # averaged over ranks
    optimizer.step()
    model.update_teacher(0.9)
    state = full_state(model)
    loss = terms.loss.detach()
    torch_dist.all_reduce(loss)
    if rank == 0:
        torch.save({"loss": loss / WORLD, "grads": grads, "state": state}, out)
    torch_dist.barrier()
    torch_dist.destroy_process_group()


def test_fsdp_two_processes_equal_one_process_on_the_whole_batch(tmp_path):
    from vidrop.config import OptimConfig
    from vidrop.train.optim import build_optimizer

    out = str(tmp_path / "fsdp.pt")
    mp.spawn(fsdp_worker, args=(rendezvous(tmp_path), out), nprocs=WORLD, join=True)
    got = torch.load(out, weights_only=True)
    model, loss = run_step(*inputs(b=B))
    torch.testing.assert_close(got["loss"], loss, atol=1e-6, rtol=1e-6)
    for (name, p), g in zip(model.student.named_parameters(), got["grads"], strict=True):
        rel = float((g - p.grad).norm() / p.grad.norm())
        assert rel < 1e-6, f"{name}: relative gradient error {rel:.2e}"
    build_optimizer(model.student, OptimConfig(), fused=False).step()
    model.update_teacher(0.9)
    for name, value in model.state_dict().items():  # student after AdamW, teacher after EMA
        torch.testing.assert_close(got["state"][name], value, atol=1e-6, rtol=1e-5, msg=name)


def test_torchrun_fsdp_writes_one_checkpoint_that_resumes_on_one_process(synth_data, tmp_path):
    """FSDP2 with gradient accumulation (one reduce-scatter per step) under torchrun."""
    run = tmp_path / "run"
    common = [
        "--config", "tiny", "--out", str(run), f"data.train={synth_data['train']}",
        "data.num_workers=0", "optim.batch_size=2", "views.small_clips=2",
        "head.prototypes=32", "head.patch_prototypes=32", "head.hidden_dim=64",
        "head.bottleneck_dim=16", "optim.accum_steps=2",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path.cwd())}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                "2", "-m", "vidrop", "pretrain"]  # fmt: skip
    done = subprocess.run([*torchrun, *common, "train.max_steps=2", "train.parallel=fsdp"],
                          env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in run.glob("*.pt*")) == ["checkpoint.pt"]
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    assert state["step"] == 2 and state["optimizer"]["format"] == "by-name"
    assert all(not hasattr(v, "device_mesh") for v in state["model"].values())  # full tensors
    assert (run / "export" / "backbone.safetensors").is_file()
    again = subprocess.run([sys.executable, "-m", "vidrop", "pretrain", *common,
                            "train.max_steps=3"], env=env, capture_output=True, text=True,
                           timeout=300)  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resuming" in again.stderr and torch.load(run / "checkpoint.pt")["step"] == 3
