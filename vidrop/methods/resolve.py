"""The config a method trains: the base recipe (ViDROP's, with the overrides for every method),
the method's own recipe derived from it, then the overrides for that method alone.

`section.key=value` shapes the shared base: the encoder, the views, the data, the budget, and
ViDROP's own settings. `METHOD:section.key=value` reaches one method only, after its recipe, so
it can change what the recipe sets (`videomae:mask.drop_ratio=0.75`). A general override that a
method's recipe replaces is reported, with the scoped form that would reach it.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from vidrop.config import (
    Config,
    ConfigError,
    from_dict,
    merge,
    parse_overrides,
    read_recipe,
    split_overrides,
    with_overrides,
)
from vidrop.methods.registry import get_method

log = logging.getLogger("vidrop")


def resolve_config(
    source: str | Path | None, overrides: list[str] | None = None, method: str = ""
) -> Config:
    """The validated config of `method` (default: the recipe's train.method) from a recipe and
    overrides. A resolved config (a run's config.yaml) is taken as it is, scoped overrides
    aside."""
    general, scoped = split_overrides(overrides or [])
    raw, resolved = read_recipe(source) if source else ({}, False)
    base = from_dict(merge(raw, parse_overrides(general)))
    name = method or base.train.method
    for other in scoped:
        get_method(other)  # a misspelt method name is an error, not a silent no-op
    m = get_method(name)
    base = replace(base, train=replace(base.train, method=name))
    cfg = base if resolved else m.recipe(base)
    _report_replaced(general, base, cfg, name)
    try:
        cfg = with_overrides(cfg, scoped.get(name, []))
    except ConfigError as exc:
        raise ConfigError(f"{name}: {exc}") from exc
    m.check(cfg)
    return cfg


def _report_replaced(general: list[str], base: Config, cfg: Config, method: str) -> None:
    before, after = base.to_dict(), cfg.to_dict()
    for item in general:
        section, key = item.split("=", 1)[0].strip().split(".")
        if before[section][key] != after[section][key]:
            value = after[section][key]
            log.warning(
                "%s: the %s recipe sets %s.%s=%r itself; write %s:%s to change it for %s",
                *(item, method, section, key, value, method, item, method),
            )
