"""One writer per folder: a second `vidrop pretrain` on a run folder in use stops at once and
names the holder; a lock left by a dead process is taken over with a warning."""

import json
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import tiny_config
from vidrop.cli import main
from vidrop.runlock import (
    LOCK_NAME,
    STALE_AFTER_S,
    FolderInUseError,
    FolderLock,
    acquire,
    release,
)
from vidrop.train.loop import pretrain

ROOT = Path(__file__).parents[1]
HOLD = (
    "import sys, time; from vidrop.runlock import acquire; acquire(sys.argv[1], 'holder cmd'); "
    "print('held', flush=True); time.sleep(60)"
)


def test_a_second_writer_is_refused_and_told_who_holds_the_folder(synth_data, tmp_path, capsys):
    run = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(run)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        args = [
            "pretrain",
            "--config",
            "tiny",
            "--out",
            str(run),
            f"data.train={synth_data['train']}",
            "optim.batch_size=4",
        ]
        assert main(args) == 2
        err = capsys.readouterr().err
        assert f"pid {holder.pid} on {socket.gethostname()}" in err and "holder cmd" in err
        assert not (run / "checkpoint.pt").exists()
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_left_by_a_dead_process_is_taken_over(synth_data, tmp_path, caplog):
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    run = tmp_path / "run"
    run.mkdir()
    lock = {"pid": int(gone), "host": socket.gethostname(), "started": "then", "command": "x"}
    (run / LOCK_NAME).write_text(json.dumps(lock))
    with caplog.at_level(logging.WARNING, logger="vidrop"):
        result = pretrain(tiny_config(synth_data["train"], "train.max_steps=1"), run)
    assert result.step == 1 and f"its holder (pid {gone}" in caplog.text
    assert not (run / LOCK_NAME).exists()  # given back at the end


def test_another_hosts_lock_is_refused_while_alive_and_taken_once_silent(tmp_path, caplog):
    lock = tmp_path / LOCK_NAME
    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere", "started": "t"}))
    with pytest.raises(FolderInUseError, match=f"delete {lock}"):
        acquire(tmp_path, "mine")  # touched just now: its holder may be alive
    then = time.time() - STALE_AFTER_S - 5  # a requeued job's: no heartbeat for too long
    os.utime(lock, (then, then))
    with caplog.at_level(logging.WARNING, logger="vidrop"):
        acquire(tmp_path, "mine")
    assert "pid 1 on elsewhere" in caplog.text
    assert json.loads(lock.read_text())["pid"] == os.getpid()
    release(tmp_path)
    assert not lock.exists()


def test_a_process_holds_its_lock_until_it_gives_back_every_hold(tmp_path):
    lock = tmp_path / LOCK_NAME
    with FolderLock(tmp_path, "mine"):
        assert json.loads(lock.read_text())["pid"] == os.getpid()
        acquire(tmp_path, "again")  # the same process: a second hold
        release(tmp_path)
        assert lock.exists()  # the outer hold still stands
    assert not lock.exists()
    release(tmp_path)  # nothing held: nothing to do
