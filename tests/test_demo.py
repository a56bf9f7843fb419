import json

import pytest

from vidrop.demo import run_demo


def test_demo_wiring_on_a_very_short_run(tmp_path):
    """The full demo path (synth -> pretrain -> eval all of two backbones -> table + JSON), 3 steps
    (48 videos: 3 training videos per class, so the probes can hold one out)."""
    report = run_demo(
        tmp_path,
        videos=48,
        overrides=["train.max_steps=3", "optim.batch_size=4", "data.num_workers=0"],
    )
    saved = json.loads((tmp_path / "demo.json").read_text())
    assert saved["steps"] == 3 == report["steps"]
    assert set(saved["results"]) == {"vidrop", "random_init"}
    res = saved["results"]
    for metric in ("kNN k=20", "linear", "attentive", "J&F", "copy mAP"):
        assert saved["gain_points"][metric] == res["vidrop"][metric] - res["random_init"][metric]
    for metric in ("kNN k=20", "linear", "attentive", "J&F"):  # copy mAP has no interval
        g = saved["gain_intervals"][metric]
        assert g["gain"] == pytest.approx(saved["gain_points"][metric], abs=1e-4)
        assert g["low"] <= g["gain"] <= g["high"]
    ev = json.loads((tmp_path / "eval.json").read_text())
    assert ev["backbones"]["vidrop"]["n_val"] == 12 and (tmp_path / "eval.md").is_file()
    copies = ev["backbones"]["vidrop"]["copy_detection"]
    assert copies["queries"] == 12 and copies["database"] == 12 and copies["whitened"]
    assert saved["machine"]["cpu_cores"] >= 1
