"""Token dropping and masking as pure functions on index tensors (no model needed to test them)."""

from vidrop.tokens.drop import DROP_PATTERNS, drop_tokens, num_kept
from vidrop.tokens.grid import TokenGrid
from vidrop.tokens.mask import sample_masks
from vidrop.tokens.plan import PlanSpec, TokenPlan

__all__ = [
    "DROP_PATTERNS",
    "PlanSpec",
    "TokenGrid",
    "TokenPlan",
    "drop_tokens",
    "num_kept",
    "sample_masks",
]
