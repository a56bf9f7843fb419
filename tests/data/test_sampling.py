import numpy as np

from vidrop.data.sampling import clip_indices, clip_span, uniform_clip_starts


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


def test_uniform_starts():
    assert uniform_clip_starts(100, 16, 4, 3) == [0, 20, 39]
    assert uniform_clip_starts(100, 16, 4, 1) == [19]
