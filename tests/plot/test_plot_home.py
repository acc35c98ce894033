"""Every plot lives in ``assay.plot``: no method package imports matplotlib."""

from __future__ import annotations

import ast
from pathlib import Path

import assay

SRC = Path(assay.__file__).resolve().parent
METHOD_PACKAGES = [
    "attribution", "trust", "glassbox", "fairness", "slices", "probe", "evals", "acquire", "model",
]  # fmt: skip


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_method_packages_do_not_draw():
    offenders = {
        str(path.relative_to(SRC)): sorted(m for m in _imports(path) if m.startswith("matplotlib"))
        for package in METHOD_PACKAGES
        for path in (SRC / package).rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_reexported_plots_are_the_assay_plot_functions():
    import assay.plot
    from assay.acquire import plot_value_of_information
    from assay.slices import plot_slices

    assert plot_slices is assay.plot.plot_slices
    assert plot_value_of_information is assay.plot.plot_value_of_information
