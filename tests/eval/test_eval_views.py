import numpy as np
import torch

from vidrop.eval.views import EvalViews, clip_frame_indices, crop_boxes, is_short, make_views


def test_three_crops_run_along_the_long_side():
    assert [(b.top, b.left) for b in crop_boxes(32, 48, 3)] == [(0, 0), (0, 8), (0, 16)]
    assert [(b.top, b.left) for b in crop_boxes(48, 32, 3)] == [(0, 0), (8, 0), (16, 0)]
    assert [(b.top, b.left, b.height) for b in crop_boxes(32, 48, 1)] == [(0, 8, 32)]


def test_clips_spread_over_the_video_and_short_videos_repeat_the_last_frame():
    v = EvalViews(frames=4, size=32, stride=2, clips=3)
    idx = clip_frame_indices(27, v)  # span 7, slack 20: starts 0, 10, 20
    assert [i.tolist() for i in idx] == [[0, 2, 4, 6], [10, 12, 14, 16], [20, 22, 24, 26]]
    assert not is_short(27, v) and is_short(6, v)
    assert clip_frame_indices(5, v)[0].tolist() == [0, 2, 4, 4]


def test_views_are_clip_major_and_hold_the_right_pixels():
    v = EvalViews(frames=2, size=32, stride=1, clips=2, crops=3)
    frames = torch.arange(4, dtype=torch.uint8)[:, None, None, None].expand(4, 32, 48, 3)
    frames = frames.clone()
    frames[:, :, 40:] = 200  # the right end is bright: only the third crop reaches it
    clips = [np.array([0, 1]), np.array([2, 3])]
    out = make_views(frames, clips, v)
    assert out.shape == (6, 3, 2, 32, 32)
    assert out[3, 0, :, 0, 0].tolist() == [2, 3]  # view 3 = clip 1, crop 0
    assert out[2, 0, 0, 0, -1] == 200 and out[1, 0, 0, 0, -1] == 0


def test_an_image_is_a_clip_standing_still_centre_cropped(tmp_path):
    from PIL import Image

    from vidrop.data.images import read_image
    from vidrop.eval.features import ViewsDataset

    rgb = np.random.default_rng(0).integers(0, 256, (32, 48, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes(b"broken")
    views = EvalViews(frames=2, size=32, stride=1)
    data = ViewsDataset([str(tmp_path / "a.png"), str(tmp_path / "b.png")], views)
    clip, ok, short = data[0]
    # short side already 32: no resize; the centre 32x32 of the 48 columns, in both frames
    expected = torch.from_numpy(rgb[:, 8:40]).permute(2, 0, 1)
    assert clip.shape == (1, 3, 2, 32, 32) and ok and not short
    assert torch.equal(clip[0, :, 0], expected) and torch.equal(clip[0, :, 1], expected)
    assert read_image(tmp_path / "a.png").shape == (1, 32, 48, 3)
    blank, ok, _ = data[1]  # a broken image is skipped and counted, as a broken video
    assert not ok and blank.shape == clip.shape
