import pytest
import torch

from vidrop.tokens import TokenGrid, drop_tokens, sample_masks


def test_only_the_chosen_share_of_clips_is_masked():
    g = torch.Generator().manual_seed(0)
    masks = sample_masks(64, 235, 0.5, (0.1, 0.4), g)
    per_clip = masks.sum(1)
    assert (per_clip > 0).sum() == 32
    masked = per_clip[per_clip > 0]
    assert masked.min() >= int(0.1 * 235) and masked.max() <= int(0.4 * 235)


def test_mask_ratios_are_stratified_over_the_range():
    g = torch.Generator().manual_seed(1)
    masks = sample_masks(200, 100, 1.0, (0.1, 0.4), g)
    ratios = masks.sum(1).float().sort().values / 100
    expected = torch.linspace(0.1, 0.4, 201)[:-1]
    assert (ratios - expected).abs().max() <= 0.0015 + 0.01  # one stratum width + int() rounding


def test_masks_only_touch_kept_tokens():
    grid = TokenGrid(8, 14, 14)
    g = torch.Generator().manual_seed(2)
    keep = drop_tokens("random", 8, grid, 0.85, g)
    masks = sample_masks(8, keep.shape[1], 1.0, (0.5, 0.7), g)
    assert masks.shape == keep.shape
    full = torch.zeros(8, grid.numel, dtype=torch.bool)
    full[masks.nonzero(as_tuple=True)[0], keep[masks]] = True
    kept = torch.zeros(8, grid.numel, dtype=torch.bool)
    kept.scatter_(1, keep, True)
    assert (full & ~kept).sum() == 0
    assert full.sum() == masks.sum()


def test_no_masking():
    g = torch.Generator().manual_seed(3)
    assert not sample_masks(16, 10, 0.0, (0.1, 0.4), g).any()
    assert sample_masks(1, 10, 0.5, (0.1, 0.4), g).sum() == 0  # int(1 * 0.5) = 0 clips


def test_bad_ranges():
    g = torch.Generator()
    with pytest.raises(ValueError):
        sample_masks(4, 10, 0.5, (0.4, 0.1), g)
    with pytest.raises(ValueError):
        sample_masks(4, 10, 1.5, (0.1, 0.4), g)
