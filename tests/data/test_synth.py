import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers import manifest_rows
from vidrop.data.synth import (
    HUES,
    SynthSpec,
    _backgrounds,
    load_masks,
    make_dataset,
    render_video,
)
from vidrop.data.video import probe, read_frames
from vidrop.eval.segmentation_metrics import boundary


def test_manifests_masks_and_classes(synth_data):
    root = Path(synth_data["train"]).parent
    train = manifest_rows(synth_data["train"])
    val = manifest_rows(synth_data["val"])
    assert len(train) + len(val) == 24 and len(val) == 12  # one val video per class
    assert {r["label"] for r in val} == {r["label"] for r in train}
    assert len({r["label"] for r in train}) == 12
    video = root / train[0]["path"]
    info = probe(str(video))
    assert (info.frames, info.height, info.width) == (16, 64, 64)
    masks = load_masks(root / "masks" / (video.stem + ".npz"))
    assert masks.shape == (16, 64, 64) and 0.01 < masks.mean() < 0.5


def test_same_seed_same_pixels_other_seed_other_pixels():
    spec = SynthSpec(videos=12, size=32, frames=4)
    bgs = _backgrounds()
    a, _ = render_video(spec, "square_rise", np.random.default_rng([0, 1]), bgs)
    b, _ = render_video(spec, "square_rise", np.random.default_rng([0, 1]), bgs)
    c, _ = render_video(spec, "square_rise", np.random.default_rng([1, 1]), bgs)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_rise_and_fall_move_the_object_the_right_way():
    spec = SynthSpec(videos=12, size=64, frames=6)
    bgs = _backgrounds()
    for label, sign in (("cross_rise", -1), ("cross_fall", 1)):
        _, masks = render_video(spec, label, np.random.default_rng(3), bgs)
        ys = [np.nonzero(m)[0].mean() for m in masks]
        steps = np.diff(ys)
        assert (np.sign(steps[np.abs(steps) < 10]) == sign).all(), label  # ignore the wrap


def test_mask_marks_the_object_colour():
    spec = SynthSpec(videos=12, size=64, frames=2)
    frames, masks = render_video(spec, "square_spin", np.random.default_rng(5), _backgrounds())
    inside = frames[masks].astype(float).mean(0)
    assert inside[2] > inside[0] + 80  # the square is blue


@pytest.mark.slow
def test_decoded_videos_are_deterministic(tmp_path):
    """Same pixels out of the files, at the demo's clip length, written by parallel workers."""
    spec = SynthSpec(videos=24, size=64, frames=32)
    make_dataset(tmp_path / "a", spec, workers=2)
    make_dataset(tmp_path / "b", spec, workers=2)
    for f in sorted((tmp_path / "a" / "videos").iterdir()):
        a = read_frames(str(f), list(range(32)))
        assert np.array_equal(a, read_frames(str(tmp_path / "b" / "videos" / f.name), range(32)))
    assert a.shape == (32, 64, 64, 3)


def test_bad_spec_and_conflicting_folder(tmp_path):
    with pytest.raises(ValueError, match="too few"):
        SynthSpec(videos=5).check()
    with pytest.raises(ValueError, match="even"):
        SynthSpec(size=33).check()
    make_dataset(tmp_path, SynthSpec(videos=24, size=32, frames=2))
    with pytest.raises(FileExistsError, match="other settings"):
        make_dataset(tmp_path, SynthSpec(videos=24, size=32, frames=3))
    meta = json.loads((tmp_path / "synth.json").read_text())
    del meta["render_version"]  # as written before render versions existed
    (tmp_path / "synth.json").write_text(json.dumps(meta))
    with pytest.raises(FileExistsError, match="older vidrop.*version 1, now 2"):
        make_dataset(tmp_path, SynthSpec(videos=24, size=32, frames=2))


def test_scene_cuts_change_the_background_but_not_the_object():
    spec = SynthSpec(videos=12, size=64, frames=24, shot_frames=8)
    frames, masks = render_video(spec, "square_spin", np.random.default_rng(0), _backgrounds())
    background = [frames[t][~masks[t]].astype(float).mean(0) for t in range(24)]
    jumps = [np.abs(background[t + 1] - background[t]).max() for t in range(23)]
    assert sum(j > 8 for j in jumps) >= 2  # at least two cuts in 24 frames
    inside = [frames[t][masks[t]].astype(float).mean(0) for t in range(24)]
    assert np.ptp(np.stack(inside), axis=0).max() < 20  # the object keeps its colour


