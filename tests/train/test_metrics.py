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


def scalars(folder) -> dict[str, list[tuple[int, float]]]:
    """What TensorBoard shows: tensorboard's own reader, purges applied."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder))
    acc.Reload()
    return {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}


def test_tensorboard_events_survive_a_crash_and_resume_without_duplicates(tmp_path):
    pytest.importorskip("tensorboard")
    log = MetricsLog(tmp_path / "m.jsonl", tensorboard=tmp_path / "tb")
    for step in range(1, 6):  # checkpoint at 3, crash after logging 5
        log.write({"step": step, "loss": float(step), "lr": 0.1, "note": "text is not a scalar"})
    log.close()
    log = MetricsLog(tmp_path / "m.jsonl", resume_step=3, tensorboard=tmp_path / "tb")
    for step in range(4, 8):
        log.write({"step": step, "loss": 10.0 * step, "lr": 0.1})
    log.close()
    tb = scalars(tmp_path / "tb")
    assert set(tb) == {"loss", "lr"}
    assert tb["loss"] == [(1, 1.0), (2, 2.0), (3, 3.0), (4, 40.0), (5, 50.0), (6, 60.0), (7, 70.0)]
    MetricsLog(tmp_path / "m.jsonl", tensorboard=tmp_path / "tb").close()  # a fresh run
    assert scalars(tmp_path / "tb") == {}
