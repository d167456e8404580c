"""No import cycle between the modules of hilbench's Python packages, and the packages
depend on each other one way only: hilbench_pytest -> hilbench_reports -> hilbench.

Reads the import statements (module level and inside functions alike) of the installed
packages, so a cycle hidden behind a function-level import is found too."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

PACKAGES = ("hilbench", "hilbench_reports", "hilbench_pytest")
# package -> packages it may import (the layering in docs/ARCHITECTURE.md)
ALLOWED = {"hilbench": set(), "hilbench_reports": {"hilbench"},
           "hilbench_pytest": {"hilbench", "hilbench_reports"}}


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.origin is not None
        root = Path(spec.origin).parent  # where __init__.py is (editable installs add more)
        for path in root.rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    is_package = path.name == "__init__.py"
    base = name.split(".") if is_package else name.split(".")[:-1]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = ".".join(base[:len(base) - node.level + 1] + ([node.module] if node.module else [])) \
                if node.level else (node.module or "")
            for alias in node.names:
                # `from pkg import mod` depends on the module; `from pkg import name`, on pkg
                submodule = f"{module}.{alias.name}"
                targets.add(submodule if submodule in known else module)
    # A parent package's __init__ also runs, but a package re-exporting its modules is not a
    # cycle; only what a module names counts.
    return {t for t in targets if t in known and t != name}


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports_of(name, path, set(found)) for name, path in found.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in edges[node]:
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return out


def test_no_import_cycle_between_modules() -> None:
    edges = graph()
    assert len(edges) > 20  # the packages were found
    assert cycles(edges) == []


def test_packages_depend_one_way() -> None:
    wrong = sorted((module, target) for module, targets in graph().items() for target in targets
                   if target.split(".")[0] != module.split(".")[0]
                   and target.split(".")[0] not in ALLOWED[module.split(".")[0]])
    assert wrong == []


def test_the_checker_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
