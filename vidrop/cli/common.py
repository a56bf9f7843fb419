"""What every command group shares: the help formatter, output checks made before any work,
flags generated from settings dataclasses, and where results and messages go."""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import typing
from pathlib import Path
from typing import Any

from vidrop.errors import VidropError
from vidrop.progress import results  # noqa: F401 - stdout; progress and messages: stderr


class UserError(VidropError, ValueError):
    """A command line that cannot run as given; the message says what to change (exit 2)."""


class Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Help that shows each flag's default, and descriptions laid out as written."""


def group(sub: argparse._SubParsersAction, name: str, help: str) -> argparse._SubParsersAction:
    """A command with subcommands (`vidrop data synth`, ...)."""
    parser = sub.add_parser(name, help=help, description=help, formatter_class=Formatter)
    return parser.add_subparsers(dest=f"{name}_command", required=True, metavar="COMMAND")


def command(sub: argparse._SubParsersAction, name: str, help: str, func) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help, description=help, formatter_class=Formatter)
    parser.set_defaults(func=func)
    return parser


def out_folder(path: str | Path, flag: str = "--out") -> Path:
    """Create the output folder (or find it) and check it can be written, before any work."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".vidrop-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UserError(
            f"{flag} {path}: cannot write there ({exc.strerror or exc}); choose a folder you can "
            "write to"
        ) from exc
    return folder


def out_file(path: str | Path, flag: str = "--out-file") -> Path:
    """Check that a file can be written at `path` (its folder is created), before any work."""
    out_folder(Path(path).parent if Path(path).parent != Path("") else Path("."), flag)
    if Path(path).is_dir():
        raise UserError(f"{flag} {path} is a folder; give a file name")
    return Path(path)


def int_list(text: str) -> tuple[int, ...]:
    """argparse type of '10,20,100'."""
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected integers separated by commas"
        ) from None


def float_list(text: str) -> tuple[float, ...]:
    """argparse type of '0.05,0.1,0.5'."""
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected numbers separated by commas"
        ) from None


def add_settings(parser: argparse.ArgumentParser, cls: type, names: tuple[str, ...]) -> None:
    """`--name` flags for these fields of a settings dataclass: type, default and help (the
    field's metadata) from the dataclass, so a default is written once."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    defaults = cls()
    for name in names:
        flag, help_ = f"--{name.replace('_', '-')}", fields[name].metadata.get("help", name)
        default = getattr(defaults, name)
        if hints[name] is bool:
            parser.add_argument(flag, action="store_true", help=help_)
        else:
            parser.add_argument(flag, type=hints[name], default=default, help=help_)


def settings_from(args: argparse.Namespace, cls: type, names: tuple[str, ...]) -> Any:
    """The settings dataclass with the fields `add_settings` made flags for taken from them (the
    others at their defaults; a flag of another command group is never mistaken for one)."""
    return cls(**{n: getattr(args, n) for n in names if hasattr(args, n)})


def device_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device", default="auto", help="cpu, cuda, cuda:N, or auto (a GPU if any)"
    )


def device_name(name: str) -> str:
    if name != "auto":
        return name
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


# section.key=value, or METHOD:section.key=value (that method's only)
OVERRIDE = re.compile(r"^(?:[A-Za-z_][\w-]*:)?[A-Za-z_]\w*\.[A-Za-z_]\w*=")


def is_override(token: str) -> bool:
    return OVERRIDE.match(token) is not None


def overrides_argument(parser: argparse.ArgumentParser, what: str) -> None:
    """The command's key=value overrides (`what` they change): positional, and accepted
    anywhere among its options."""
    parser.add_argument(
        "overrides",
        nargs="*",
        help=f"section.key=value overrides of {what}; METHOD:section.key=value reaches that "
        "method only (e.g. videomae:mask.drop_ratio=0.75); anywhere among the options",
    )


LATE_OVERRIDES = "late_overrides"  # where OptionalChoice leaves an override it was handed


class OptionalChoice(argparse.Action):
    """An option whose value may be left out (`--synth` alone means its const). argparse hands
    it the next token whatever it is, so an override typed right after it (`--synth
    data.num_workers=0`) is passed on as an override, not refused as a bad choice: overrides
    stand anywhere among the options."""

    def __init__(self, *args: Any, options: tuple[str, ...], **kwargs: Any) -> None:
        self.options = options
        kwargs.update(nargs="?", metavar="{" + ",".join(options) + "}")
        super().__init__(*args, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if isinstance(values, str) and is_override(values):
            setattr(namespace, LATE_OVERRIDES, [*getattr(namespace, LATE_OVERRIDES, []), values])
            values = self.const
        if values not in self.options:
            parser.error(f"argument {option_string}: choose from {', '.join(self.options)}")
        setattr(namespace, self.dest, values)


def use_plugins(modules: list[str]) -> None:
    """--plugin MODULE: name the modules where methods of one's own register, for this process
    and the child runs it starts (VIDROP_PLUGINS), and import them now."""
    from vidrop.methods.registry import PLUGINS_ENV, import_plugins

    known = [m for m in os.environ.get(PLUGINS_ENV, "").split(",") if m]
    os.environ[PLUGINS_ENV] = ",".join(dict.fromkeys([*known, *modules]))
    import_plugins()
