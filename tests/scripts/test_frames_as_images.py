from pathlib import Path

import numpy as np
from PIL import Image

from tests.helpers import load_script
from vidrop.data.manifest import read_manifest
from vidrop.data.video import probe, read_frames


def test_middle_frames_land_in_class_folders(eval_data, tmp_path):
    load_script("frames_as_images").main(eval_data["val"], str(tmp_path / "img"))
    videos = read_manifest(eval_data["val"]).entries
    images = read_manifest(tmp_path / "img")  # class folders read back as a manifest
    assert sorted(e.label for e in images.entries) == sorted(e.label for e in videos)
    first = videos[0]
    middle = read_frames(first.path, [probe(first.path).frames // 2])[0]
    png = np.asarray(Image.open(tmp_path / "img" / first.label / f"{Path(first.path).stem}.png"))
    assert (png == middle).all()
