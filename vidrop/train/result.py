"""What a training run leaves: the folder, the step it reached, its export and its metrics."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class RunResult:
    out: Path
    step: int
    export: Path
    metrics: Path  # metrics.jsonl: one JSON object per logged step
    seconds: float = 0.0  # the training loop's clock, over every resume
