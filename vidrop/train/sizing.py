"""How big a run is: its total batch and how it is reached, and its schedule in steps.

Recipes state what papers state: the total batch (ViDROP: 512) and epochs as passes over the
training videos, warmups too. The total batch is reached by world size x gradient accumulation x
per-process batch; vidrop works out the accumulation from the first and the last and refuses a
total it cannot reach. Pure functions of the optim settings, the data size and the world size, so
`--print-config` and the training loop say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from vidrop.config import ConfigError, OptimConfig


def accumulation(o: OptimConfig, world: int) -> int:
    """Micro-batches per optimizer step: optim.accum_steps, or what optim.total_batch needs."""
    if not o.total_batch:
        return o.accum_steps
    per_step = o.batch_size * world
    if o.total_batch % per_step:
        fits = [b for b in range(o.batch_size, 0, -1) if o.total_batch % (b * world) == 0]
        hint = f"optim.batch_size={fits[0]}" if fits else "another world size"
        raise ConfigError(
            f"optim.total_batch={o.total_batch} is not a multiple of {world} process(es) x "
            f"optim.batch_size={o.batch_size}; set {hint} (or optim.total_batch=0 to train at "
            f"{per_step} x optim.accum_steps)"
        )
    return o.total_batch // per_step


def steps_of(epochs: float, epoch_length: int) -> int:
    """Optimizer steps of `epochs` passes of `epoch_length` steps (fractions round)."""
    return round(epochs * epoch_length)


@dataclass(frozen=True)
class RunSizing:
    per_process: int  # videos per process and micro-batch
    world: int
    accum: int
    videos: int | None  # training videos (None: not known yet)
    epoch_length: int | None  # optimizer steps per epoch (a pass over the videos unless set)
    epochs: float
    warmup_epochs: float
    teacher_temp_epochs: float

    @property
    def total_batch(self) -> int:
        return self.per_process * self.world * self.accum

    @property
    def total_steps(self) -> int:
        if self.epoch_length is None:
            raise ValueError("the run's length in steps needs the number of training videos")
        return steps_of(self.epochs, self.epoch_length)

    def describe(self) -> str:
        """What the start banner and --print-config say about the run's size."""
        batch = (
            f"total batch {self.total_batch} = {self.world} process(es) x {self.accum} "
            f"accumulation x {self.per_process} videos"
        )
        if self.epoch_length is None:
            return (
                f"{batch}; {self.epochs:g} epochs (passes over the training videos) = "
                f"{self.epochs:g} x videos / {self.total_batch} steps; lr warmup "
                f"{self.warmup_epochs:g} epochs, teacher temperature ramp "
                f"{self.teacher_temp_epochs:g} epochs (give data.train for steps)"
            )
        passes = self.total_steps * self.total_batch / self.videos if self.videos else 0.0
        return (
            f"{batch}; {self.epochs:g} epochs of {self.epoch_length} steps = {self.total_steps} "
            f"steps = {passes:.2f} passes over {self.videos} videos; lr warmup "
            f"{steps_of(self.warmup_epochs, self.epoch_length)} steps, teacher temperature "
            f"ramp {steps_of(self.teacher_temp_epochs, self.epoch_length)} steps"
        )


def size_run(o: OptimConfig, videos: int | None, world: int = 1) -> RunSizing:
    """The run's sizing for `videos` training videos (None: unknown) on `world` processes."""
    accum = accumulation(o, world)
    total_batch = o.batch_size * world * accum
    if videos is not None and videos < total_batch:
        raise ConfigError(
            f"the training data holds {videos} videos, fewer than one total batch "
            f"({total_batch}); lower optim.batch_size or optim.total_batch"
        )
    length = o.epoch_length or (None if videos is None else videos // total_batch)
    return RunSizing(
        o.batch_size,
        world,
        accum,
        videos,
        length,
        o.epochs,
        o.warmup_epochs,
        o.warmup_teacher_temp_epochs,
    )


def scale_schedule(o: OptimConfig, epochs: float) -> OptimConfig:
    """The same recipe over `epochs` epochs: warmups, the teacher temperature ramp and the frozen
    prototypes keep their share of the run (a LEMON stage, a compute budget)."""
    f = epochs / o.epochs
    return replace(
        o,
        epochs=epochs,
        warmup_epochs=o.warmup_epochs * f,
        warmup_teacher_temp_epochs=o.warmup_teacher_temp_epochs * f,
        freeze_last_layer_epochs=o.freeze_last_layer_epochs * f,
    )
