import pytest
import torch

from vidrop.eval.segmentation_metrics import boundary, boundary_f, region_j


def _square(top: int, left: int, side: int, size: int = 40) -> torch.Tensor:
    m = torch.zeros(size, size, dtype=torch.bool)
    m[top : top + side, left : left + side] = True
    return m


def test_region_j_is_iou():
    a, b = _square(0, 0, 10), _square(0, 5, 10)  # overlap 10x5, union 10x15
    assert region_j(a, b) == pytest.approx(50 / 150)
    assert region_j(a, a) == 1.0
    empty = torch.zeros(40, 40, dtype=torch.bool)
    assert region_j(empty, empty) == 1.0 and region_j(a, empty) == 0.0


def test_boundary_is_the_ring_inside_the_mask():
    b = boundary(_square(10, 10, 5))
    assert b.sum() == 16  # 5x5 square minus its 3x3 interior
    assert not boundary(torch.ones(8, 8, dtype=torch.bool)).any()  # image edge is no boundary


def test_boundary_f_tolerates_shifts_within_the_threshold_only():
    truth = _square(10, 10, 16, size=100)  # tolerance: round(0.008 * 141) = 1 pixel
    assert boundary_f(truth, truth) == 1.0
    assert boundary_f(_square(11, 11, 16, size=100), truth) == 1.0
    far = boundary_f(_square(20, 20, 16, size=100), truth)
    assert far < 0.3
    empty = torch.zeros(100, 100, dtype=torch.bool)
    assert boundary_f(empty, empty) == 1.0 and boundary_f(empty, truth) == 0.0
