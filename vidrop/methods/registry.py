"""Methods by name: one decorator to register, one lookup that names the known ones on a miss.

A method of your own is a `Method` subclass decorated with `@register_method` in a module of
yours; name the module in the VIDROP_PLUGINS environment variable (comma-separated), or with
`vidrop --plugin MODULE ...`, which sets it, so that `vidrop compare`'s child runs import it too.
"""

from __future__ import annotations

import difflib
import importlib
import os
from typing import TypeVar

from vidrop.config import ConfigError
from vidrop.methods.base import Method

PLUGINS_ENV = "VIDROP_PLUGINS"
M = TypeVar("M", bound=type[Method])
_METHODS: dict[str, Method] = {}


def register_method(cls: M) -> M:
    """Class decorator: `train.method=NAME` and `--methods NAME` now train `cls` (cls.name)."""
    known = _METHODS.get(cls.name)
    if known is not None and type(known).__qualname__ != cls.__qualname__:
        raise ValueError(f"a method named {cls.name!r} is registered already ({type(known)})")
    _METHODS[cls.name] = cls()
    return cls


def import_plugins() -> None:
    """Import the modules named in VIDROP_PLUGINS (they register their methods)."""
    for module in filter(None, (m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(","))):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            message = f"{PLUGINS_ENV} names {module!r}, which cannot be imported ({exc})"
            raise ConfigError(message) from exc


def get_method(name: str) -> Method:
    if name not in _METHODS:
        import_plugins()
    if name not in _METHODS:
        close = difflib.get_close_matches(name, list(_METHODS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"unknown method {name!r}{hint}; known: {', '.join(method_names())}. A method of your "
            f"own: register it (docs/design.md) and name its module with --plugin MODULE"
        )
    return _METHODS[name]


def method_names() -> tuple[str, ...]:
    return tuple(_METHODS)
