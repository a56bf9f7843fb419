"""DAVIS's region (J) and boundary (F) measures for one object in one frame.

J is the intersection over union. F matches the boundary pixels of the two masks within a tolerance
of 0.8% of the image diagonal (DAVIS's bound_th); the tolerance region here is a square of that
radius (DAVIS uses a disk), so F can read up to a pixel more lenient on a diagonal boundary. Both
measures are 1 when prediction and truth are both empty, as in DAVIS.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def region_j(pred: torch.Tensor, truth: torch.Tensor) -> float:
    """IoU of two bool (H, W) masks."""
    union = (pred | truth).sum()
    if union == 0:
        return 1.0
    return float((pred & truth).sum() / union)


def boundary(mask: torch.Tensor) -> torch.Tensor:
    """Bool (H, W): mask pixels with a neighbour outside the mask; the image edge is not a
    boundary (as in DAVIS's seg2bmap)."""
    m = mask.float()[None, None]
    eroded = -F.max_pool2d(-F.pad(m, (1, 1, 1, 1), value=1.0), 3, stride=1)
    return mask & ~eroded[0, 0].bool()


def _dilate(mask: torch.Tensor, radius: int) -> torch.Tensor:
    k = 2 * radius + 1
    return F.max_pool2d(mask.float()[None, None], k, stride=1, padding=radius)[0, 0].bool()


def boundary_f(pred: torch.Tensor, truth: torch.Tensor, bound_th: float = 0.008) -> float:
    """F-measure of boundary precision and recall, tolerance bound_th * image diagonal."""
    h, w = truth.shape
    radius = max(1, round(bound_th * (h * h + w * w) ** 0.5))
    bp, bt = boundary(pred), boundary(truth)
    n_p, n_t = int(bp.sum()), int(bt.sum())
    if n_p == 0 and n_t == 0:
        return 1.0
    if n_p == 0 or n_t == 0:
        return 0.0
    precision = float((bp & _dilate(bt, radius)).sum()) / n_p
    recall = float((bt & _dilate(bp, radius)).sum()) / n_t
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)
