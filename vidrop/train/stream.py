"""The batch stream of a run: it owns the loader (workers, the buffer pool), decoding on the
device, the token plans and the views' last steps, and yields `DeviceBatch`es ready for the
method's step.

loader workers: views of each video (crop, resize, flip) into pooled shared-memory buffers, and
each micro-step's token plan drawn in the collate function
  -> main process: a store's codes decoded on the device (data.decode_on=device), the views
     moved there, augmented (views.augment=dino) and normalised, the plan moved there
  -> the buffers go back to their worker (a normalised batch is new memory), the batch to the
     step.
A micro-batch is made ready only when the step asks for it, so gradient accumulation never holds
more than one normalised micro-batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial

import torch
from torch.utils.data import DataLoader

from vidrop.config import Config
from vidrop.data.batch import DeviceBatch, LoadedBatch, device_batch
from vidrop.data.batch_pool import BatchPool
from vidrop.data.dataset import ViewDataset, collate_views
from vidrop.data.malloc import worker_init
from vidrop.data.sampler import EpochBatchSampler
from vidrop.data.source import ClipSource
from vidrop.seeds import StepDraws
from vidrop.tokens import PlanSpec

PREFETCH = 4  # batches each loader worker prepares ahead

Decoder = Callable[[LoadedBatch], LoadedBatch]


def identity(batch: LoadedBatch) -> LoadedBatch:
    """The decoder of a source whose workers hand over pixels."""
    return batch


class BatchStream:
    """Micro-batches of a run from micro-step `start` on, for this rank: `loaded()` as the
    workers hand them over, iteration as `DeviceBatch`es."""

    def __init__(
        self,
        cfg: Config,
        source: ClipSource,
        plan: PlanSpec | None,
        device: torch.device,
        dtype: torch.dtype,
        *,
        start: int = 0,
        rank: int = 0,
        world: int = 1,
        accum: int = 1,
        decoder: Decoder = identity,
        sampler: Iterable[list[tuple[int, int, int]]] | None = None,
    ) -> None:
        self.cfg, self.device, self.dtype, self.decoder = cfg, device, dtype, decoder
        self.seed, self.rank = cfg.train.seed, rank
        workers = cfg.data.num_workers
        # room for each worker's prefetched batches plus the ones the step holds, so a worker in
        # steady state never needs a fresh shared segment
        self.pool = BatchPool(workers, PREFETCH + 2 * accum) if workers else None
        self.dataset = ViewDataset(
            source, cfg.views, cfg.train.seed, cfg.data.max_retries, self.pool
        )
        if sampler is None:
            o = cfg.optim
            sampler = EpochBatchSampler(
                len(source), o.batch_size, cfg.train.seed, start, rank, world
            )
        self.loader = DataLoader(
            self.dataset,
            batch_sampler=sampler,
            num_workers=workers,
            collate_fn=partial(collate_views, plan=plan),
            worker_init_fn=worker_init,
            pin_memory=device.type == "cuda",
            persistent_workers=workers > 0,
            prefetch_factor=PREFETCH if workers > 0 else None,
        )

    def loaded(self) -> Iterator[LoadedBatch]:
        """The workers' batches; each one's buffers go back to the pool when the next is asked
        for, so hold none across that call."""
        for batch in self.loader:
            token = batch.pool_token
            yield batch
            if self.pool is not None:
                self.pool.give_back(token)

    def __iter__(self) -> Iterator[DeviceBatch]:
        for loaded in self.loader:
            yield self.ready(loaded)

    def ready(self, loaded: LoadedBatch) -> DeviceBatch:
        """A loaded batch on the device, decoded, augmented and normalised; its buffers back."""
        large, small = self.decoder(loaded).pixels()
        draws = StepDraws.of(self.seed, self.rank, loaded.micro_step)
        augment = self.cfg.views.augment == "dino"
        batch = device_batch(
            large, small, loaded.plan, draws, self.device, augment, self.dtype, loaded.skipped
        )
        if self.pool is not None:  # the views above are new tensors: the buffers are free
            self.pool.give_back(loaded.pool_token)
        return batch
