import torch

from vidrop.bench.loader import bench_loader


def test_bench_loader_times_both_sources_on_identical_views(
    synth_data, code_store, tmp_path, capsys
):
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # a count the bench's one thread a worker is not
    try:
        r = bench_loader(
            synth_data["train"],
            str(code_store),
            config="tiny",
            videos=3,
            batch=1,
            workers=0,
            json_path=str(tmp_path / "b.json"),
            overrides=["views.large_size=32"],
            min_seconds=0,
        )
        # the process's thread count given back (a later training run's float sums depend on it)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    assert r["same_shapes_and_dtype"] and r["pyav"]["videos"] == r["store"]["videos"] == 3
    assert r["pyav"]["large"] == [[1, 2, 3, 8, 32, 32], "torch.uint8"]
    # the tiny recipe's views: 2 large and 4 small clips per video, 3 videos each
    assert r["pyav"]["clips"] == r["store"]["clips"] == 3 * (2 + 4)
    assert (tmp_path / "b.json").exists()
    # the store's integrity checks timed on and off, alternated twice, in the same run
    c = r["integrity"]
    kinds = ("checked", "every_read", "unchecked")
    assert [len(c["clips_per_s"][k]) for k in kinds] == [2, 2, 2]
    assert all(x > 0 for k in kinds for x in c["clips_per_s"][k])
    assert "store with its integrity checks" in capsys.readouterr().out


def test_bench_loader_with_augment_times_loaders_augment_and_both(synth_data, code_store, capsys):
    r = bench_loader(
        synth_data["train"],
        str(code_store),
        config="tiny",
        videos=2,
        batch=1,
        workers=0,
        overrides=["views.large_size=32", "views.augment=dino"],
        min_seconds=0,
        device="cpu",
    )
    # the loaders alone, the augmentations alone (at least 3 passes over a batch of one video's
    # 2 + 4 clips), and both in one loop, each timed and reported
    assert r["augment"]["device"] == "cpu" and r["augment"]["clips"] >= 3 * (2 + 4)
    assert r["augment"]["clips"] % (2 + 4) == 0
    for name in ("pyav", "store", "pyav+augment", "store+augment"):
        assert r[name]["videos"] == 2 and r[name]["clips"] == 2 * (2 + 4)
    out = capsys.readouterr().out
    assert "| store+augment |" in out and "augmentations alone on cpu" in out
