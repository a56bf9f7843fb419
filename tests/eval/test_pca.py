import numpy as np
import torch

from vidrop.eval.pca import pca_maps, pca_rgb, save_pictures
from vidrop.models.vit import VideoViT, ViTConfig


def test_pca_rgb_follows_the_main_direction_and_does_not_depend_on_order():
    g = torch.Generator().manual_seed(0)
    t = torch.linspace(-1, 1, 200)
    x = t[:, None] * torch.tensor([0.0, 10.0, 0.0, 0.0]) + 0.1 * torch.randn(200, 4, generator=g)
    rgb = pca_rgb(x, clip=0.0)
    assert rgb.shape == (200, 3) and rgb.min() >= 0 and rgb.max() <= 1
    r = rgb[:, 0]
    assert torch.corrcoef(torch.stack((r, t)))[0, 1].abs() > 0.99
    perm = torch.randperm(200, generator=g)  # the same features in another order: same colours
    torch.testing.assert_close(pca_rgb(x[perm], clip=0.0), rgb[perm], atol=1e-4, rtol=1e-4)


def test_pictures_are_written(tmp_path):
    torch.manual_seed(0)
    model = VideoViT(ViTConfig(arch="vit_t", depth=1, num_frames=4, img_size=32)).eval()
    frames = torch.randint(0, 256, (8, 32, 48, 3), dtype=torch.uint8)
    shown, maps = pca_maps(model, frames, shifts=2)
    assert shown.shape == maps.shape == (4, 32, 48, 3) and maps.dtype == np.uint8
    out = save_pictures(shown, maps, tmp_path / "pca", scale=2)
    from PIL import Image

    assert Image.open(out["png"]).size == (4 * 48 * 2, 2 * 32 * 2)
    assert Image.open(out["gif"]).n_frames == 4
