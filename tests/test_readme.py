"""The README is the front page: short, no dated history, its commands real (the two set-up
commands are CI's, every `vidrop ...` line of it and of docs/ parses, the Python snippet runs)."""

import re
import shlex
from pathlib import Path

import pytest
import torch

from tests.helpers import tiny_export
from vidrop.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
DATE = re.compile(r"\b20\d\d-\d\d-\d\d\b")


def blocks(lang: str, text: str = README) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def prose() -> str:
    return re.sub(r"```.*?```", "", README, flags=re.S)


def test_front_page_is_short():
    assert len(prose().split()) <= 1500


def test_no_dated_history_outside_the_speed_tables_date_line():
    text = re.sub(r"\]\([^)]*\)", "]", README)  # a link to a dated record is not narrative
    dated = [line for line in text.splitlines() if DATE.search(line)]
    assert len(dated) <= 1 and all("measured 20" in line for line in dated), dated


def test_the_two_setup_commands_are_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    setup = [c for c in blocks("bash")[0].splitlines() if c.startswith("python3 -m venv")]
    assert len(setup) == 2 and setup[0].endswith("vidrop demo")
    assert setup[1] in ci  # a missing install step would fail CI, not only the reader


def vidrop_commands(text: str) -> list[list[str]]:
    """Every `vidrop ...` command of a page's bash blocks, continuation lines joined, optional
    `[...]` parts left out, `...` placeholders filled."""
    found = []
    for block in blocks("bash", text):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\[[^\]]*\]", "", line.split(" #")[0]).replace("...", "X")
            words = shlex.split(line) if "vidrop" in line else []
            if "vidrop" in words:
                found.append(words[words.index("vidrop") + 1 :])
    return found


PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COMMANDS = [(p.name, c) for p in PAGES for c in vidrop_commands(p.read_text())]


@pytest.mark.parametrize(
    ("page", "argv"), COMMANDS, ids=[f"{p}: {' '.join(c)}" for p, c in COMMANDS]
)
def test_every_command_in_the_guide_parses(page, argv):
    build_parser().parse_args(argv)  # exits 2 on a flag or command that does not exist


def test_python_snippet_runs_on_an_export(tmp_path, monkeypatch):
    (snippet,) = blocks("python")
    monkeypatch.chdir(tmp_path)
    tiny_export(tmp_path / "vidrop-demo" / "run" / "export")
    scope: dict = {}
    exec(compile(snippet, "README.md", "exec"), scope)  # noqa: S102 - our own README
    assert scope["features"]["cls"].shape == (1, 192)
    assert scope["features"]["patch"].shape == (1, 64, 192)
    assert scope["features"]["cls"].dtype == torch.float32
