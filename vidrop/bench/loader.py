"""Loader benchmark: full ViDROP views per video from mp4 files (PyAV) and from a code store,
same sampling, same workers, in one run. No model.

With views.augment=dino three things are timed, because DINO's augmentations are not the
loader's work (the training step applies them on the device the views are on): each loader
alone, the augmentations alone on the device, and loader + augmentations in one loop as
training runs them (workers load while the main process augments). On a GPU the last is the
figure that matters; on a CPU the augmentations share the cores with the workers and set the
pace (docs/experiments/2026-12-03-loader-augment.md)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from vidrop.atomic import write_json_atomic
from vidrop.compress.source import StoreSource
from vidrop.config import Config, ViewsConfig, load_config
from vidrop.data.augment import augment_batch
from vidrop.data.batch import LoadedBatch
from vidrop.data.dataset import ViewDataset, collate_views
from vidrop.data.manifest import read_manifest
from vidrop.data.source import ClipSource, VideoSource
from vidrop.machine import command_line, describe_machine, resolve_device, sync_device
from vidrop.progress import results
from vidrop.train.stream import BatchStream


class _Batches:
    """Endless batches of keys cycling over the source's videos (a new epoch per cycle, so
    every draw differs); the timing loop decides when to stop."""

    def __init__(self, n_videos: int, batch: int) -> None:
        self.n_videos, self.batch = n_videos, batch

    def __iter__(self):
        i = 0
        while True:
            yield [((i + j) % self.n_videos, (i + j) // self.n_videos) for j in range(self.batch)]
            i += self.batch


def _augment(batch: LoadedBatch, device: torch.device, seed: int) -> None:
    """What the training step does to a batch before normalising: to the device, augmented."""
    large, small = batch.pixels()
    augment_batch(large.to(device), small.to(device), torch.Generator().manual_seed(seed))
    sync_device(device)


Timing = tuple[Config, int, int, float]  # the run's config, videos, batch, min_seconds


def _time_source(
    source: ClipSource,
    cfg: Config,
    videos: int,
    batch: int,
    min_seconds: float,
    augment_on: torch.device | None = None,
) -> dict[str, Any]:
    """Views of at least `videos` samples AND for at least `min_seconds` (a fast loader is timed
    over as long a span as a slow one), in batches of `batch` videos, through the training
    runs' batch stream (its workers and buffer pool); the first batch per worker is excluded
    (worker start-up). With `augment_on`, every batch is also augmented there in the main
    process, as the training step does."""
    views, workers = cfg.views, cfg.data.num_workers
    cpu, keys = torch.device("cpu"), _Batches(len(source), batch)
    stream = BatchStream(cfg, source, None, cpu, torch.float32, sampler=keys)
    it = stream.loaded()
    large, small = next(it).pixels()
    shapes = {k: [list(t.shape), str(t.dtype)] for k, t in (("large", large), ("small", small))}
    for _ in range(max(workers, 1) - 1):
        next(it)
    start = time.perf_counter()
    n = 0
    while n < videos or time.perf_counter() - start < min_seconds:
        got = next(it)
        n += got.videos
        if augment_on is not None:
            _augment(got, augment_on, seed=n)
    seconds = time.perf_counter() - start
    del it, stream  # stops the workers
    clips = n * (views.large_clips + views.small_clips)
    return {
        "videos": n,
        "clips": clips,
        "seconds": seconds,
        "clips_per_s": clips / seconds,
        "videos_per_s": n / seconds,
        **shapes,
    }


def _time_augment(
    source: ClipSource,
    views: ViewsConfig,
    batch: int,
    seed: int,
    device: torch.device,
    min_seconds: float,
) -> dict[str, Any]:
    """The augmentations alone: one loaded batch, augmented on `device` over and over (at least
    3 times and `min_seconds`), the copy to the device included as in training."""
    data = ViewDataset(source, views, seed)
    got = collate_views(data.__getitems__([(i % len(source), 0) for i in range(batch)]))
    _augment(got, device, seed)  # warm-up: allocations, kernels
    start, n = time.perf_counter(), 0
    while n < 3 or time.perf_counter() - start < min_seconds:
        _augment(got, device, seed + n)
        n += 1
    seconds = time.perf_counter() - start
    clips = n * got.videos * (views.large_clips + views.small_clips)
    return {
        "device": str(device),
        "clips": clips,
        "seconds": seconds,
        "clips_per_s": clips / seconds,
    }


def _with_augment(
    sources: dict[str, ClipSource], timing: Timing, device: torch.device
) -> dict[str, Any]:
    """The augmentations alone on `device`, then each loader with them, as training runs them."""
    cfg, _, batch, min_seconds = timing
    out = {
        "augment": _time_augment(
            sources["store"], cfg.views, batch, cfg.train.seed, device, min_seconds
        )
    }
    for name, source in sources.items():
        out[f"{name}+augment"] = _time_source(source, *timing, augment_on=device)
    out["speedup_with_augment"] = (
        out["store+augment"]["clips_per_s"] / out["pyav+augment"]["clips_per_s"]
    )
    return out


def bench_loader(
    data: str,
    store: str,
    *,
    config: str = "vit_s",
    videos: int = 32,
    batch: int = 8,
    workers: int = 2,
    seed: int = 0,
    json_path: str | None = None,
    overrides: list[str] | None = None,
    min_seconds: float = 10.0,
    device: str = "auto",
) -> dict[str, Any]:
    """Both sources read the videos the store holds, in the store's order; `data` (the manifest
    the store was encoded from) must list them all. `device`: where views.augment=dino runs."""
    cfg = load_config(
        config, [*(overrides or []), f"data.num_workers={workers}", f"train.seed={seed}"]
    )
    with _one_thread():  # one thread per worker, as in training loaders
        results = _bench(cfg, data, store, workers, batch, videos, min_seconds, device)
    if json_path:
        write_json_atomic(json_path, results)
    return results


@contextmanager
def _one_thread() -> Iterator[None]:
    """torch's thread count is the process's: given back, so a caller's later work (a test's
    training run) keeps its own."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _bench(
    cfg: Config,
    data: str,
    store: str,
    workers: int,
    batch: int,
    videos: int,
    min_seconds: float,
    device: str,
) -> dict[str, Any]:
    views = cfg.views
    sources = _sources(data, store)
    results: dict[str, Any] = {
        "command": command_line(),
        "machine": describe_machine(),
        "data": data,
        "store": store,
        "views": _described(views),
        "workers": workers,
        "batch": batch,
        "min_seconds": min_seconds,
    }
    timing: Timing = (cfg, videos, batch, min_seconds)
    for name, source in sources.items():
        results[name] = _time_source(source, *timing)
    results["integrity"] = _time_checks(store, timing)
    same = all(results["pyav"][k] == results["store"][k] for k in ("large", "small"))
    results["same_shapes_and_dtype"] = same
    results["speedup"] = results["store"]["clips_per_s"] / results["pyav"]["clips_per_s"]
    if views.augment == "dino":
        on = resolve_device(device, "--device")
        results.update(_with_augment(sources, timing, on))
    _print(results)
    return results


