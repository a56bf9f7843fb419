import pytest

from vidrop.bench.train import bench_train, largest_fitting, parse_batch

pytest.importorskip("transformers")


def test_bench_train_times_all_three_methods_in_one_run(tmp_path):
    tiny = [
        "views.small_clips=2",
        "head.prototypes=64",
        "head.patch_prototypes=64",
        "head.hidden_dim=64",
        "head.bottleneck_dim=32",
        "train.device=cpu",
    ]
    batch = parse_batch("vidrop=2,dense=2,videomae=3")
    r = bench_train(
        "tiny", batch=batch, steps=1, warmup=1, json_path=str(tmp_path / "b.json"), overrides=tiny
    )
    by = {x["method"]: x for x in r["results"]}
    assert set(by) == {"vidrop", "dense", "videomae"}
    assert [by[m]["batch"] for m in ("vidrop", "dense", "videomae")] == [2, 2, 3]
    assert all(x["samples_per_s"] > 0 and x["flops_per_step"] > 0 for x in by.values())
    # dropping half the student's tokens does less work than the dense mode
    assert by["vidrop"]["flops_per_step"] < by["dense"]["flops_per_step"]
    assert by["vidrop"]["mfu"] is None  # no known peak for a CPU
    assert set(r["ratios"]) == {"vidrop/dense", "vidrop/videomae"}


def test_parse_batch():
    assert parse_batch("32") == 32 and parse_batch("auto") == "auto"
    assert parse_batch("vidrop=64, videomae=128") == {"vidrop": 64, "videomae": 128}
    with pytest.raises(ValueError, match="no batch for method 'dense'"):
        bench_train("tiny", ("dense",), {"vidrop": 2}, overrides=["train.device=cpu"])


def test_largest_fitting_searches_each_size_once():
    for limit in (0, 1, 5, 8, 39, 64, 100):
        tried: list[int] = []

        def fits(n: int, limit: int = limit, tried: list[int] = tried) -> bool:
            tried.append(n)
            return n <= limit

        assert largest_fitting(fits, start=8) == limit
        assert len(tried) == len(set(tried)), tried
