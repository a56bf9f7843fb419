import numpy as np

from vidrop.data.sampling import (
    clip_frames,
    clip_indices,
    clip_span,
    disjoint_clip_starts,
    uniform_clip_starts,
)


def test_span_and_random_start_within_video():
    assert clip_span(16, 4) == 61
    rng = np.random.default_rng(0)
    starts = set()
    for _ in range(200):
        idx = clip_indices(100, 16, 4, rng)
        assert len(idx) == 16 and idx[0] >= 0 and idx[-1] <= 99
        assert (np.diff(idx) == 4).all()
        starts.add(int(idx[0]))
    assert min(starts) == 0 and max(starts) == 39  # every start in [0, 100 - 61] reachable


def test_centred_clip_and_short_video():
    assert clip_indices(100, 16, 4)[0] == 19
    short = clip_indices(10, 8, 2, np.random.default_rng(0))
    assert short.tolist() == [0, 2, 4, 6, 8, 9, 9, 9]  # repeats the last frame


def test_clip_frames_from_a_start():
    assert clip_frames(3, 4, 2, 100).tolist() == [3, 5, 7, 9]
    assert clip_frames(5, 4, 2, 9).tolist() == [5, 7, 8, 8]  # past the end: the last frame


def test_uniform_starts():
    assert uniform_clip_starts(100, 16, 4, 3) == [0, 20, 39]
    assert uniform_clip_starts(100, 16, 4, 1) == [19]


def test_disjoint_starts_never_share_a_frame_and_are_uniform_over_every_choice():
    rng = np.random.default_rng(0)
    span = clip_span(3, 2)  # 5 frames; 16 possible starts in 20 frames
    valid = {(a, b) for a in range(16) for b in range(16) if abs(a - b) >= span}
    assert len(valid) == 132
    counts = dict.fromkeys(valid, 0)
    for _ in range(20000):
        a, b = disjoint_clip_starts(20, 2, 3, 2, rng)
        counts[(a, b)] += 1  # a KeyError here: an overlapping or out-of-range pair
    assert min(counts.values()) > 100 and max(counts.values()) < 210  # 151.5 each expected


def test_disjoint_starts_for_three_clips_and_videos_too_short():
    rng = np.random.default_rng(1)
    for _ in range(200):
        starts = sorted(disjoint_clip_starts(30, 3, 3, 2, rng))
        assert starts[0] >= 0 and starts[-1] <= 25 and min(np.diff(starts)) >= 5
    assert disjoint_clip_starts(9, 2, 3, 2, rng) is None  # two 5-frame clips need 10 frames
    fits = {tuple(disjoint_clip_starts(10, 2, 3, 2, rng)) for _ in range(50)}
    assert fits == {(0, 5), (5, 0)}


def test_segment_sampling_takes_one_frame_per_segment_as_videomae_ssv2():
    import numpy as np

    from vidrop.data.sampling import segment_frames

    # 20 frames, 4 segments of 4.75: bounds round to 0 | 5 | 10 | 14 | 19; middles as
    # VideoMAE's (start + end) // 2
    assert segment_frames(20, 4).tolist() == [2, 7, 12, 16]
    assert segment_frames(20, 4, offset=0.0).tolist() == [0, 5, 10, 14]
    rng = np.random.default_rng(0)
    draws = np.stack([segment_frames(20, 4, rng) for _ in range(400)])
    assert draws.min(0).tolist() == [0, 5, 10, 14] and draws.max(0).tolist() == [5, 10, 14, 19]
    assert segment_frames(3, 8).max() <= 2  # a short video repeats frames


def test_training_and_test_views_sample_segments(tmp_path):
    import numpy as np

    from vidrop.config import load_config
    from vidrop.data.dataset import ViewDataset
    from vidrop.eval.views import EvalViews, clip_frame_indices, is_short

    views = load_config("tiny", ["views.sampling=segments", "views.large_disjoint=false"]).views
    plan = ViewDataset(None, views, 0)._clip_plan(64, np.random.default_rng(0))
    assert [len(p) for p in plan] == [8, 8, 4, 4, 4, 4]
    assert all(p[-1] >= 63 - 8 for p in plan[:2])  # each large clip reaches the video's end
    test = EvalViews(frames=4, size=64, stride=2, clips=2, sampling="segments")
    a, b = clip_frame_indices(20, test)
    assert a.tolist() == [1, 6, 11, 15] and b.tolist() == [4, 9, 13, 18]  # offsets 1/4, 3/4
    assert is_short(3, test) and not is_short(4, test)
