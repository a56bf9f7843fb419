import os
import subprocess
import sys

import pytest
import torch

from vidrop.train import checkpoint as ckpt
from vidrop.train.checkpoint import CheckpointError, WriteError, load_checkpoint, save_checkpoint


class Evil:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_round_trip(tmp_path):
    state = {"step": 3, "model": {"w": torch.arange(4.0)}, "config": {"a": {"b": [1, 2]}}}
    save_checkpoint(tmp_path / "c.pt", state)
    loaded = load_checkpoint(tmp_path / "c.pt")
    assert loaded["step"] == 3 and torch.equal(loaded["model"]["w"], torch.arange(4.0))
    assert not (tmp_path / "c.pt.tmp").exists()


def test_a_crash_while_writing_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    save_checkpoint(tmp_path / "c.pt", {"step": 1})

    def crash(obj, f):
        f.write(b"partial bytes")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.torch, "save", crash)
    with pytest.raises(WriteError, match=r"c\.pt: could not be written \(OSError: disk full\)"):
        save_checkpoint(tmp_path / "c.pt", {"step": 2})
    monkeypatch.undo()
    assert load_checkpoint(tmp_path / "c.pt")["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt"]  # no half-written .tmp left


@pytest.mark.skipif(sys.platform == "win32", reason="needs RLIMIT_FSIZE (POSIX)")
def test_a_real_full_disk_gives_a_clear_error_and_keeps_the_checkpoint(tmp_path):
    """torch.save's own failure on a short write is `RuntimeError: ... unexpected pos`; a file-size
    limit in a child process makes that real failure happen without filling a disk."""
    save_checkpoint(tmp_path / "c.pt", {"step": 1})
    code = f"""
import resource, signal, torch
from vidrop.train.checkpoint import save_checkpoint
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead of killing us
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 16, 1 << 16))
save_checkpoint({str(tmp_path / "c.pt")!r}, {{"step": 2, "w": torch.zeros(1 << 16)}})
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode != 0
    assert "WriteError" in done.stderr and "c.pt: could not be written" in done.stderr
    assert "free some space and run the same command again" in done.stderr
    assert load_checkpoint(tmp_path / "c.pt")["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt"]


def test_code_executing_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"format": "vidrop-checkpoint", "payload": Evil(str(marker))}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="never unpickles"):
        load_checkpoint(tmp_path / "evil.pt")
    assert not marker.exists()


def test_truncated_and_foreign_files(tmp_path):
    save_checkpoint(tmp_path / "c.pt", {"step": 1, "model": {"w": torch.randn(1000)}})
    data = (tmp_path / "c.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.pt"):
        load_checkpoint(tmp_path / "cut.pt")
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a vidrop training checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
