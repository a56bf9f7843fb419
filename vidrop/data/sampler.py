"""Batches of (index, epoch) keys that can start at any step, so a resumed run sees exactly the
batches it would have seen, and each rank of a distributed run takes its own slice."""

from __future__ import annotations

from collections.abc import Iterator

import torch


class EpochBatchSampler:
    """Endless batches; data epoch e is a permutation seeded by (seed, e), cut into global batches
    of batch_size * world_size of which rank r takes the r-th slice (the rest is dropped)."""

    def __init__(
        self,
        n: int,
        batch_size: int,
        seed: int,
        start_step: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        global_batch = batch_size * world_size
        if n < global_batch:
            raise ValueError(
                f"the dataset has {n} videos, fewer than one global batch of {global_batch}; "
                "lower optim.batch_size or add videos"
            )
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.start_step, self.rank, self.world_size = start_step, rank, world_size
        self.steps_per_epoch = n // global_batch

    def batch(self, step: int, perm: torch.Tensor | None = None) -> list[tuple[int, int, int]]:
        """Keys (video, epoch, micro-step) of micro-batch `step`: the step travels with its
        samples, so the loader draws that step's token plan."""
        epoch, k = divmod(step, self.steps_per_epoch)
        if perm is None:
            perm = self.permutation(epoch)
        start = (k * self.world_size + self.rank) * self.batch_size
        return [(int(i), epoch, step) for i in perm[start : start + self.batch_size]]

    def permutation(self, epoch: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.n, generator=g)

    def __iter__(self) -> Iterator[list[tuple[int, int, int]]]:
        step, epoch, perm = self.start_step, -1, None
        while True:
            if step // self.steps_per_epoch != epoch:
                epoch = step // self.steps_per_epoch
                perm = self.permutation(epoch)
            yield self.batch(step, perm)
            step += 1