def _interior(mask: np.ndarray) -> np.ndarray:
    """Mask pixels off its boundary (no anti-aliased edge), by the J&F metric's own boundary."""
    return mask & ~boundary(torch.from_numpy(mask)).numpy()


def test_no_per_video_colour_or_place():
    """No per-video shortcut for self-supervision: every video of a shape has exactly its hue, and
    each scene cut puts the object somewhere else (here a spinning one, which does not travel)."""
    spec = SynthSpec(videos=12, size=64, frames=24, shot_frames=8)
    bgs = _backgrounds()
    for seed in (0, 1):
        frames, masks = render_video(spec, "square_spin", np.random.default_rng(seed), bgs)
        inside = np.concatenate([frames[t][_interior(masks[t])] for t in range(24)]).astype(float)
        assert np.abs(inside.mean(0) - HUES["square"]).max() < 2  # sensor noise only
        centre = np.stack([np.argwhere(m).mean(0) for m in masks])
        moved = np.abs(np.diff(centre, axis=0)).max(1) > 0.5  # a spin: < 0.3 px
        background = [frames[t][~masks[t]].astype(float).mean(0) for t in range(24)]
        cut = np.array([np.abs(background[t + 1] - background[t]).max() > 8 for t in range(23)])
        assert moved.sum() >= 2 and (moved == cut).all()  # it moves at the cuts and only there


def test_the_glyphs_family_is_another_look_and_other_motions(tmp_path):
    """`data synth --family glyphs`: 12 classes of its own shapes, hues and motions (none the
    demo's), each object drawn in its shape's hue."""
    from vidrop.cli import main
    from vidrop.data import synth_glyphs
    from vidrop.data.synth import MOTIONS, SHAPES

    assert not set(synth_glyphs.SHAPES) & set(SHAPES) and not set(synth_glyphs.MOTIONS) & set(
        MOTIONS
    )
    assert not set(synth_glyphs.HUES.values()) & set(HUES.values())
    argv = ["data", "synth", "--family", "glyphs", "--out", str(tmp_path), "--videos", "24"]
    assert main([*argv, "--size", "32", "--frames", "4"]) == 0
    rows = manifest_rows(tmp_path / "train.csv") + manifest_rows(tmp_path / "val.csv")
    shapes, motions = zip(*(r["label"].split("_") for r in rows), strict=True)
    assert set(shapes) == set(synth_glyphs.SHAPES) and set(motions) == set(synth_glyphs.MOTIONS)
    spec = SynthSpec.of_family("glyphs", videos=12, size=64, frames=4)
    frames, masks = render_video(spec, "bar_shake", np.random.default_rng(0), [])
    inside = np.concatenate([frames[t][_interior(masks[t])] for t in range(4)]).astype(float)
    assert np.abs(inside.mean(0) - synth_glyphs.HUES["bar"]).max() < 2  # sensor noise only


def _track(label: str, frames: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Centre (y, x) and area of the object in each frame of one glyphs video, one shot."""
    spec = SynthSpec.of_family("glyphs", videos=12, size=64, frames=frames, shot_frames=0)
    _, masks = render_video(spec, label, np.random.default_rng(2), [])
    return np.stack([np.argwhere(m).mean(0) for m in masks]), masks.sum((1, 2))


def test_each_glyphs_motion_moves_as_named():
    orbit, _ = _track("ring_orbit")
    radius = np.linalg.norm(orbit - orbit.mean(0), axis=1)
    assert 0.15 * 64 < radius.mean() < 0.25 * 64 and radius.std() < 2.5  # a circle, 1/5 frame
    zigzag, _ = _track("ring_zigzag")
    steps = np.diff(zigzag[:, 1])
    steps = steps[np.abs(steps) < 10]  # not the wrap from one side to the other
    assert len(set(np.sign(steps))) == 1 and np.abs(steps).mean() > 2  # one way sideways
    assert np.ptp(zigzag[:, 0]) > 8  # and up and down
    _, area = _track("star_grow")
    assert area.max() > 3 * area.min()  # half to one and a half of its size: 9x the area
    shake, _ = _track("bar_shake")
    x = shake[:, 1] - shake[:, 1].mean()
    assert np.abs(x[3:] - x[:-3]).max() < 0.5 and np.ptp(x) > 4  # a 3-frame period, no travel