def _described(views: ViewsConfig) -> dict[str, Any]:
    return {
        "large": f"{views.large_clips} x {views.large_frames}x{views.large_size}",
        "small": f"{views.small_clips} x {views.small_frames}x{views.small_size}",
        "stride": views.frame_stride,
        "augment": views.augment,
    }


def _time_checks(store: str, timing: Timing, rounds: int = 2) -> dict[str, Any]:
    """The store loader with its integrity checks (each video's CRC32 and code range where it is
    read: data.verify_store) against without, alternated `rounds` times in this run: checked
    once per worker and video, as training does (a benchmark re-reads its few videos, so this is
    a later epoch), and checked on every read (a first epoch: every read is a video's first).
    Each cost is a share of the unchecked clips/s."""
    sources = {
        "checked": StoreSource(store, decode_on_device=False, verify=True),
        "every_read": StoreSource(store, decode_on_device=False, verify=True, recheck=True),
        "unchecked": StoreSource(store, decode_on_device=False, verify=False),
    }
    rates: dict[str, list[float]] = {name: [] for name in sources}
    for _ in range(rounds):
        for name, source in sources.items():
            rates[name].append(_time_source(source, *timing)["clips_per_s"])
    mean = {name: sum(r) / len(r) for name, r in rates.items()}
    return {
        "clips_per_s": rates,
        "checked_clips_per_s": mean["checked"],
        "every_read_clips_per_s": mean["every_read"],
        "unchecked_clips_per_s": mean["unchecked"],
        "cost": 1 - mean["checked"] / mean["unchecked"],
        "every_read_cost": 1 - mean["every_read"] / mean["unchecked"],
    }


def _sources(data: str, store: str) -> dict[str, ClipSource]:
    """The store, and PyAV on the same videos in the store's order."""
    stored = StoreSource(store, decode_on_device=False)
    paths = [v.path for v in stored.store.videos]
    listed = set(read_manifest(data).paths)
    missing = [p for p in paths if p not in listed]
    if missing:
        raise ValueError(
            f"{store} holds {len(missing)} videos that {data} does not list (first: {missing[0]}); "
            "give the manifest the store was encoded from"
        )
    short = int(stored.store.meta["short_side"])
    return {"pyav": VideoSource(paths, short_side=short), "store": stored}


def _print(r: dict[str, Any]) -> None:
    results.print(f"command: {r['command']}\nmachine: {r['machine']}")
    results.print("| loader | clips/s | videos/s | videos timed |\n|---|---|---|---|")
    rows = [n for n in ("pyav", "store", "pyav+augment", "store+augment") if n in r]
    for name in rows:
        results.print(
            f"| {name} | {r[name]['clips_per_s']:.1f} | {r[name]['videos_per_s']:.2f} | "
            f"{r[name]['videos']} |"
        )
    results.print(
        f"store / pyav: {r['speedup']:.1f}x; same shapes and dtype: {r['same_shapes_and_dtype']}; "
        f"workers: {r['workers']}, {r['batch']} videos per batch; augment: {r['views']['augment']}"
    )
    c = r["integrity"]
    results.print(
        f"store with its integrity checks (alternated {len(c['clips_per_s']['checked'])} times): "
        f"without {c['unchecked_clips_per_s']:.1f} clips/s; checked once a worker and video "
        f"{c['checked_clips_per_s']:.1f} (cost {c['cost']:.1%}); checked on every read "
        f"{c['every_read_clips_per_s']:.1f} (cost {c['every_read_cost']:.1%})"
    )
    if "augment" in r:
        a = r["augment"]
        results.print(
            f"augmentations alone on {a['device']}: {a['clips_per_s']:.1f} clips/s; "
            f"loader + augmentations (as training runs them): store / pyav "
            f"{r['speedup_with_augment']:.1f}x"
        )
