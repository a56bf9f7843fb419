import numpy as np
import torch

from vidrop.data.views import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    CropBox,
    crop_resize,
    normalize,
    random_resized_box,
)


def test_random_resized_box_respects_scale_and_ratio():
    rng = np.random.default_rng(0)
    for _ in range(500):
        b = random_resized_box(120, 160, (0.2, 0.6), (0.75, 1.333), rng)
        assert b.top >= 0 and b.top + b.height <= 120 and b.left >= 0 and b.left + b.width <= 160
        share = b.height * b.width / (120 * 160)
        assert 0.18 <= share <= 0.62
        assert 0.7 <= b.width / b.height <= 1.4


def test_crop_resize_flip_and_layout():
    frames = torch.zeros(4, 20, 30, 3, dtype=torch.uint8)
    frames[:, :, :15, 0] = 200  # left half red
    out = crop_resize(frames, CropBox(0, 0, 20, 30), 10)
    assert out.shape == (3, 4, 10, 10) and out.dtype == torch.uint8
    assert out[0, :, :, 0].float().mean() > 150 and out[0, :, :, -1].float().mean() < 50
    flipped = crop_resize(frames, CropBox(0, 0, 20, 30), 10, flip=True)
    assert torch.equal(flipped, out.flip(-1))


def test_normalize():
    x = torch.full((2, 3, 1, 2, 2), 255, dtype=torch.uint8)
    y = normalize(x)
    expected = [(1 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD, strict=True)]
    torch.testing.assert_close(y[0, :, 0, 0, 0], torch.tensor(expected))


def test_uint8_resize_stays_within_one_level_of_the_float_path():
    import torch.nn.functional as F

    from vidrop.data.views import resize_uint8

    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (4, 37, 51, 3), dtype=torch.uint8, generator=g)[:, 2:35, 3:50]
    x = x.permute(0, 3, 1, 2)  # a cropped, channels-last view, as crop_resize passes it
    for size in [(24, 24), (64, 80)]:
        fast = resize_uint8(x, size)
        ref = F.interpolate(x.float(), size=size, mode="bilinear", antialias=True)
        ref = ref.round().clamp(0, 255)
        assert fast.dtype == torch.uint8 and fast.shape == (4, 3, *size)
        assert (fast.float() - ref).abs().max() <= 1
