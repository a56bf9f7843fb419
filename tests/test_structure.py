"""Facts about the code a reviewer would otherwise check by hand: vidrop's packages import each
other without a cycle (lazy imports inside functions included), and no module outside
vidrop/methods dispatches on a method's name."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "vidrop"


def unit(module: str) -> str:
    """vidrop.data.batch -> data; vidrop.config -> config (a top-level module is its own unit)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imports(path: Path) -> set[str]:
    """Every vidrop module `path` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "vidrop":
                found |= {f"vidrop.{a.name}" for a in node.names}
            elif node.module.startswith("vidrop."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("vidrop.")}
    return found


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        source = unit(module.removesuffix(".__init__"))
        if not source:
            continue  # vidrop/__init__.py re-exports the public API: above every unit
        targets = {unit(m) for m in imports(path)} - {source, ""}
        graph.setdefault(source, set()).update(targets)
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle among the units, or [] (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_the_packages_import_each_other_without_a_cycle():
    graph = package_graph()
    assert {"methods", "train", "data", "compress", "compare"} <= set(graph)
    assert cycle(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) == []


# a method named in a test: method == "x", m != "videomae", "dense" in ..., x in ("vidrop", ...)
NAMES = "vidrop|dense|videomae"
NAME_TEST = re.compile(
    rf"""(method\w*|\bm)\s*(==|!=)\s*["']|["']({NAMES})["']\s*(==|!=)|(==|!=)\s*["'](dense|videomae)"""
    rf"""["']|\b(not\s+)?in\s+\(["']({NAMES})["']|["'](dense|videomae)["']\s+(not\s+)?in\b"""
)


def test_no_module_outside_methods_dispatches_on_a_method_name():
    offenders = [
        f"{path.relative_to(PACKAGE)}:{i}: {line.strip()}"
        for path in PACKAGE.rglob("*.py")
        if "methods" not in path.relative_to(PACKAGE).parts
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if NAME_TEST.search(line)
    ]
    assert offenders == []
    for line in (
        'if cfg.train.method == "vidrop":',
        'x = "a" if m != "videomae" else "b"',
        'if "videomae" in spec.methods:',
        'elif name in ("dense", "videomae"):',
    ):
        assert NAME_TEST.search(line), line
    assert not NAME_TEST.search('prog = "vidrop" if package == "vidrop" else "python"')
