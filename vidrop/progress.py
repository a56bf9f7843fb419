"""Progress display for long work: a rich bar on a terminal, periodic plain lines otherwise (CI
logs, files), both with steps, rate and ETA."""

from __future__ import annotations

import sys
import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True, soft_wrap=True)  # progress and messages
# results go to stdout, unwrapped when piped (a table at 80 columns is unreadable in a log)
results = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 250)


def _eta(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class ProgressBar:
    """`with ProgressBar(total, "pretrain", unit="step") as bar: bar.update(n, info="loss 3.2")`."""

    def __init__(self, total: int, description: str, unit: str = "it", plain_every: float = 10.0):
        self.total, self.description, self.unit = total, description, unit
        self.plain_every = plain_every  # seconds between plain lines when not on a terminal
        self.live = console.is_terminal
        self.done = 0
        self._progress: Progress | None = None
        self._start = self._last_print = time.perf_counter()
        self._start_done = 0
        self.info = ""

    def __enter__(self) -> ProgressBar:
        if self.live:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[info]}"),
                console=console,
            )
            self._progress.start()
            self._task = self._progress.add_task(
                self.description, total=self.total, rate="", info=""
            )
        return self

    def set_total(self, total: int) -> None:
        """The work grew or shrank (a run re-planned to its seconds budget)."""
        self.total = total
        if self._progress is not None:
            self._progress.update(self._task, total=total)

    def start_at(self, done: int) -> None:
        """Resume display from `done` (rate and ETA count only the new work)."""
        self.done = self._start_done = done
        self._start = time.perf_counter()
        if self._progress is not None:
            self._progress.update(self._task, completed=done)

    def update(self, n: int = 1, info: str | None = None) -> None:
        self.done += n
        if info is not None:
            self.info = info
        now = time.perf_counter()
        rate = (self.done - self._start_done) / max(now - self._start, 1e-9)
        rate_text = f"{rate:.2f} {self.unit}/s"
        if self._progress is not None:
            self._progress.update(self._task, completed=self.done, rate=rate_text, info=self.info)
        elif now - self._last_print >= self.plain_every or self.done >= self.total:
            self._last_print = now
            eta = (self.total - self.done) / rate if rate > 0 else 0.0
            line = f"{self.description}: {self.done}/{self.total} {rate_text} ETA {_eta(eta)}"
            print(
                f"{line} {self.info}",
                file=sys.stderr,
                flush=True,
            )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
