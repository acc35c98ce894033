"""The slices modules import each other without cycles (top-level and function-level imports)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import assay

SRC = Path(assay.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def import_graph(package: str) -> dict[str, set[str]]:
    """Edges module -> modules of ``package`` it imports, anywhere in its body (ast walk)."""
    root = SRC.joinpath(*package.split(".")[1:])
    modules = {_module_name(p): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative import
                    anchor = name.split(".")
                    anchor = anchor if is_pkg else anchor[:-1]
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            else:
                continue
            # ``from assay.slices import _stats`` reaches the module _stats; ``from assay.slices
            # import find_slices`` reaches the package's __init__ (the parent packages a
            # submodule import runs on the way are already being imported: no edge)
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def find_cycle(graph: dict[str, set[str]], *, skip: set[str] = frozenset()) -> list[str] | None:
    """One cycle of ``graph`` (as a list of nodes, first repeated last), or None."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node] - skip):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(set(graph) - skip):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_cycle_finder_sees_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_graph_reads_function_level_imports():
    graph = import_graph("assay.slices")
    # the package re-exports find_slices, and the modes share one pipeline module
    assert "assay.slices._find" in graph["assay.slices"]
    assert "assay.slices._pipeline" in graph["assay.slices._fairness"]
    assert "assay.slices._pipeline" in graph["assay.slices._find"]
    assert "assay.slices._power" in graph["assay.slices._result"]  # imported inside a method


@pytest.mark.parametrize("package", ["assay.slices"])
def test_no_import_cycle(package):
    graph = import_graph(package)
    assert find_cycle(graph) is None, find_cycle(graph)
