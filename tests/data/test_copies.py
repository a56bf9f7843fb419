import os
from pathlib import Path

import numpy as np
import pytest

import vidrop.data.copies as copies
from tests.helpers import manifest_rows
from vidrop.data.copies import CopyEdits, edit_copy, make_copies
from vidrop.data.manifest import read_manifest
from vidrop.data.video import iter_frames, probe


def test_a_copy_is_edited_trimmed_and_even_sized():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (20, 31, 45, 3), dtype=np.uint8)
    copy = edit_copy(frames, np.random.default_rng(1), CopyEdits())
    assert copy.dtype == np.uint8 and copy.shape[1:] == (30, 44, 3)
    assert 20 - 2 * 4 <= copy.shape[0] <= 20  # at most 20% cut at each end
    again = edit_copy(frames, np.random.default_rng(1), CopyEdits())
    assert np.array_equal(copy, again)  # the same generator, the same copy
    plain = CopyEdits(
        area=(1, 1), aspect=(1, 1), flip=0, brightness=0, contrast=0, scale=(1, 1), noise=0, trim=0
    )
    assert np.array_equal(edit_copy(frames[:, :30, :44], rng, plain), frames[:, :30, :44])


def test_copies_of_a_manifest_and_its_distractors(synth_data, tmp_path):
    originals = read_manifest(synth_data["val"])
    originals.entries = originals.entries[:3]
    distractors = read_manifest(synth_data["train"])
    distractors.entries = distractors.entries[:2]
    (tmp_path / "bad.mp4").write_bytes(b"not a video")
    (tmp_path / "bad.csv").write_text("path\nbad.mp4\n")
    distractors.entries += read_manifest(tmp_path / "bad.csv").entries

    made = make_copies(originals, tmp_path / "cd", seed=0, distractors=distractors)
    queries = made.queries
    assert made.written == 5 and len(made.skipped) == 1
    rows = manifest_rows(queries)
    assert [r["label"] for r in rows] == [*(p.split("/")[-1] for p in originals.paths), "", ""]
    first = read_manifest(queries).paths[0]
    copy = np.concatenate(list(iter_frames(first)))
    original = np.concatenate(list(iter_frames(originals.paths[0])))
    assert copy.shape[1:] == original.shape[1:] and copy.shape[0] <= original.shape[0]
    assert probe(first).frames == copy.shape[0]
    again = make_copies(originals, tmp_path / "cd2", seed=0).queries  # lossless: repeatable
    second = read_manifest(again).paths[0]
    assert np.array_equal(np.concatenate(list(iter_frames(second))), copy)
    assert "bad.mp4" in (tmp_path / "cd" / "skipped.txt").read_text()  # skipped and listed


def test_copy_edits_are_bounded():
    with pytest.raises(ValueError, match="1x1 pixels are too small"):
        edit_copy(np.zeros((4, 1, 1, 3), np.uint8), np.random.default_rng(0), CopyEdits())


def test_originals_sharing_a_file_name_are_labelled_by_path(synth_data, tmp_path):
    video = read_manifest(synth_data["val"]).paths[0]
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.mp4").write_bytes(Path(video).read_bytes())
    (tmp_path / "m.csv").write_text("path\na/x.mp4\nb/x.mp4\n")
    originals = read_manifest(tmp_path / "m.csv")
    rows = manifest_rows(make_copies(originals, tmp_path / "cd").queries)
    assert [r["label"] for r in rows] == originals.paths


def test_copies_made_whole_from_the_same_inputs_are_kept_not_encoded_again(
    synth_data, tmp_path, monkeypatch
):
    originals = read_manifest(synth_data["val"])
    originals.entries = originals.entries[:2]
    first = make_copies(originals, tmp_path / "cd", seed=0)

    class Encoded(BaseException):  # as an interruption would, it passes through atomic_path
        pass

    def refuse(*args, **kwargs):
        raise Encoded

    monkeypatch.setattr(copies, "write_video", refuse)
    assert make_copies(originals, tmp_path / "cd", seed=0) == first  # a resumed run
    with pytest.raises(Encoded):  # other inputs: made anew
        make_copies(originals, tmp_path / "cd", seed=1)
    with pytest.raises(Encoded):  # that set, interrupted, is not trusted
        make_copies(originals, tmp_path / "cd", seed=0)
    monkeypatch.undo()
    assert make_copies(originals, tmp_path / "cd", seed=0) == first
    monkeypatch.setattr(copies, "write_video", refuse)
    st = os.stat(originals.paths[0])
    os.utime(originals.paths[0], ns=(0, 0))  # an original rewritten in place
    with pytest.raises(Encoded):
        make_copies(originals, tmp_path / "cd", seed=0)
    os.utime(originals.paths[0], ns=(st.st_atime_ns, st.st_mtime_ns))  # the fixture is shared
    monkeypatch.undo()
    assert make_copies(originals, tmp_path / "cd", seed=0) == first
    (tmp_path / "cd" / "videos" / "q00001.mp4").unlink()
    monkeypatch.setattr(copies, "write_video", refuse)
    with pytest.raises(Encoded):  # nor is a set missing a video
        make_copies(originals, tmp_path / "cd", seed=0)
