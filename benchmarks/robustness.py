"""Robustness table: the fuzz cases of ``tests/test_fuzz.py``, many per public entry point.

Every case ends as a *clean error* (an :class:`assay.errors.AssayError`), a *correct result*
(passes the entry point's check: finite attributions that add up, probabilities in [0, 1],
values of information >= 0...) or *other* (any other exception, or a wrong number). The cases
are Hypothesis draws with ``derandomize=True``, so the table is the same on every run.

Run (about 1 minute on one core at the default 500 cases per entry point)::

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/robustness.py [--examples 500] [--show 3]

``--show K`` prints the first K "other" cases of each entry point.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any


def _fuzz_module() -> Any:
    path = Path(__file__).resolve().parent.parent / "tests" / "test_fuzz.py"
    spec = importlib.util.spec_from_file_location("assay_test_fuzz", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=500, help="cases per entry point")
    parser.add_argument("--show", type=int, default=0, help="print the first K 'other' cases")
    parser.add_argument("--only", default=None, help="run only entry points containing this")
    args = parser.parse_args()
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    fuzz = _fuzz_module()
    rows = []
    for name in fuzz.ENTRY_POINTS:
        if args.only and args.only not in name:
            continue
        counts = {fuzz.CLEAN: 0, fuzz.CORRECT: 0, fuzz.OTHER: 0}
        shown: list[str] = []

        def record(kind: str, detail: str, case: Any, counts=counts, shown=shown) -> None:
            counts[kind] += 1
            if kind == fuzz.OTHER and len(shown) < args.show:
                shown.append(f"    {case}\n      -> {detail}")

        fuzz.run_cases(name, args.examples, record)
        rows.append((name, sum(counts.values()), *counts.values()))
        for line in shown:
            print(line, flush=True)
    header = ("entry point", "cases", "clean error", "correct result", "other")
    width = max(len(r[0]) for r in [header, *rows])
    print(f"{header[0]:<{width}}  {header[1]:>5}  {header[2]:>11}  {header[3]:>14}  {header[4]:>5}")
    for name, n, clean, correct, other in rows:
        print(f"{name:<{width}}  {n:>5}  {clean:>11}  {correct:>14}  {other:>5}")
    total = [sum(r[i] for r in rows) for i in range(1, 5)]
    print(f"{'total':<{width}}  {total[0]:>5}  {total[1]:>11}  {total[2]:>14}  {total[3]:>5}")


if __name__ == "__main__":
    main()
