import json

from tests.helpers import load_script


def test_the_record_keeps_the_layout_and_drops_only_the_scored_pairs(tmp_path, monkeypatch):
    src, dest = tmp_path / "cmp", tmp_path / "docs" / "compare-x"
    copy = {"map": 30.5, "per_query": [0.5, 1.0], "per_query_pairs": [[0, 1, 0.9]]}
    seed = {"eval": {"copy_detection": copy, "per_video": {"predictions": [1, 2]}}}
    report = {"methods": {"videomae": {"peak_lr": 3e-3, "seeds": {"0": seed}}}, "gains": {}}
    (src / "eval" / "seed0").mkdir(parents=True)
    (src / "compare.json").write_text(json.dumps(report))
    (src / "eval" / "seed0" / "eval.md").write_text("seed 0\n")
    script = load_script("record_compare")
    monkeypatch.setattr(script, "markdown", lambda report: "rendered\n")  # tests/compare: the md
    script.main([str(src), str(dest)])
    kept = json.loads((dest / "compare.json").read_text())
    del copy["per_query_pairs"]
    assert kept == report  # everything else, per-query APs and per-video predictions included
    assert (dest / "compare.md").read_text() == "rendered\n"
    assert (dest / "seed0-eval.md").read_text() == "seed 0\n"
