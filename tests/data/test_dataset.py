from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers import manifest_rows
from vidrop.config import ViewsConfig
from vidrop.data.dataset import TooManyBrokenVideos, ViewDataset, collate_views
from vidrop.data.source import VideoSource
from vidrop.data.views import is_channels_last

VIEWS = ViewsConfig(
    large_clips=2,
    large_frames=8,
    large_size=32,
    small_clips=3,
    small_frames=4,
    small_size=16,
    frame_stride=2,
)


def paths(synth_data) -> list[str]:
    root = Path(synth_data["train"]).parent
    return [str(root / r["path"]) for r in manifest_rows(synth_data["train"])]


def test_views_shapes_and_determinism(synth_data):
    ds = ViewDataset(VideoSource(paths(synth_data)), VIEWS, seed=0)
    a, b = ds[(3, 0)], ds[(3, 0)]
    assert a["large"].shape == (2, 3, 8, 32, 32) and a["small"].shape == (3, 3, 4, 16, 16)
    assert (a["large"] == b["large"]).all() and (a["small"] == b["small"]).all()
    c = ds[(3, 1)]  # another epoch: other crops
    assert not (a["large"] == c["large"]).all()
    batch = collate_views([a, c])
    assert batch.large.shape == (2, 2, 3, 8, 32, 32) and batch.skipped == [] and batch.videos == 2


def test_disjoint_large_clips_share_no_frame(synth_data):
    """views.large_disjoint: the large clips take frames apart where the video allows it (the
    fixture's 16 frames hold two 8-frame clips at stride 1, not at stride 2)."""
    views = ViewsConfig(**{**VIEWS.__dict__, "frame_stride": 1, "large_disjoint": True})
    ds = ViewDataset(VideoSource(paths(synth_data)), views, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(20):
        first, second = ds._clip_plan(16, rng)[:2]
        assert not set(first.tolist()) & set(second.tolist())
    too_short = ds._clip_plan(15, rng)  # falls back to independent starts
    assert [len(c) for c in too_short] == [8, 8, 4, 4, 4]
    a = ds[(3, 0)]
    assert a["large"].shape == (2, 3, 8, 32, 32)


def test_broken_video_is_replaced_and_reported(synth_data, tmp_path):
    good = paths(synth_data)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    ds = ViewDataset(VideoSource([str(broken), str(empty)] + good[:2]), VIEWS, seed=0)
    sample = ds[(0, 0)]
    assert sample["index"] in (2, 3)
    assert sample["skipped"][0][0] == str(broken)
    assert "broken.mp4" in sample["skipped"][0][1]


def test_only_broken_videos_give_up_with_a_clear_error(tmp_path):
    broken = tmp_path / "b.mp4"
    broken.write_bytes(b"junk")
    ds = ViewDataset(VideoSource([str(broken)]), VIEWS, seed=0, max_retries=2)
    with pytest.raises(TooManyBrokenVideos, match="3 videos in a row"):
        ds[(0, 0)]


def test_frame_cache_gives_the_same_views(synth_data):
    plain = ViewDataset(VideoSource(paths(synth_data)), VIEWS, seed=0)
    cached = ViewDataset(VideoSource(paths(synth_data), cache_mb=64), VIEWS, seed=0)
    for key in [(1, 0), (1, 1), (2, 0)]:
        a, b = plain[key], cached[key]
        assert (a["large"] == b["large"]).all() and (a["small"] == b["small"]).all()
    assert set(cached.source.cache.videos) == {1, 2}
    tiny = ViewDataset(VideoSource(paths(synth_data), cache_mb=0), VIEWS, seed=0)
    tiny[(1, 0)]
    assert not tiny.source.cache.videos  # disabled


def test_batches_stay_channels_last_with_the_same_values(synth_data):
    ds = ViewDataset(VideoSource(paths(synth_data)[:2]), VIEWS, seed=0)
    samples = [ds[(0, 0)], ds[(1, 0)]]
    batch = collate_views(samples)
    assert is_channels_last(batch.large) and is_channels_last(batch.small)
    assert torch.equal(batch.large, torch.stack([s["large"].contiguous() for s in samples]))
