"""A one-line description of the machine, printed and saved beside every measured figure."""

from __future__ import annotations

import os
import platform
import shlex
import sys
from typing import TYPE_CHECKING

from vidrop.config import ConfigError

if TYPE_CHECKING:  # torch is imported where it is used: `vidrop --help` should not pay for it
    import torch


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_machine(device: torch.device | str | None = None) -> dict[str, str | int]:
    import torch

    info: dict[str, str | int] = {
        "cpu": cpu_name(),
        "cpu_cores": os.cpu_count() or 0,
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    dev = torch.device(device) if device is not None else None
    if dev is not None and dev.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(dev)
    return info


def default_workers(cap: int = 8) -> int:
    """Decoding processes when the user names none: every core this process may use but one (the
    main process runs the model and the probes), at most `cap` (beyond it small clips outrun the
    model anyway); 1 on a 2-core machine."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cap, cores - 1))


def command_line() -> str:
    """The running command as a user would retype it (`vidrop ...` or `python x.py ...`)."""
    prog = os.path.basename(sys.argv[0]) if sys.argv else "python"
    if prog == "__main__.py":  # python -m PACKAGE
        package = os.path.basename(os.path.dirname(sys.argv[0]))
        prog = "vidrop" if package == "vidrop" else f"python -m {package}"
    elif prog.endswith(".py"):
        prog = f"python {sys.argv[0]}"
    return " ".join([prog, *map(shlex.quote, sys.argv[1:])])


def resolve_device(name: str, option: str = "train.device") -> torch.device:
    """ "auto" -> the GPU when there is one, else the CPU; a CUDA request without CUDA is an error
    that names the option to change."""
    import torch

    if name == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))  # one GPU per process
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"{option}={name!r} is not a device; use auto, cpu or cuda") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{option}={name} but no CUDA device is available; use cpu or auto")
    return device


def sync_device(device: torch.device) -> None:
    """Wait for queued GPU work, so wall-clock timings measure it."""
    if device.type == "cuda":
        import torch

        torch.cuda.synchronize(device)


def use_bf16(precision: str, device: torch.device) -> bool:
    """train.precision: bf16 autocast where asked, or by default on a GPU."""
    return precision == "bf16" or (precision == "auto" and device.type == "cuda")
