"""Every random draw of a training step, from one seed per (run seed, rank, micro-step).

A micro-step's draws are made in three places (the token plan in a loader worker, the
augmentations where the views are, drop path inside the student's blocks), each from its own
named generator derived here, so a resumed run, a benchmark and a test all draw the same values
for the same micro-step, and no caller invents an offset of its own. The crops, flips and frames
of a video are drawn separately, per (run seed, epoch, video), by the dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import torch


def step_seed(seed: int, rank: int, step: int) -> int:
    """One 32-bit seed per (run seed, rank, micro-step): every draw of a step starts here."""
    return int(np.random.SeedSequence([seed, rank, step]).generate_state(1)[0])


class Purpose(IntEnum):
    """What a generator draws; its value is the offset added to the micro-step's seed."""

    PLAN = 0  # which tokens the student drops and masks (vidrop.tokens.plan)
    DROP_PATH = 1  # stochastic depth, drawn by torch's global generator inside the blocks
    AUGMENT = 2  # DINO's colour, blur and solarisation draws (vidrop.data.augment)


@dataclass(frozen=True)
class StepDraws:
    """The generators of one micro-step (small and picklable: it travels with its batch)."""

    seed: int  # step_seed(run seed, rank, micro-step)

    @classmethod
    def of(cls, run_seed: int, rank: int, micro_step: int) -> StepDraws:
        return cls(step_seed(run_seed, rank, micro_step))

    def generator(self, purpose: Purpose) -> torch.Generator:
        """A fresh CPU generator for `purpose`: the same values every time it is asked for."""
        return torch.Generator().manual_seed(self.seed + purpose)

    def seed_global(self, purpose: Purpose) -> None:
        """Seed torch's global generators (every device) for draws made inside modules that
        take no generator: drop path."""
        torch.manual_seed(self.seed + purpose)
