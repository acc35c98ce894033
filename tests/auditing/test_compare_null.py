"""``assay.compare``'s regression search on null data, over 200 seeds: models that differ only
in their random seed, and exchangeable per-row losses, raise a regression at a rate within
alpha + binomial slack."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.linear_model import SGDClassifier

from assay.auditing._compare_sections import regression_slices

ALPHA = 0.05
N_SEEDS = 200
# one-sided binomial bound: a false-alarm rate at alpha exceeds this with probability < 1%
SLACK_BOUND = stats.binom.ppf(0.99, N_SEEDS, ALPHA) / N_SEEDS


def _cohort(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"g": rng.integers(0, 4, n), "a": rng.normal(size=n), "b": rng.normal(size=n)})
    p = 1 / (1 + np.exp(-(1.5 * X["a"] - 1.5 * X["b"])))
    return X, (rng.random(n) < p.to_numpy()).astype(int)


def test_seed_only_models_raise_no_regression_over_seeds():
    """Two SGD logistic models that differ only in their seed, fresh data per seed: the
    regression search (margin as in compare: 0.1 x the baseline's mean loss) flags a
    regression at a rate within alpha + binomial slack."""
    hits = 0
    for seed in range(N_SEEDS):
        X, y = _cohort(600, seed)
        tr, te = slice(0, 300), slice(300, None)
        m1, m2 = (
            SGDClassifier(loss="log_loss", average=True, alpha=1e-3, random_state=s).fit(
                X[tr], y[tr]
            )
            for s in (seed, seed + 10_000)
        )
        losses = [(m.predict_proba(X[te])[:, 1] - y[te]) ** 2 for m in (m1, m2)]
        found, _, _ = regression_slices(
            X[te].reset_index(drop=True), losses[0] - losses[1], alpha=ALPHA, seed=seed,
            margin=0.1 * losses[1].mean(), k=3,
        )  # fmt: skip
        hits += bool(found)
    assert hits / N_SEEDS <= SLACK_BOUND


def test_exchangeable_losses_false_alarm_rate_without_margin():
    """No margin at all: with the two models' per-row losses exchangeable (a coin decides which
    model got which), the rate of any flagged regression stays within alpha + slack."""
    hits = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy: near-constant samples
        for seed in range(N_SEEDS):
            rng = np.random.default_rng(seed)
            n = 300
            X = pd.DataFrame({"g": rng.integers(0, 4, n), "a": rng.normal(size=n).round(1)})
            la, lb = rng.beta(1, 4, n), rng.beta(1, 4, n)
            swap = rng.random(n) < 0.5
            diff = np.where(swap, lb - la, la - lb)
            found, _, _ = regression_slices(X, diff, alpha=ALPHA, seed=seed, margin=0.0, k=3)
            hits += bool(found)
    assert hits / N_SEEDS <= SLACK_BOUND
