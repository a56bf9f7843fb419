import pytest
import torch

from vidrop.tokens import DROP_PATTERNS, TokenGrid, drop_tokens, num_kept


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_paper_clip_token_counts():
    grid = TokenGrid.of_clip(16, 224, tubelet=2, patch=16)
    assert grid.as_tuple() == (8, 14, 14)
    assert grid.numel == 1568
    assert num_kept(1568, 0.85) == 235  # + CLS = 236 tokens through the student
    keep = drop_tokens("random", 3, grid, 0.85, gen())
    assert keep.shape == (3, 235)


def test_grid_rejects_indivisible_clip():
    with pytest.raises(ValueError, match="not divisible"):
        TokenGrid.of_clip(15, 224, 2, 16)


@pytest.mark.parametrize("pattern", sorted(DROP_PATTERNS))
@pytest.mark.parametrize("ratio", [0.0, 0.5, 0.85, 0.9])
def test_every_pattern_gives_exact_sorted_unique_counts(pattern, ratio):
    grid = TokenGrid(8, 14, 14)
    keep = drop_tokens(pattern, 5, grid, ratio, gen(1))
    expected = num_kept(grid.numel, ratio) if pattern == "random" else num_kept(196, ratio) * 8
    assert keep.shape == (5, expected)
    assert keep.dtype == torch.int64
    assert (keep >= 0).all() and (keep < grid.numel).all()
    assert (keep[:, 1:] > keep[:, :-1]).all()  # sorted and unique


def test_tube_and_block_patterns_keep_whole_tubes():
    grid = TokenGrid(4, 6, 6)
    for pattern in ("tube", "block"):
        keep = drop_tokens(pattern, 4, grid, 0.75, gen(2))
        per_t = keep.view(4, grid.t, -1)
        spatial = per_t % grid.spatial
        assert (spatial == spatial[:, :1]).all(), pattern  # same positions at every time step
        assert (per_t // grid.spatial == torch.arange(grid.t)[None, :, None]).all()


def test_block_pattern_drops_contiguous_regions_more_than_random():
    """Kept positions of the block pattern cluster: more kept-kept neighbour pairs than random."""
    grid = TokenGrid(1, 14, 14)

    def neighbour_pairs(keep: torch.Tensor) -> float:
        m = torch.zeros(keep.shape[0], 196, dtype=torch.bool)
        m.scatter_(1, keep, True)
        m = m.view(-1, 14, 14)
        return float((m[:, 1:] & m[:, :-1]).sum() + (m[:, :, 1:] & m[:, :, :-1]).sum())

    block = neighbour_pairs(drop_tokens("block", 64, grid, 0.5, gen(3)))
    scattered = neighbour_pairs(drop_tokens("random", 64, grid, 0.5, gen(3)))
    assert block > 1.3 * scattered


def test_same_generator_seed_same_pattern():
    grid = TokenGrid(8, 14, 14)
    for pattern in DROP_PATTERNS:
        a = drop_tokens(pattern, 2, grid, 0.85, gen(7))
        b = drop_tokens(pattern, 2, grid, 0.85, gen(7))
        assert torch.equal(a, b)


def test_random_drop_is_uniform_over_positions():
    grid = TokenGrid(2, 4, 4)
    keep = drop_tokens("random", 4000, grid, 0.75, gen(4))
    counts = torch.bincount(keep.flatten(), minlength=32).float()
    assert counts.min() / counts.max() > 0.85


def test_bad_arguments():
    with pytest.raises(ValueError, match="drop_ratio"):
        num_kept(10, 1.0)
    with pytest.raises(ValueError, match="unknown drop pattern"):
        drop_tokens("spiral", 1, TokenGrid(1, 2, 2), 0.5, gen())
