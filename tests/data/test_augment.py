"""DINO's photometric augmentations on clips: hand-computed pixels, one draw per clip (every
frame alike), DINO's probabilities, and the training step that uses them."""

import colorsys
import math

import pytest
import torch

from vidrop.data import augment as A


def clip(values: list[list[float]], frames: int = 3) -> torch.Tensor:
    """(1, 3, frames, 1, len) clip whose every frame holds the RGB pixels `values`."""
    x = torch.tensor(values, dtype=torch.float32).t()  # (3, W)
    return x[None, :, None, None, :].expand(1, 3, frames, 1, len(values)).contiguous()


def params(n: int = 1, **change) -> A.ClipAugment:
    base = {
        "brightness": torch.ones(n),
        "contrast": torch.ones(n),
        "saturation": torch.ones(n),
        "hue": torch.zeros(n),
        "order": torch.arange(4).repeat(n, 1),
        "grayscale": torch.zeros(n, dtype=torch.bool),
        "sigma": torch.zeros(n),
        "solarize": torch.zeros(n, dtype=torch.bool),
    }
    return A.ClipAugment(**{**base, **change})


def test_each_operation_against_hand_computed_pixels():
    x = clip([[0.5, 0.2, 0.1], [0.9, 0.9, 0.3]])
    out = A.apply(x, params(brightness=torch.tensor([1.2])))
    torch.testing.assert_close(out[0, :, 0, 0, 0], torch.tensor([0.6, 0.24, 0.12]))
    assert out[0, 0, 0, 0, 1] == 1.0  # 0.9 * 1.2 clamps to 1
    # contrast 0.5 blends halfway to the clip's mean grey
    g = [0.299 * r + 0.587 * gg + 0.114 * b for r, gg, b in ([0.5, 0.2, 0.1], [0.9, 0.9, 0.3])]
    mean = sum(g) / 2
    out = A.apply(x, params(contrast=torch.tensor([0.5])))
    torch.testing.assert_close(out[0, 0, 0, 0, 0], torch.tensor(0.5 * 0.5 + 0.5 * mean))
    # saturation 0 gives each pixel's grey; grayscale too
    for p in (params(saturation=torch.tensor([0.0])), params(grayscale=torch.tensor([True]))):
        out = A.apply(x, p)
        torch.testing.assert_close(out[0, :, 0, 0, 0], torch.full((3,), g[0]))
    out = A.apply(x, params(solarize=torch.tensor([True])))
    torch.testing.assert_close(out[0, :, 0, 0, 1], torch.tensor([0.1, 0.1, 0.3]))  # >= 0.5 flip
    # hue against Python's colorsys, a third of a turn turns red into green
    out = A.apply(clip([[1.0, 0.0, 0.0]]), params(hue=torch.tensor([1 / 3])))
    torch.testing.assert_close(out[0, :, 0, 0, 0], torch.tensor([0.0, 1.0, 0.0]), atol=1e-6, rtol=0)
    rgb = [0.8, 0.35, 0.2]
    out = A.apply(clip([rgb]), params(hue=torch.tensor([-0.07])))
    h, s, v = colorsys.rgb_to_hsv(*rgb)
    want = torch.tensor(colorsys.hsv_to_rgb((h - 0.07) % 1, s, v))
    torch.testing.assert_close(out[0, :, 0, 0, 0], want, atol=1e-6, rtol=0)


def test_blur_is_a_normalised_gaussian_of_nine_taps_on_every_frame():
    x = torch.zeros(1, 3, 2, 17, 17)
    x[:, :, :, 8, 8] = 1.0  # a point in the middle of every frame, far from the borders
    out = A.apply(x, params(sigma=torch.tensor([1.5])))
    k = torch.tensor([math.exp(-0.5 * (i / 1.5) ** 2) for i in range(-4, 5)])
    k = k / k.sum()
    want = torch.zeros(17, 17)
    want[4:13, 4:13] = torch.outer(k, k)
    torch.testing.assert_close(out[0, 0, 0], want, atol=1e-6, rtol=0)
    assert torch.equal(out[:, :, 0], out[:, :, 1])


def test_jitter_follows_each_clips_own_order():
    x = clip([[0.9, 0.3, 0.2], [0.1, 0.2, 0.3]])  # brightness clamps: the order matters
    b, c = torch.tensor([1.4]), torch.tensor([0.4])
    first_b = A.apply(x, params(brightness=b, contrast=c, order=torch.tensor([[0, 1, 2, 3]])))
    first_c = A.apply(x, params(brightness=b, contrast=c, order=torch.tensor([[1, 0, 2, 3]])))
    torch.testing.assert_close(first_b, A.adjust_contrast(A.adjust_brightness(x, b), c))
    torch.testing.assert_close(first_c, A.adjust_brightness(A.adjust_contrast(x, c), b))
    assert not torch.allclose(first_b, first_c)


def test_one_draw_per_clip_keeps_its_frames_consistent():
    g = torch.Generator().manual_seed(0)
    frame = torch.randint(0, 256, (16, 1, 3, 1, 24, 24), dtype=torch.uint8)
    views = frame.expand(16, 2, 3, 4, 24, 24).contiguous()  # two views, four equal frames
    out = A.augment_views(views, ["large0", "large1"], g)
    assert torch.equal(out, out[:, :, :, :1].expand_as(out))  # every frame alike
    assert not torch.equal(out, views.float())  # and something happened
    again = A.augment_views(views, ["large0", "large1"], torch.Generator().manual_seed(0))
    assert torch.equal(out, again)  # the draws follow the generator


PROFILES = [("large0", 1.0, 0.0), ("large1", 0.1, 0.2), ("small", 0.5, 0.0)]


@pytest.mark.parametrize(("profile", "blur", "solar"), PROFILES)
def test_dinos_probabilities(profile, blur, solar):
    p = A.draw(20_000, profile, torch.Generator().manual_seed(0))
    jittered = (p.brightness != 1).float().mean()
    assert abs(jittered - 0.8) < 0.015 and abs(p.grayscale.float().mean() - 0.2) < 0.015
    assert abs((p.sigma > 0).float().mean() - blur) < 0.015
    assert abs(p.solarize.float().mean() - solar) < 0.015
    assert p.brightness.min() >= 0.6 and p.brightness.max() <= 1.4
    assert p.saturation.min() >= 0.8 and p.hue.abs().max() <= 0.1
    assert p.sigma[p.sigma > 0].min() >= 0.1 and p.sigma.max() <= 2.0
    assert A.profiles_of(3, 2) == (["large0", "large1", "large0"], ["small", "small"])


def test_a_training_step_with_dino_augmentation_is_deterministic(synth_data, tmp_path):
    from tests.helpers import tiny_config
    from vidrop.train.loop import pretrain
    from vidrop.train.metrics import read_metrics

    runs = []
    for name, aug in (("a", "dino"), ("b", "dino"), ("none", "none")):
        cfg = tiny_config(synth_data["train"], "train.max_steps=2", f"views.augment={aug}")
        runs.append([r["loss"] for r in read_metrics(pretrain(cfg, tmp_path / name).metrics)])
    assert runs[0] == runs[1] and runs[0] != runs[2]
