"""What the training step receives: a typed batch of views with its token plan.

The loader's collate function builds it in the worker: the views (uint8 pixels, or a code
store's pending views that the device decodes), which videos were replaced and why, the
micro-step the batch belongs to, and the token plan drawn for that micro-step.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from vidrop.data.batch_pool import Token
from vidrop.tokens.plan import TokenPlan


@dataclass
class ViewBatch:
    large: Any  # uint8 (B, L, 3, T, H, W), or per video a list of PendingView when `codes`
    small: Any  # uint8 (B, M, 3, t, h, w), likewise
    index: torch.Tensor  # (B,) the videos' positions in the source
    skipped: list[tuple[str, str]]  # (path, reason) of videos replaced by others
    micro_step: int
    plan: TokenPlan | None = None  # drawn in the loader when the run needs one
    codes: bool = False  # views still as store codes, for the device to decode
    pool_token: Token | None = None  # the batch buffers' token, to give them back

    @property
    def videos(self) -> int:
        return len(self.index)

    def with_views(self, large: torch.Tensor, small: torch.Tensor) -> ViewBatch:
        """The same batch with decoded pixel views."""
        return replace(self, large=large, small=small, codes=False)
