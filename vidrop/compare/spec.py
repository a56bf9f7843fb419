"""What `vidrop compare` is asked, torch-free (the command line reads its defaults): the methods,
the budget, the tuning grid, the data and the suite."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from vidrop.config import METHODS
from vidrop.eval.settings import SuiteConfig

DEFAULT_LRS = (3e-5, 1e-4, 3e-4, 1e-3, 3e-3)  # peak lrs every method tries: a log grid of 100x
TRIAL_SHARE = 0.25  # of the budget, each tuning trial
KINDS = ("steps", "seconds", "tflop")


@dataclass(frozen=True)
class Budget:
    kind: str  # steps | seconds | tflop
    value: float
    reference: str = ""  # "vidrop": the value is what ViDROP's recipe took (seconds or TFLOP)

    def __post_init__(self) -> None:
        if self.kind not in KINDS or not self.value > 0:
            raise ValueError(f"a budget is a positive number of {KINDS}, got {self}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class CompareSpec:
    """What `vidrop compare` was asked."""

    train: str
    val: str
    out: Path
    methods: tuple[str, ...] = METHODS
    reference: str = "vidrop"  # whose gains are reported, and whose recipe sets a missing budget
    budget: Budget | None = None  # None: the reference's recipe, matched in `match`
    match: str = "seconds"  # seconds | tflop
    recipe: str = "tiny"
    overrides: list[str] = field(default_factory=list)
    seeds: tuple[int, ...] = (0,)
    curve: int = 0  # kNN on val at this many points along each final run
    lrs: tuple[float, ...] = DEFAULT_LRS  # peak lrs every method's tuning tries; (): no tuning
    trial_share: float = TRIAL_SHARE
    clips: int = 1
    crops: int = 1
    suite: SuiteConfig = field(default_factory=SuiteConfig)
    runs: Path | None = None  # run folders (default OUT/runs); may be shared by comparisons
    all_parts: bool = (
        False  # also evaluate every other backbone a method exports (ViDROP's student)
    )
    command: str = "vidrop compare"

    @property
    def runs_dir(self) -> Path:
        return self.runs or self.out / "runs"
