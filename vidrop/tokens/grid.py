"""The (t, h, w) token grid of a clip; token order is t-major then h then w, as in VideoMAE."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class TokenGrid:
    t: int
    h: int
    w: int

    @classmethod
    def of_clip(
        cls, frames: int, size: int | tuple[int, int], tubelet: int, patch: int
    ) -> TokenGrid:
        """Grid of a clip of `frames` x `size` pixels cut into tubelet x patch x patch tokens."""
        hw = (size, size) if isinstance(size, int) else size
        if frames % tubelet or hw[0] % patch or hw[1] % patch:
            raise ValueError(
                f"clip {frames}x{hw[0]}x{hw[1]} is not divisible into {tubelet}x{patch}x{patch} "
                "tokens: choose frames divisible by the tubelet and sizes divisible by the patch"
            )
        return cls(frames // tubelet, hw[0] // patch, hw[1] // patch)

    @property
    def spatial(self) -> int:
        return self.h * self.w

    @property
    def numel(self) -> int:
        return self.t * self.h * self.w

    def as_tuple(self) -> tuple[int, int, int]:
        return (self.t, self.h, self.w)

    def coords(self, device: torch.device | str | None = None) -> torch.Tensor:
        """(numel, 3) long: each token's (t, h, w) in token order (rotary positions use them),
        made on `device` (no copy from the host in a forward pass)."""
        t, h, w = torch.meshgrid(
            *(torch.arange(n, device=device) for n in self.as_tuple()), indexing="ij"
        )
        return torch.stack((t, h, w), dim=-1).reshape(-1, 3)
