"""The `vidrop` command: one module per command group, each with `register(sub)`; parsing and
wiring only. A user error (bad input, a flag that cannot work) prints one line and exits 2; a
failure of the run itself exits 1 with its traceback."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from vidrop import __version__
from vidrop.cli import bench, compare, compress, data, demo, eval, extract, plot, train, viz
from vidrop.cli.common import LATE_OVERRIDES, Formatter, is_override, use_plugins
from vidrop.progress import console
from vidrop.stops import Stopped

GROUPS = (demo, data, train, compare, eval, extract, viz, compress, plot, bench)


OVERRIDE_COMMANDS = ("pretrain", "compare", "demo")  # the commands that take key=value overrides


class Parser(argparse.ArgumentParser):
    """argparse, with a hint when an unknown flag of a command that takes config overrides
    looks like one (`pretrain --data x.csv`: data.train=x.csv)."""

    argv: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # no prefixes: `--out` must never quietly mean `--out-file`
        super().__init__(*args, **{"allow_abbrev": False, **kwargs})

    def error(self, message: str) -> NoReturn:
        takes_overrides = any(c in self.argv for c in OVERRIDE_COMMANDS)
        hints = (self.get_default("override_hints") or {}) if takes_overrides else {}
        for flag, override in hints.items():
            if f"unrecognized arguments: {flag}" in message:
                message += f"; set it as an override: {override}"
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="vidrop",
        formatter_class=Formatter,
        description="ViDROP: self-supervised video ViTs with token dropping, and the tools around "
        "it. `vidrop COMMAND --help` explains each command.",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.set_defaults(override_hints=train.OVERRIDE_HINTS)  # unknown flags are reported up here
    p.add_argument("--version", action="version", version=f"vidrop {__version__}")
    p.add_argument(
        "--plugin",
        action="append",
        metavar="MODULE",
        help="import MODULE first: a method of your own registers itself there (docs/design.md)",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for group in GROUPS:
        group.register(sub)
    return p


def user_errors() -> tuple[type[Exception], ...]:
    """Errors that mean the input cannot give a result (exit 2, one line, no traceback): every
    vidrop error, and a path that is missing or already there."""
    from vidrop.errors import VidropError

    return (VidropError, FileNotFoundError, FileExistsError)


def _logging(verbose: bool) -> None:
    """Rich on a terminal; plain unwrapped lines in logs and CI, where paths must stay whole."""
    from rich.logging import RichHandler

    handler = (
        RichHandler(console=console, show_path=False, show_time=False)
        if console.is_terminal
        else logging.StreamHandler(sys.stderr)
    )
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s" if console.is_terminal else "%(levelname)s %(message)s",
        handlers=[handler],
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    Parser.argv = list(sys.argv[1:] if argv is None else argv)
    args, extra = parser.parse_known_args(Parser.argv)
    late = vars(args).pop(LATE_OVERRIDES, [])  # handed to an option whose value may be left out
    if any(t not in Parser.argv for t in late):  # `--synth=data.x=1`: glued to the option
        parser.error(f"write {' '.join(late)} apart from the option it follows")
    extra = [*late, *extra]
    if extra:  # overrides after an option: argparse takes only one run of positionals
        if getattr(args, "overrides", None) is None or not all(map(is_override, extra)):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        given = [*args.overrides, *extra]
        args.overrides = sorted(given, key=Parser.argv.index)  # as typed: a later one wins
    if args.command is None:  # `vidrop` alone: what it can do
        parser.print_help()
        return 0
    _logging(args.verbose)
    if args.plugin:
        use_plugins(args.plugin)
    func: Callable[[argparse.Namespace], None] = args.func
    try:
        func(args)
    except user_errors() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        console.print("interrupted; run the same command again to resume")
        return 130
    except Stopped as exc:  # SIGTERM / SIGUSR1, after the run saved its state
        console.print(f"{exc}", markup=False)
        return exc.exit_code
    return 0


__all__ = ["build_parser", "main"]
