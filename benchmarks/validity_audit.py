"""False-alarm rate and power of the audit's calibration test and glass-box gap interval.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/validity_audit.py --runs 500

Null: outcomes drawn from the model's own probabilities (perfect calibration); two models of
equal quality (independent noise of the same size) for the gap. Power: an overconfident model
(log-odds stretched by 1.5 or 2.5); a model better by a planted margin.
"""

from __future__ import annotations

import argparse

import numpy as np

from assay.auditing._calibration import calibration_test
from assay.auditing._paired import paired_gap


def calibration_rate(n: int, stretch: float, runs: int) -> float:
    hits = 0
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        p_true = rng.beta(2, 5, n)
        y = (rng.random(n) < p_true).astype(int)
        logit = np.log(p_true / (1 - p_true)) * stretch
        hits += calibration_test(y, 1 / (1 + np.exp(-logit)), n_simulations=199, seed=seed)[
            "p_value"
        ] < 0.05
    return hits / runs


def gap_rate(n: int, better: float, runs: int) -> float:
    hits = 0
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        y = rng.integers(0, 2, n)
        a = y + rng.normal(0, 1.0 - better, n)
        b = y + rng.normal(0, 1.0, n)
        res = paired_gap(y, a, b, metric="AUC", n_bootstrap=300, seed=seed)
        hits += res["ci_low"] > 0 or res["ci_high"] < 0
    return hits / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=500)
    runs = parser.parse_args().runs
    print("| check | data | runs | rate of warnings (alpha 0.05) |")
    print("|---|---|---|---|")
    for n in (159, 1000):
        print(f"| calibration, null (calibrated) | n={n} | {runs} | "
              f"{calibration_rate(n, 1.0, runs):.3f} |")  # fmt: skip
    for n, s in ((159, 2.5), (1000, 1.5)):
        print(f"| calibration, power (log-odds x{s}) | n={n} | {runs} | "
              f"{calibration_rate(n, s, runs):.3f} |")  # fmt: skip
    print(f"| glass-box gap interval excludes 0, null | n=400 | {runs} | "
          f"{gap_rate(400, 0.0, runs):.3f} |")  # fmt: skip
    print(f"| glass-box gap interval excludes 0, power (noise sd 0.7 vs 1) | n=400 | {runs} | "
          f"{gap_rate(400, 0.3, runs):.3f} |")  # fmt: skip


if __name__ == "__main__":
    main()
