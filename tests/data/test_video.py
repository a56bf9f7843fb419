from pathlib import Path

import av
import numpy as np
import pytest
import torch

from vidrop.data.video import (
    VideoError,
    iter_frames,
    probe,
    read_frames,
    resize_short_side,
    write_video,
)


@pytest.fixture(scope="module")
def numbered_video(tmp_path_factory):
    """40 frames whose brightness encodes the frame index (survives lossy coding)."""
    path = tmp_path_factory.mktemp("v") / "n.mp4"
    frames = np.stack([np.full((32, 48, 3), 5 * i + 20, dtype=np.uint8) for i in range(40)])
    write_video(str(path), frames, fps=10, gop=8)
    return str(path)


def index_of(frame: np.ndarray) -> int:
    return round((float(frame.mean()) - 20) / 5)


def test_probe(numbered_video):
    info = probe(numbered_video)
    assert (info.frames, info.height, info.width) == (40, 32, 48)
    assert info.fps == pytest.approx(10)


def test_read_exact_frames_with_seek(numbered_video):
    for indices in ([0, 1, 2], [17, 21, 25, 29], [39], [30, 10, 10, 35]):
        frames = read_frames(numbered_video, indices)
        assert frames.shape == (len(indices), 32, 48, 3)
        assert [index_of(f) for f in frames] == indices


def test_indices_past_the_end_repeat_the_last_frame(numbered_video):
    frames = read_frames(numbered_video, [38, 39, 45, 60])
    assert [index_of(f) for f in frames] == [38, 39, 39, 39]


def test_frames_equal_pyav_own_rgb_conversion(tmp_path):
    """The shared per-video reformatter changes the speed, not one pixel: textured frames (all
    chroma values in play) compared with PyAV's per-frame `to_ndarray(format="rgb24")`."""
    rng = np.random.default_rng(0)
    path = str(tmp_path / "noise.mp4")
    write_video(path, rng.integers(0, 256, (12, 38, 50, 3), dtype=np.uint8), fps=10, gop=4)
    with av.open(path) as container:
        reference = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    np.testing.assert_array_equal(read_frames(path, list(range(12))), reference)
    np.testing.assert_array_equal(read_frames(path, [9, 5, 11]), reference[[9, 5, 11]])
    np.testing.assert_array_equal(np.concatenate(list(iter_frames(path, chunk=5))), reference)


def test_broken_and_empty_files_raise_video_error(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x01garbage" * 100)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    for path in (bad, empty):
        with pytest.raises(VideoError, match=path.name):
            probe(str(path))
        with pytest.raises(VideoError, match=path.name):
            read_frames(str(path), [0])


def test_truncated_file_raises_video_error(numbered_video, tmp_path):
    data = Path(numbered_video).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(VideoError):
        probe(str(cut))
        read_frames(str(cut), list(range(40)))


def test_resize_short_side():
    x = torch.randint(0, 255, (2, 30, 60, 3), dtype=torch.uint8)
    y = resize_short_side(x, 15)
    assert y.shape == (2, 15, 30, 3) and y.dtype == torch.uint8
    assert resize_short_side(x, 0) is x
