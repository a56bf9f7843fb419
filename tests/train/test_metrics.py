import pytest

from vidrop.atomic import WriteError
from vidrop.train.metrics import MetricsLog, read_metrics


def test_resume_trims_steps_after_the_checkpoint(tmp_path):
    log = MetricsLog(tmp_path / "m.jsonl")
    for step in (10, 20, 30):
        log.write({"step": step, "loss": 1.0})
    MetricsLog(tmp_path / "m.jsonl", resume_step=20)
    assert [r["step"] for r in read_metrics(tmp_path / "m.jsonl")] == [10, 20]
    MetricsLog(tmp_path / "m.jsonl")  # a fresh run starts a fresh log
    assert not (tmp_path / "m.jsonl").exists()


def test_resume_drops_a_line_cut_short_by_a_crash(tmp_path):
    log = MetricsLog(tmp_path / "m.jsonl")
    log.write({"step": 10, "loss": 1.0})
    with open(tmp_path / "m.jsonl", "a") as f:
        f.write('{"step": 20, "lo')  # the disk filled up mid-line
    MetricsLog(tmp_path / "m.jsonl", resume_step=20)
    assert [r["step"] for r in read_metrics(tmp_path / "m.jsonl")] == [10]


def test_a_failed_append_names_the_file(tmp_path, monkeypatch):
    log = MetricsLog(tmp_path / "m.jsonl")

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("vidrop.train.metrics.open", full_disk, raising=False)
    with pytest.raises(WriteError, match=r"m\.jsonl: could not be written .*partial last line"):
        log.write({"step": 10, "loss": 1.0})
