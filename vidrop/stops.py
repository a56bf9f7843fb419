"""Stopping a run the way a cluster asks: SIGTERM (SLURM, Kubernetes and systemd send it before
they kill a job) and SIGUSR1 (SLURM's `--signal`) end a training run as Ctrl-C does, at the next
step boundary with a checkpoint, and the same command resumes it.

A handler only notes the signal (`StopRequests.signum`); the loop looks after each step, so no
step is left half done and the checkpoint holds the state of the last whole one. The process
then exits 128 + the signal's number (143 for SIGTERM), as a shell reports a job killed by it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


class Stopped(BaseException):
    """A run stopped by a signal after saving its state: not an error of the run (a BaseException,
    like KeyboardInterrupt, so no `except Exception` swallows it)."""

    def __init__(self, signum: int, message: str = "") -> None:
        super().__init__(message or f"stopped by {signal.Signals(signum).name}")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class StopRequests:
    """The stop signals received since `listening()` began (the first one wins)."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def _note(self, signum: int, _frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum

    @contextmanager
    def listening(self) -> Iterator[StopRequests]:
        """Note SIGTERM and SIGUSR1 instead of dying (the main thread only: elsewhere Python
        allows no handler, and the signals keep their defaults)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        before = {s: signal.signal(s, self._note) for s in STOP_SIGNALS}
        try:
            yield self
        finally:
            for s, handler in before.items():
                signal.signal(s, handler)


def ignore_stop_signals() -> None:
    """For helper processes (loader workers): the main process decides when to stop, and a
    worker that died of the job's SIGTERM would end the run with an error instead."""
    for s in STOP_SIGNALS:
        signal.signal(s, signal.SIG_IGN)
