"""The package's public surface: star import, and method packages free of renderers."""

from __future__ import annotations

import ast
from pathlib import Path

import assay

SRC = Path(assay.__file__).resolve().parent
METHOD_PACKAGES = [
    "attribution", "trust", "glassbox", "fairness", "slices", "probe", "evals", "acquire", "model",
]  # fmt: skip


def test_star_import_gives_every_name_in_all():
    namespace: dict = {}
    exec("from assay import *", namespace)
    assert set(assay.__all__) <= set(namespace)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_method_packages_import_no_renderer_or_command():
    offenders = []
    for package in METHOD_PACKAGES:
        for path in (SRC / package).rglob("*.py"):
            bad = [
                m for m in _imports(path)
                if m.startswith(("assay.auditing", "assay.report", "assay.cli", "assay._cli"))
            ]  # fmt: skip
            if bad:
                offenders.append((str(path.relative_to(SRC)), bad))
    assert offenders == []
