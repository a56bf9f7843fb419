"""Shared-memory batch buffers that loader workers reuse once the main process hands them back.

A loader worker's batch reaches the main process in shared memory. A fresh segment for every
batch pays a page fault and a zero-fill on each of its pages, a large share of a worker's time
(docs/experiments/2026-12-07-implementation-measurements.md). So each worker keeps the segments
it lent, and reuses one as soon as the main process says it is done with that batch
(`give_back`). A batch never given back is never reused: code
that keeps batches, or knows nothing of the pool, stays correct and only pays for fresh segments.

Tokens carry the worker's pid: a restarted worker (DataLoader without persistent workers) never
takes a token meant for the process it replaced.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from torch.utils.data import get_worker_info

T = TypeVar("T")
Token = tuple[int, int, int]  # (worker id, worker pid, buffer id)


class BatchPool:
    """Create in the main process before the DataLoader (its pipes reach the workers with the
    dataset); workers `take` buffers, the main process `give_back`s their tokens."""

    def __init__(self, workers: int, keep: int = 4) -> None:
        self.keep = keep  # buffers a worker holds at most (lent + free); more are not pooled
        # one pipe per worker (main process writes, that worker reads): no lock, so the pool
        # works under any start method the DataLoader uses (fork, spawn, forkserver)
        self._returns = [mp.Pipe(duplex=False) for _ in range(workers)]
        self._pid = -1  # worker-side state below belongs to this process only
        self._held: dict[int, tuple[Hashable, Any]] = {}  # buffer id -> (key, buffers)
        self._free: list[int] = []
        self._next = 0

    def take(
        self, key: Hashable, make: Callable[[], T], worker: int | None = None
    ) -> tuple[T, Token | None]:
        """Buffers for one batch: a given-back set made for the same `key` (the shapes), else
        new ones from `make()`; with the token to put in the batch, None when not pooled."""
        if worker is None:
            info = get_worker_info()
            worker = info.id if info is not None else -1
        if not 0 <= worker < len(self._returns):  # the main process itself: nothing to share
            return make(), None
        self._own_state()
        self._collect(worker)
        for i, bid in enumerate(self._free):
            if self._held[bid][0] == key:
                del self._free[i]
                return self._held[bid][1], (worker, self._pid, bid)
        while self._free and len(self._held) >= self.keep:  # free sets of other shapes make room
            del self._held[self._free.pop()]
        buffers = make()
        if len(self._held) >= self.keep:  # all lent out: this batch's segment is not pooled
            return buffers, None
        bid, self._next = self._next, self._next + 1
        self._held[bid] = (key, buffers)
        return buffers, (worker, self._pid, bid)

    def give_back(self, token: Token | None) -> None:
        """The main process is done with the batch that carried `token` (None: not pooled): its
        worker may overwrite the buffers, so the caller must hold no view of them any more."""
        if token is not None:
            worker, pid, bid = token
            self._returns[worker][1].send((pid, bid))

    def _own_state(self) -> None:
        if self._pid != os.getpid():  # first call in this worker: drop what the parent held
            self._pid, self._held, self._free, self._next = os.getpid(), {}, [], 0

    def _collect(self, worker: int) -> None:
        reader = self._returns[worker][0]
        while reader.poll():
            pid, bid = reader.recv()
            if pid == self._pid and bid in self._held and bid not in self._free:
                self._free.append(bid)
