"""How many degrees of freedom do PermutationShap's standard errors need? Issue 25.

95% intervals ``values +- 1.96 stderr`` against ExactShapley on a diabetes
HistGradientBoostingRegressor (d = 10), for 1-10 background rows and 4-32 permutations: 10 rows
x 60 seeds per cell. The design's degrees of freedom are ``pairs - 1`` per background row
(``params["stderr_dof"]``); below ``MIN_STDERR_DOF`` PermutationShap warns.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/study_stderr_dof.py
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.ensemble import HistGradientBoostingRegressor

from assay.attribution import ExactShapley, PermutationShap

warnings.filterwarnings("ignore")


def main() -> None:
    X, y = load_diabetes(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    hgb = HistGradientBoostingRegressor(max_iter=100, random_state=0).fit(X, y)
    rows = X[np.random.default_rng(0).permutation(len(X))[:10]]
    print("| background rows | permutations | stderr_dof | 95% coverage |")
    print("|---:|---:|---:|---:|")
    for B in (1, 2, 3, 5, 10):
        bg = X[200 : 200 + B]
        exact = ExactShapley(hgb, background=bg).explain(rows).values
        for P in (4, 8, 16, 32):
            hits, dof = [], None
            for seed in range(60):
                e = PermutationShap(hgb, background=bg, n_permutations=P).explain(rows, seed=seed)
                hits.append(np.abs(e.values - exact) <= 1.96 * e.stderr)
                dof = e.params["stderr_dof"]
            print(f"| {B} | {P} | {dof:g} | {np.mean(hits):.3f} |", flush=True)


if __name__ == "__main__":
    main()
