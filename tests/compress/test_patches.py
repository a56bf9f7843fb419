import torch

from vidrop.compress.patches import (
    compression_factor,
    decode_codes,
    patchify,
    storage_size,
)


def test_factor_for_10x10_uint16_is_exactly_150():
    assert compression_factor(10) == 150.0
    assert compression_factor(8) == 96.0


def test_patchify_layout_and_inverse():
    frames = torch.randint(0, 256, (3, 20, 30, 3), dtype=torch.uint8)
    p = patchify(frames, 10)
    assert p.shape == (3, 2, 3, 300)
    # patch (t, i, j) is the pixel block rows 10i.., cols 10j.., in (row, col, channel) order
    block = frames[1, 10:20, 20:30].reshape(-1)
    assert torch.equal(p[1, 1, 2], block)
    # every pixel in exactly one patch
    assert sorted(p.flatten().tolist()) == sorted(frames.flatten().tolist())


def test_decode_places_each_codebook_patch_at_its_code():
    table = torch.randint(0, 256, (7, 4 * 4 * 3), dtype=torch.uint8)
    codes = torch.randint(0, 7, (2, 3, 5))
    frames = decode_codes(codes, table)
    assert frames.shape == (2, 12, 20, 3)
    for t in range(2):
        for i in range(3):
            for j in range(5):
                patch = frames[t, 4 * i : 4 * i + 4, 4 * j : 4 * j + 4]
                assert torch.equal(patch, table[codes[t, i, j]].reshape(4, 4, 3))


def test_storage_size_rounds_to_the_patch():
    assert storage_size(272, 640, 240, 10) == (240, 560)  # 240 x 564.7 -> 560
    assert storage_size(720, 1280, 240, 10) == (240, 430)
    assert storage_size(144, 176, 0, 10) == (140, 180)  # native size, rounded
