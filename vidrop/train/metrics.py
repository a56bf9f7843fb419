"""metrics.jsonl: one JSON object per logged step, trimmed on resume to the checkpoint's step;
with `tensorboard` the same scalars as TensorBoard events too (RUN/tb), purged past the
checkpoint's step on resume so no step is written twice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vidrop.atomic import write_bytes_atomic, write_error


class MetricsLog:
    def __init__(
        self,
        path: str | Path,
        resume_step: int | None = None,
        tensorboard: str | Path | None = None,
        config_text: str = "",
    ) -> None:
        self.path = Path(path)
        if resume_step is not None and self.path.exists():
            self._trim(resume_step)
        elif resume_step is None and self.path.exists():
            self.path.unlink()
        self.tb = _writer(tensorboard, resume_step, config_text) if tensorboard else None

    def _trim(self, step: int) -> None:
        """Drop lines logged after the checkpoint we resume from (they will be logged again), and
        a last line cut short by a crash or a full disk."""
        kept = [ln for ln in self.path.read_text().splitlines() if _step(ln) <= step]
        write_bytes_atomic(self.path, "".join(ln + "\n" for ln in kept).encode())

    def write(self, record: dict[str, Any]) -> None:
        try:
            with open(self.path, "a") as f:
                f.write(json.dumps(record) + "\n")
        except OSError as exc:  # a full disk: say which file, not a bare errno
            raise write_error(self.path, exc, appending=True) from exc
        if self.tb is not None:
            for key, value in record.items():
                if key != "step" and isinstance(value, int | float):
                    self.tb.add_scalar(key, value, record["step"])
            self.tb.flush()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def _writer(folder: str | Path, resume_step: int | None, config_text: str) -> Any:
    """A TensorBoard writer; on resume, events past the checkpoint's step are purged; a fresh run
    removes the events of an earlier one, as it starts a fresh metrics.jsonl."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        from vidrop.config import ConfigError

        raise ConfigError(
            "train.tensorboard=true needs tensorboard: pip install 'vidrop[tensorboard]'"
        ) from exc
    purge = None if resume_step is None else resume_step + 1
    if resume_step is None:
        for old in Path(folder).glob("events.out.tfevents.*"):
            old.unlink()
    writer = SummaryWriter(str(folder), purge_step=purge)
    if resume_step is None and config_text:
        writer.add_text("config", "```\n" + config_text + "\n```", 0)
    return writer


def _step(line: str) -> float:
    """A line's step; infinity (never kept) for a line that is not a whole JSON record."""
    try:
        return json.loads(line)["step"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return float("inf")


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    return [json.loads(ln) for ln in Path(path).read_text().splitlines() if ln.strip()]
