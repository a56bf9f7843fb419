from vidrop.bench.loader import bench_loader


def test_bench_loader_times_both_sources_on_identical_views(synth_data, code_store, tmp_path):
    r = bench_loader(
        synth_data["train"], str(code_store), "tiny", videos=3, batch=1, workers=0,
        json_path=str(tmp_path / "b.json"), overrides=["views.large_size=32"], min_seconds=0,
    )  # fmt: skip
    assert r["same_shapes_and_dtype"] and r["pyav"]["videos"] == r["store"]["videos"] == 3
    assert r["pyav"]["large"] == [[1, 2, 3, 8, 32, 32], "torch.uint8"]
    assert r["speedup"] == r["store"]["clips_per_s"] / r["pyav"]["clips_per_s"]
    assert (tmp_path / "b.json").exists()
