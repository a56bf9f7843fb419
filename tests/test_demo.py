import json

from vidrop.demo import run_demo


def test_demo_wiring_on_a_very_short_run(tmp_path):
    """The full demo path (synth -> pretrain -> two kNN evaluations -> table + JSON), 3 steps."""
    report = run_demo(
        tmp_path,
        videos=24,
        overrides=["train.max_steps=3", "optim.batch_size=4", "data.num_workers=0"],
    )
    saved = json.loads((tmp_path / "demo.json").read_text())
    assert saved["steps"] == 3 == report["steps"]
    assert set(saved["results"]) == {"vidrop", "random_init"}
    assert (
        saved["gain_points"]
        == saved["results"]["vidrop"]["knn_top1"] - saved["results"]["random_init"]["knn_top1"]
    )
    assert saved["results"]["vidrop"]["n_val"] == 12
    assert saved["machine"]["cpu_cores"] >= 1
