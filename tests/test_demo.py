import json

import pytest

from vidrop.demo import print_next_step, run_demo, synth_folder


@pytest.mark.slow
def test_demo_wiring_on_a_very_short_run(tmp_path, monkeypatch):
    """The full demo path (synth -> pretrain -> eval all of two backbones -> table + JSON), 3 steps
    (84 videos, the demo's split: 3 training videos per class, so the probes can hold one out, and
    4 val videos), label propagation and copy detection on the first 6 val videos only (the demo:
    180); no attentive probe (on these videos it shows nothing: docs/experiments)."""
    monkeypatch.setattr("vidrop.demo.DEMO_SEQUENCES", 6)
    report = run_demo(
        tmp_path,
        videos=84,
        overrides=["train.max_steps=3", "optim.batch_size=4", "data.num_workers=0"],
    )
    saved = json.loads((tmp_path / "demo.json").read_text())
    assert saved["steps"] == 3 == report["steps"]
    assert set(saved["results"]) == {"vidrop", "random_init"}
    res = saved["results"]
    assert "attentive" not in res["vidrop"]
    for metric in ("kNN k=20", "linear", "J&F", "copy mAP", "copy µAP"):
        assert saved["gain_points"][metric] == res["vidrop"][metric] - res["random_init"][metric]
    for metric in ("kNN k=20", "linear", "J&F", "copy mAP", "copy µAP"):
        g = saved["gain_intervals"][metric]
        assert g["gain"] == pytest.approx(saved["gain_points"][metric], abs=1e-4)
        assert g["low"] <= g["gain"] <= g["high"]
    ev = json.loads((tmp_path / "eval.json").read_text())
    r = ev["backbones"]["vidrop"]
    assert (r["n_train"], r["n_val"]) == (36, 48) and (tmp_path / "eval.md").is_file()
    assert r["propagation"]["sequences"] + len(r["propagation"]["skipped"]) == 6
    copies = r["copy_detection"]
    assert copies["queries"] == 6 and copies["database"] == 48 and copies["whitened"]
    # as many distractors: copies of training videos, competing in µAP only
    assert copies["distractor_queries"] == 6 and copies["true_pairs"] == 6
    assert ev["gains"]["vidrop"]["kNN k=20"]["items"] == 48
    assert ev["gains"]["vidrop"]["copy mAP"]["items"] == 6  # paired over the queries
    assert ev["gains"]["vidrop"]["copy µAP"]["items"] == 12  # and the distractors
    assert saved["machine"]["cpu_cores"] >= 1


def test_the_next_step_names_the_compare_extra(capsys):
    print_next_step()  # rich markup would swallow "[compare]"
    assert "pip install 'vidrop[compare]' first" in capsys.readouterr().err


def test_synthetic_comparisons_keep_their_data_folders_names():
    # runs resume by finding their videos here: a renamed folder would render them again
    assert synth_folder("shapes", 64) == "synth-data"
    assert synth_folder("glyphs", 64) == "synth-glyphs-64"
    assert synth_folder("shapes", 128) == "synth-shapes-128"
