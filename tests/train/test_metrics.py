from vidrop.train.metrics import MetricsLog, read_metrics


def test_resume_trims_steps_after_the_checkpoint(tmp_path):
    log = MetricsLog(tmp_path / "m.jsonl")
    for step in (10, 20, 30):
        log.write({"step": step, "loss": 1.0})
    MetricsLog(tmp_path / "m.jsonl", resume_step=20)
    assert [r["step"] for r in read_metrics(tmp_path / "m.jsonl")] == [10, 20]
    MetricsLog(tmp_path / "m.jsonl")  # a fresh run starts a fresh log
    assert not (tmp_path / "m.jsonl").exists()
