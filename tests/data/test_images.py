import numpy as np
import pytest
from PIL import Image

from vidrop.data.images import ImageError, is_image, read_image
from vidrop.data.manifest import ManifestError, read_manifest


def test_read_image_gives_one_rgb_frame(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    Image.fromarray(rgb[..., 0]).save(tmp_path / "grey.png")  # one channel: made RGB
    frame = read_image(tmp_path / "a.png")
    assert frame.shape == (1, 5, 7, 3) and (frame[0].numpy() == rgb).all()
    grey = read_image(tmp_path / "grey.png")[0].numpy()
    assert (grey == rgb[..., :1]).all()
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ImageError, match="broken.jpg: cannot read the image"):
        read_image(tmp_path / "broken.jpg")
    assert is_image("x/y.JPEG") and not is_image("x/y.mp4")


def test_class_folders_read_as_a_manifest(tmp_path):
    for cls, n in (("cat", 2), ("dog", 1)):
        (tmp_path / cls).mkdir()
        for i in range(n):
            Image.new("RGB", (4, 4)).save(tmp_path / cls / f"{i}.png")
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    m = read_manifest(tmp_path)
    assert [e.label for e in m.entries] == ["cat", "cat", "dog"]
    assert m.paths[0].endswith("cat/0.png")
    with pytest.raises(ManifestError, match="no class folders"):
        read_manifest(tmp_path / "dog")  # a folder of files, not of class folders
