"""Every config key with its default and meaning, read off vidrop/config.py itself (each
field's comment, on its line or just above), so the reference can never drift from the code:
`vidrop pretrain --print-config` prints it beside the values, scripts/config_reference.py writes
docs/configuration.md from it (a test keeps that file equal to what the script writes)."""

from __future__ import annotations

import ast
import dataclasses
import io
import tokenize
from pathlib import Path

from vidrop import config

SECTIONS = {f.name: f.type for f in dataclasses.fields(config.Config)}


def _comments(source: str) -> dict[int, str]:
    """Line number -> the comment on that line."""
    out = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            out[tok.start[0]] = tok.string.lstrip("#").strip()
    return out


def field_notes() -> dict[str, dict[str, str]]:
    """class name -> field -> its comment (the lines just above it joined, then its own)."""
    source = Path(config.__file__).read_text()
    comments, lines = _comments(source), source.splitlines()
    notes: dict[str, dict[str, str]] = {}
    for node in ast.parse(source).body:
        if not isinstance(node, ast.ClassDef):
            continue
        fields = {}
        for item in node.body:
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                above: list[str] = []
                n = item.lineno - 1
                while n >= 1 and lines[n - 1].strip().startswith("#"):
                    above.insert(0, comments[n])
                    n -= 1
                own = comments.get(item.end_lineno or item.lineno, "")
                fields[item.target.id] = " ".join([*above, own]).strip()
        notes[node.name] = fields
    return notes


def reference() -> list[tuple[str, str, str]]:
    """(section.key, default, meaning) for every key, in the config's order."""
    notes, defaults = field_notes(), config.Config().to_dict()
    rows = []
    for section, cls in SECTIONS.items():
        name = cls if isinstance(cls, str) else cls.__name__
        for key, value in defaults[section].items():
            rows.append((f"{section}.{key}", repr(value), notes.get(name, {}).get(key, "")))
    return rows


def markdown() -> str:
    """docs/configuration.md."""
    lines = [
        "# Configuration reference",
        "",
        "Every key of a run's config, its default and what it means: generated from",
        "`vidrop/config.py` by `python scripts/config_reference.py` (a test keeps this page equal",
        "to what the script writes). Set a key in a recipe's YAML (`section: {key: value}`) or on",
        "the command line (`section.key=value`); `vidrop pretrain --config RECIPE --print-config`",
        "shows a recipe resolved, with these meanings beside the values.",
        "",
    ]
    section = None
    for key, default, meaning in reference():
        top = key.split(".")[0]
        if top != section:
            section = top
            lines += ["", f"## {section}", "", "| key | default | meaning |", "|---|---|---|"]
        lines.append(f"| `{key}` | `{default}` | {meaning.replace('|', '/')} |")
    return "\n".join(lines) + "\n"
