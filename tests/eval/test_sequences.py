"""The label-propagation readers: DAVIS-2017's folders (a fixture in its real layout) and the
synthetic set's videos with masks/ beside them."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vidrop.data.manifest import read_manifest
from vidrop.data.synth import load_masks
from vidrop.eval.propagate import evaluate_propagation
from vidrop.eval.sequences import davis_names, davis_sequences, synth_sequences
from vidrop.models.vit import VideoViT, ViTConfig

PALETTE = [0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * (256 * 3 - 9)  # DAVIS: 1 red, 2 green


def write_davis(root: Path, seqs: dict[str, int], size: tuple[int, int] = (24, 32)) -> None:
    """DAVIS-2017 trainval 480p layout: JPEG frames, palette-PNG annotations (pixel value =
    object id), ImageSets/2017/val.txt. Object 1 is a square moving right, object 2 a bar."""
    h, w = size
    (root / "ImageSets" / "2017").mkdir(parents=True)
    (root / "ImageSets" / "2017" / "val.txt").write_text("".join(f"{s}\n" for s in seqs) + "\n")
    for name, frames in seqs.items():
        images = root / "JPEGImages" / "480p" / name
        annotations = root / "Annotations" / "480p" / name
        images.mkdir(parents=True)
        annotations.mkdir(parents=True)
        for t in range(frames):
            ids = np.zeros((h, w), np.uint8)
            ids[4:12, 2 + 2 * t : 10 + 2 * t] = 1
            ids[16:20, :] = 2
            Image.fromarray(np.full((h, w, 3), 40 * t, np.uint8)).save(images / f"{t:05d}.jpg")
            png = Image.fromarray(ids, mode="P")
            png.putpalette(PALETTE)
            png.save(annotations / f"{t:05d}.png")


def test_davis_folders_give_frames_and_object_ids(tmp_path):
    write_davis(tmp_path, {"bike-packing": 3, "blackswan": 2})
    names = davis_names(tmp_path)
    assert names == ["bike-packing", "blackswan"]  # the blank last line is not a sequence
    seqs = list(davis_sequences(tmp_path, names))
    assert [s.name for s in seqs] == names
    first = seqs[0]
    assert first.frames.shape == (3, 24, 32, 3) and first.masks.shape == (3, 24, 32)
    assert set(first.masks.unique().tolist()) == {0, 1, 2}  # palette index, not RGB
    assert first.masks[2, 4, 6].item() == 1 and first.masks[2, 4, 2].item() == 0  # moved right
    assert abs(first.frames[2].float().mean().item() - 80) < 2  # frames in order (JPEG ~lossy)


def test_davis_without_image_sets_names_what_to_give(tmp_path):
    with pytest.raises(FileNotFoundError, match="JPEGImages/, Annotations/ and ImageSets/"):
        davis_names(tmp_path)


def test_davis_missing_annotation_names_the_file(tmp_path):
    write_davis(tmp_path, {"dog": 2})
    (tmp_path / "Annotations" / "480p" / "dog" / "00001.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"dog/00001\.png: missing annotation"):
        list(davis_sequences(tmp_path, ["dog"]))


def test_synth_sequences_pair_each_video_with_its_masks(eval_data):
    total, seqs = synth_sequences(eval_data["val"], limit=2)
    seqs = list(seqs)
    assert total == 2 and len(seqs) == 2
    root = Path(eval_data["val"]).parent
    truth = load_masks(root / "masks" / f"{seqs[0].name}.npz")
    assert seqs[0].frames.shape[:3] == seqs[0].masks.shape
    assert np.array_equal(seqs[0].masks.numpy(), truth[: len(seqs[0].masks)])


def test_synth_sequences_without_masks_say_which_video(eval_data, tmp_path):
    """A manifest of videos with no masks/ beside them fails before any work, naming the file."""
    video = read_manifest(eval_data["val"]).paths[0]
    (tmp_path / "videos").mkdir()
    shutil.copy(video, tmp_path / "videos" / Path(video).name)
    (tmp_path / "val.csv").write_text(f"path,label\nvideos/{Path(video).name},a\n")
    with pytest.raises(FileNotFoundError, match=rf"{Path(video).stem}\.npz: no object masks"):
        synth_sequences(tmp_path / "val.csv")


def test_davis_sequences_run_through_the_propagation(tmp_path):
    """Sides that are not multiples of the patch (DAVIS: 854 px) and an odd frame count (the last
    chunk padded): every object of the first frame is scored at the annotations' full size."""
    write_davis(tmp_path, {"bike-packing": 3})
    torch.manual_seed(0)
    model = VideoViT(ViTConfig(arch="vit_t", depth=1, num_frames=2, img_size=32)).eval()
    r = evaluate_propagation(model, davis_sequences(tmp_path, davis_names(tmp_path)), 1)
    assert r.sequences == 1 and r.objects == 2 and not r.skipped
    assert 0 <= r.jf_mean <= 100 and len(r.per_sequence["bike-packing"]["j"]) == 2
