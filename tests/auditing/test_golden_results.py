"""The demo audit's results.json is unchanged, apart from timings, versions and paths.

The golden file is ``tests/data/demo_results.json``. When a change is meant to move the
results, regenerate it (and review the diff)::

    OMP_NUM_THREADS=1 PYTHONPATH=src python tests/regen_golden.py
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("regen_golden", _HERE.parent / "regen_golden.py")
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)

REGEN = "OMP_NUM_THREADS=1 PYTHONPATH=src python tests/regen_golden.py"


def _differences(a: Any, b: Any, where: str = "") -> list[str]:
    """Where ``a`` (this run) and ``b`` (golden) differ; floats to 1e-9 relative (last-bit
    noise between BLAS builds), everything else exactly."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{where}/{k}: only in this run" for k in a.keys() - b.keys()]
        out += [f"{where}/{k}: only in the golden file" for k in b.keys() - a.keys()]
        for k in sorted(a.keys() & b.keys()):
            out += _differences(a[k], b[k], f"{where}/{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} items, golden {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in _differences(x, y, f"{where}[{i}]")]  # fmt: skip
    if (
        isinstance(a, float) and isinstance(b, (int, float)) and not isinstance(b, bool)
    ) or (isinstance(b, float) and isinstance(a, int) and not isinstance(a, bool)):
        if math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (a != a and b != b):
            return []
        return [f"{where}: {a!r}, golden {b!r}"]
    return [] if a == b else [f"{where}: {str(a)[:120]!r}, golden {str(b)[:120]!r}"]


def test_normalize_drops_timings_versions_and_paths():
    raw = {"assay_version": "9.9", "meta": {"seconds": 3.0, "section_seconds": {"a": 1.0},
           "seed": 0}, "note": "wrote /tmp/abc/results.json"}  # fmt: skip
    assert golden.normalize(raw) == {"meta": {"seed": 0}, "note": "wrote <path>/results.json"}


def test_differences_sees_a_changed_number_and_ignores_last_bit_noise():
    assert _differences({"a": [1.0, "x"]}, {"a": [1.0 + 1e-14, "x"]}) == []
    assert _differences({"a": [1.0, "x"]}, {"a": [1.001, "x"]}) == ["/a[0]: 1.0, golden 1.001"]
    assert _differences({"a": 1}, {"b": 1}) != []


def test_demo_audit_results_unchanged():
    assert golden.GOLDEN.exists(), f"no golden file {golden.GOLDEN}; run {REGEN}"
    now = golden.normalize(golden.run_small_demo_audit())
    then = json.loads(golden.GOLDEN.read_text(encoding="utf-8"))
    diffs = _differences(json.loads(json.dumps(now)), then)
    assert not diffs, (
        f"results.json of the demo audit changed in {len(diffs)} place(s):\n"
        + "\n".join(diffs[:30])
        + f"\nIf the change is intended, regenerate the golden file: {REGEN}"
    )
