import pytest
import torch

from vidrop.compress.codebook import Codebook, CodebookMeta
from vidrop.compress.kmeans import nearest
from vidrop.compress.patches import patchify


def integer_codebook(k: int = 32, patch: int = 4, seed: int = 0) -> Codebook:
    g = torch.Generator().manual_seed(seed)
    centroids = torch.randint(0, 256, (k, patch * patch * 3), generator=g).float()
    return Codebook(centroids, CodebookMeta(patch=patch, k=k, short_side=0))


def test_frames_made_of_codebook_patches_round_trip_losslessly():
    cb = integer_codebook()
    codes = torch.randint(0, 32, (3, 5, 6))
    frames = cb.decode(codes)
    assert frames.shape == (3, 20, 24, 3)
    assert torch.equal(cb.encode(frames), codes)
    assert torch.equal(cb.decode(cb.encode(frames)), frames)


def test_encode_picks_the_nearest_centroid_and_decode_gives_its_patch():
    cb = integer_codebook()
    frames = torch.randint(0, 256, (2, 8, 12, 3), dtype=torch.uint8)
    codes = cb.encode(frames)
    x = patchify(frames, 4).reshape(-1, 48).float()
    brute = torch.cdist(x, cb.centroids).argmin(1)
    assert torch.equal(codes.flatten(), brute)
    rec = cb.decode(codes)
    assert torch.equal(patchify(rec, 4), cb.table[codes])  # exactly the table's patches


def test_save_load_round_trip(tmp_path):
    cb = integer_codebook()
    cb.meta.stats = {"samples": 10}
    cb.save(tmp_path / "cb.safetensors")
    back = Codebook.load(tmp_path / "cb")
    assert torch.equal(back.centroids, cb.centroids) and back.meta == cb.meta
    ids, _ = nearest(back.centroids, cb.centroids)
    assert torch.equal(ids, torch.arange(32))


def test_missing_codebook_names_the_file_and_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="vidrop compress fit"):
        Codebook.load(tmp_path / "nope")
