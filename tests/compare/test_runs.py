import re

from vidrop.compare.runs import _last_step, follow
from vidrop.progress import ProgressBar


def test_the_bar_follows_a_child_that_restarted_from_an_earlier_checkpoint(capsys):
    # the killed child had logged 409 steps, its last checkpoint was at step 0: the log restarts
    with ProgressBar(845, "vidrop seed 0", unit="step", plain_every=0) as bar:
        bar.start_at(409)
        for step in (1, 3, 5):
            follow(bar, step)
        assert bar.done == 5
    rates = [float(r) for r in re.findall(r"(-?[\d.]+) step/s", capsys.readouterr().err)]
    assert len(rates) == 3 and min(rates) >= 0 and rates[-1] > 0  # was -0.78 step/s


def test_a_line_cut_off_mid_write_is_passed_over(tmp_path):
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text('{"step": 1, "loss": 3.0}\n{"step": 2, "loss": 2.9}\n{"step": 3, "lo')
    assert _last_step(metrics) == 2
    assert _last_step(tmp_path / "none.jsonl") == 0
