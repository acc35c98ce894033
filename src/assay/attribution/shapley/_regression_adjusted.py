"""Regression-adjusted Monte Carlo Shapley values (Witter et al. 2025).

Shapley values are linear in the game: ``phi(v) = phi(g) + phi(v - g)`` for any game ``g``.
Here ``g`` is a proxy fitted to the coalition values ``v(S)`` that the antithetic
permutation walks of :class:`PermutationShap` evaluated, as a function of the ``d`` coalition
indicators (0/1; the empty and the full coalition, whose values are known, are added): a
least-squares additive fit plus a small random forest on what it leaves. Its Shapley values
are exact (the additive coefficients, plus the trees' from their leaves, below); only the
residual game ``v - g`` is estimated by sampling, by the same antithetic pair estimates.

Antithetic pairs are already exact on games with interactions of order at most 2, so only the
proxy's higher-order part changes the variance; the closer it is to the game's, the smaller
the error. A forest fitted to the raw values turns main effects into spurious interactions
(its steps): on the diabetes HGB / MLP games that made the MSE 5-12x larger than plain
sampling's; fitted to the additive fit's residual the RMSE is 0.62-0.98x plain sampling's
(``benchmarks/bench_regression_adjusted.py``).

Cross-fitting keeps the estimate unbiased: the pairs are split into two folds; fold A's
estimate is ``phi(g_B) + mean_A(pair estimates of v - g_B)`` with ``g_B`` fitted on fold B
only (so independent of fold A's pairs), and the other way round. The value is the mean of
the two folds weighted by their pairs, ``(n_A est_A + n_B est_B) / n``, the standard error
``sqrt(n_A var_A + n_B var_B) / n`` from the residual pair estimates (without a proxy, the
walks' own: every pair pooled, as ``PermutationShap``). Efficiency holds exactly: ``phi(g)``
sums to ``g(N) - g(∅)`` and each residual pair to ``(f(x) - g(N)) - (v(∅) - g(∅))``.

``sampler="kernel"``: the coalitions are KernelSHAP's (``KernelShap(coalitions="shared")``,
leverage sampling): the plan's enumerated sizes (exact, fixed) plus complementary pairs drawn
per row, and the residual game is estimated by KernelSHAP's efficiency-constrained weighted
regression (:func:`._kernel._solve`). Fold A's estimate is ``phi(g_B)`` plus the regression
of ``v - g_B`` on the enumerated coalitions and fold A's sampled pairs, constrained to sum to
``(f(x) - g_B(N)) - (v(∅) - g_B(∅))``; ``g_B`` is fitted on fold B's pairs plus the enumerated
coalitions (fixed, so ``g_B`` is still independent of fold A's draws). Its standard error is
the regression's own (sandwich or delete-one-pair jackknife, the larger); the folds combine as
above. ``proxy="none"`` is one regression on all the pairs: ``KernelShap(coalitions="shared")``
on the same draws. Unlike the pair means of the permutation walks, the regression is a ratio
estimator with a bias of order ``1 / pairs`` (plain KernelSHAP's too: 0.15 of its RMSE on the
test's order-3 game at 48 coalitions), which the proxy does not remove; each fold's regression
uses half the pairs.

Exact Shapley values of a tree in the indicators ``z`` for the game ``S -> g(1_S)`` (one
background row of zeros, foreground of ones): a leaf is reached by coalition ``S`` exactly
when the features of a set ``A`` (those whose split sends 1 but not 0 down the leaf's path)
are in ``S`` and those of a set ``B`` (0 but not 1) are not. That leaf is the game
``value * [A ⊆ S, B ∩ S = ∅]``, whose Shapley values are ``value / (|A| C(|A|+|B|, |A|))``
for each feature of ``A`` and ``-value / (|B| C(|A|+|B|, |B|))`` for each of ``B``
(interventional TreeSHAP with a single background row).
"""

from __future__ import annotations

import warnings
from typing import Any

import numba
import numpy as np

from assay._validation import check_int
from assay.attribution._base import DEFAULT_MAX_MEMORY
from assay.attribution._explanation import Explanation
from assay.attribution.shapley._kernel import MIN_PAIRS, _draw_pairs, _solve, make_plan
from assay.attribution.shapley._permutation import (
    MIN_STDERR_DOF,
    _pair_coalition_values,
    check_n_permutations,
    walk_pair_estimates,
)
from assay.attribution.shapley._sampling import (
    Game,
    SamplingExplainer,
    base_value,
    coalition_values,
    evaluate_once,
    rows_per_chunk,
)
from assay.errors import AssayWarning, InvalidInputError
from assay.parallel import row_rng, seed_entropy

__all__ = ["RegressionAdjustedShap", "forest_indicator_shapley"]

PROXIES = ("auto", "trees", "none")
SAMPLERS = ("permutation", "kernel")
# trees per proxy forest: at 32 permutations on the diabetes HGB / MLP (d = 10, 50 background
# rows) MSE relative to no proxy was 0.77-0.89 with 10 trees, 0.61-0.68 with 30 and 0.57-0.60
# with 60, at about 25, 60 and 110 ms per explained row (fitting dominates)
N_TREES = 30
MIN_PERMUTATIONS = 8  # 2 folds of at least 2 forward/reverse pairs


@numba.njit(cache=True, nogil=True)
def _leaf_weight(a: int, b: int) -> float:
    """``1 / (a C(a + b, a))``: the Shapley weight of each of ``a`` required-in features."""
    c = 1.0
    for i in range(1, a + 1):
        c = c * (b + i) / i
    return 1.0 / (a * c)


@numba.njit(cache=True, nogil=True)
def _tree_indicator_shapley(
    left: np.ndarray,
    right: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    value: np.ndarray,
    phi: np.ndarray,
) -> None:
    """Add the exact Shapley values (d, k) of the game ``S -> tree(1_S)`` to ``phi`` (see the
    module docstring). Nodes are numbered parents first (scikit-learn's builders), so one
    forward pass carries each node's requirements (+1: in S, -1: not in S) to its children."""
    n, d = left.shape[0], phi.shape[0]
    need = np.zeros((n, d), dtype=np.int8)
    reach = np.zeros(n, dtype=np.bool_)
    reach[0] = True
    for node in range(n):
        if not reach[node]:
            continue
        if left[node] == -1:
            a = 0
            b = 0
            for j in range(d):
                a += need[node, j] == 1
                b += need[node, j] == -1
            wa = _leaf_weight(a, b) if a else 0.0
            wb = _leaf_weight(b, a) if b else 0.0
            for j in range(d):
                if need[node, j] == 1:
                    phi[j] += value[node] * wa
                elif need[node, j] == -1:
                    phi[j] -= value[node] * wb
            continue
        j = feature[node]
        one_left = 1.0 <= threshold[node]
        zero_left = 0.0 <= threshold[node]
        for side in range(2):
            child = left[node] if side == 0 else right[node]
            one = one_left if side == 0 else not one_left
            zero = zero_left if side == 0 else not zero_left
            if not (one or zero):
                continue
            req = 0 if (one and zero) else (1 if one else -1)
            if req != 0 and need[node, j] == -req:  # contradicts an earlier split
                continue
            need[child] = need[node]
            if req != 0:
                need[child, j] = req
            reach[child] = True


def forest_indicator_shapley(forest: Any, d: int) -> np.ndarray:
    """Exact Shapley values (d, k) of ``S -> forest.predict(1_S)`` for a fitted scikit-learn
    forest regressor (random forest or extra trees: the mean of its trees)."""
    k = int(np.prod(forest.estimators_[0].tree_.value.shape[1:-1]))
    phi = np.zeros((d, k))
    for tree in forest.estimators_:
        t = tree.tree_
        _tree_indicator_shapley(
            t.children_left,
            t.children_right,
            t.feature,
            t.threshold,
            np.ascontiguousarray(t.value[:, :, 0], dtype=np.float64),
            phi,
        )
    return phi / len(forest.estimators_)


def _fit_proxy(Z: np.ndarray, y: np.ndarray, random_state: int) -> Any:
    from sklearn.ensemble import RandomForestRegressor

    # bootstrap forests: on binary indicators extra-trees' random thresholds are all the same
    # split, so its trees barely differ; bagging gave lower error and better coverage (95%
    # intervals 0.92 vs 0.86 at 32 permutations on an order-3 game, 15 seeds x 4 rows)
    proxy = RandomForestRegressor(n_estimators=N_TREES, random_state=random_state)
    return proxy.fit(Z, y if y.shape[1] > 1 else y[:, 0])


class _Proxy:
    """The proxy game ``g(z) = c + z @ beta + forest(z)``: a least-squares additive fit of the
    indicators, and a forest on what it leaves. Antithetic pairs are exact on additive (and
    pairwise) games, so only the forest's part matters to the variance; fitting it to the
    additive fit's residual keeps a forest's steps from turning main effects into spurious
    interactions."""

    def __init__(self, Z: np.ndarray, y: np.ndarray, seed: int) -> None:
        design = np.column_stack([np.ones(Z.shape[0]), Z])
        self.coef = np.linalg.lstsq(design, y, rcond=None)[0]  # (d + 1, k)
        self.forest = _fit_proxy(Z, y - self._additive(Z), seed)
        self.k = y.shape[1]

    def _additive(self, Z: np.ndarray) -> np.ndarray:
        return self.coef[0] + Z @ self.coef[1:]

    def predict(self, Z: np.ndarray) -> np.ndarray:
        Z = Z.astype(float)
        trees = np.asarray(self.forest.predict(Z), dtype=float).reshape(-1, self.k)
        return self._additive(Z) + trees

    def shapley(self) -> np.ndarray:
        d = self.coef.shape[0] - 1
        return self.coef[1:] + forest_indicator_shapley(self.forest, d)


def _proxy_game(
    masks: np.ndarray, v: np.ndarray, start: np.ndarray, end: np.ndarray, seed: int
) -> tuple[_Proxy, np.ndarray]:
    """Fit the proxy to one fold's coalitions ``masks`` (m, d) with values ``v`` (m, k) plus
    the empty (``start``) and full (``end``) coalitions; return it and its Shapley values."""
    d = masks.shape[1]
    Z = np.concatenate([masks, np.zeros((1, d), bool), np.ones((1, d), bool)]).astype(float)
    y = np.concatenate([v, start[None], end[None]])
    proxy = _Proxy(Z, y, seed)
    return proxy, proxy.shapley()


def _row_estimate(
    orders: np.ndarray,
    masks: np.ndarray,
    v: np.ndarray,
    v0: np.ndarray,
    fx: np.ndarray,
    seeds: tuple[int, int],
    fit: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cross-fitted estimate of one row: values (d, k), stderr (d, k) and the predicted
    squared error (the sum of the variances). ``fit`` False: the proxy is 0."""
    P, d = orders.shape
    k = v.shape[-1]
    if not fit:  # every pair pooled: PermutationShap's estimate and standard error
        est = walk_pair_estimates(orders[None], v[None], v0, fx)[0]
        var = est.var(axis=0, ddof=1) / P
        return est.mean(axis=0), np.sqrt(var), var
    half = P // 2
    folds = (np.arange(half), np.arange(half, P))
    phi, var = np.zeros((d, k)), np.zeros((d, k))
    for a, (own, other) in enumerate((folds, folds[::-1])):
        start, end = v0, fx
        resid = v[own]
        phi_g = np.zeros((d, k))
        if fit:
            m_other = masks[other].reshape(-1, d)
            proxy, phi_g = _proxy_game(m_other, v[other].reshape(-1, k), v0, fx, seeds[a])
            g = proxy.predict(masks[own].reshape(-1, d)).reshape(v[own].shape)
            g0, g1 = proxy.predict(np.stack([np.zeros(d), np.ones(d)]))
            resid, start, end = v[own] - g, v0 - g0, fx - g1
        est = walk_pair_estimates(orders[None, own], resid[None], start, end)[0]
        share = len(own) / P  # folds weighted by their pairs (unequal when P is odd)
        phi += share * (phi_g + est.mean(axis=0))
        var += share**2 * est.var(axis=0, ddof=1) / len(own)
    return phi, np.sqrt(var), var


def _choose(estimate: Any, proxy: str, scale: float) -> tuple[np.ndarray, np.ndarray, int]:
    """One row's values, stderr and whether the proxy was used, from ``estimate(fit)`` (values,
    stderr, variances) with the proxy (``fit`` True) or without."""
    # values whose squares overflow (or NaN / inf) get no proxy: the explanation reports them
    if proxy == "none" or not scale < 1e150:
        plain = estimate(False)
        return plain[0], plain[1], 0
    fitted = estimate(True)
    if proxy == "auto":
        plain = estimate(False)
        # the proxy only where it lowers the variance by more than rounding (an additive
        # game's plain variance is 0 up to rounding)
        tiny = (1e-12 * scale) ** 2 * plain[2].size
        if fitted[2].sum() >= plain[2].sum() - tiny:
            return plain[0], plain[1], 0
    return fitted[0], fitted[1], 1


def _regression_adjusted_batch(
    shared: tuple[Game, np.ndarray, int, int, str], batch: tuple[np.ndarray, np.ndarray]
) -> dict:
    """Explain one batch of rows (runs on a worker): every row's walks are evaluated in one
    go, then each row's proxies are fitted and its folds combined."""
    game, v0, n_pairs, entropy, proxy = shared
    idx, X = batch
    r, d = X.shape
    fx = game.predict(X)
    k = fx.shape[1]
    used = np.zeros(r, dtype=np.int64)  # 0: none, 1: trees
    if d == 1:
        phi = (fx - v0)[:, None, :]
        return {"phi": phi, "se": np.zeros_like(phi), "proxy": used, "model_rows": used.copy()}
    rngs = [row_rng(entropy, int(i)) for i in idx]
    orders, masks, v, model_rows = _pair_coalition_values(game, X, rngs, n_pairs, np.arange(r))
    phi, se = np.zeros((r, d, k)), np.zeros((r, d, k))
    for t in range(r):
        # the proxies' seeds come from the row's generator after its walks: same per seed
        seeds = tuple(int(s) for s in rngs[t].integers(0, 2**31 - 1, size=2))
        args = (orders[t], masks[t], v[t], v0, fx[t], seeds)
        scale = max(np.abs(v[t]).max(), np.abs(fx[t]).max(), np.abs(v0).max())
        phi[t], se[t], used[t] = _choose(
            lambda fit, a=args: _row_estimate(*a, fit=fit), proxy, scale
        )
    return {"phi": phi, "se": se, "proxy": used, "model_rows": model_rows}


def _kernel_fit(
    plan: Any,
    vE: np.ndarray,
    Z: np.ndarray,
    vZ: np.ndarray,
    v0: np.ndarray,
    fx: np.ndarray,
    proxy: _Proxy | None,
) -> tuple[np.ndarray, np.ndarray]:
    """KernelSHAP's constrained regression (values and stderr, (d, k)) on the game ``v - g``
    (``g`` the proxy, or 0): the plan's enumerated coalitions (values ``vE``, (E, k)) and the
    sampled pairs ``Z`` (S, d) with values ``vZ`` (S, k); its efficiency constraint is
    ``(f(x) - g(N)) - (v(∅) - g(∅))``."""
    start, end, rE, rZ = v0, fx, vE, vZ
    if proxy is not None:
        d = Z.shape[1]
        g0, g1 = proxy.predict(np.stack([np.zeros(d), np.ones(d)]))
        gE = proxy.predict(plan.enum_masks) if vE.shape[0] else vE
        rE, rZ = vE - gE, vZ - proxy.predict(Z)
        start, end = v0 - g0, fx - g1
    bE = ((plan.enum_masks.T * plan.enum_weights) @ (rE - start))[None]
    phi, se = _solve(plan, bE, Z[None], (rZ - start)[None], (end - start)[None])
    return phi[0], se[0]


def _kernel_row_estimate(
    plan: Any,
    vE: np.ndarray,
    Z: np.ndarray,
    vZ: np.ndarray,
    v0: np.ndarray,
    fx: np.ndarray,
    seeds: tuple[int, int],
    fit: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One row's values, stderr and variances with the coalitions of KernelSHAP's shared
    scheme. ``fit`` False: one regression on all the pairs (``KernelShap``'s estimate).
    ``fit`` True: the sampled pairs are split into two folds; fold A's estimate is
    ``phi(g_B)`` plus the regression of ``v - g_B`` on fold A's pairs and the enumerated
    coalitions, with ``g_B`` fitted on fold B's pairs and the enumerated coalitions (fixed, not
    drawn), so independent of fold A's draws; the folds are averaged."""
    if not fit:
        phi, se = _kernel_fit(plan, vE, Z, vZ, v0, fx, None)
        return phi, se, se**2
    half = 2 * (Z.shape[0] // 4)  # coalitions of the first fold's pairs
    folds = (np.arange(half), np.arange(half, Z.shape[0]))
    phi, var = np.zeros((Z.shape[1], vZ.shape[1])), 0.0
    for a, (own, other) in enumerate((folds, folds[::-1])):
        masks = np.concatenate([plan.enum_masks, Z[other]])
        proxy, phi_g = _proxy_game(masks, np.concatenate([vE, vZ[other]]), v0, fx, seeds[a])
        est, se = _kernel_fit(plan, vE, Z[own], vZ[own], v0, fx, proxy)
        share = len(own) / Z.shape[0]  # folds weighted by their pairs (unequal when odd)
        phi = phi + share * (phi_g + est)
        var = var + share**2 * se**2
    return phi, np.sqrt(var), var


def _kernel_adjusted_batch(
    shared: tuple[Game, Any, np.ndarray, int, str], batch: tuple[np.ndarray, np.ndarray]
) -> dict:
    """Explain one batch of rows with ``sampler="kernel"`` (runs on a worker): the plan's
    enumerated coalitions and every row's sampled pairs (drawn as ``KernelShap`` draws them)
    are evaluated in one go, then each row's proxies are fitted and its folds combined."""
    game, plan, v0, entropy, proxy = shared
    idx, X = batch
    r, d = X.shape
    fx = game.predict(X)
    k = fx.shape[1]
    used = np.zeros(r, dtype=np.int64)
    if d == 1:
        phi = (fx - v0)[:, None, :]
        return {"phi": phi, "se": np.zeros_like(phi), "proxy": used, "model_rows": used.copy()}
    E = plan.n_enum
    model_rows = np.full(r, E * game.n_background, dtype=np.int64)
    if E:
        rows = np.repeat(np.arange(r), E)
        vE = coalition_values(game, X, np.tile(plan.enum_masks, (r, 1)), rows).reshape(r, E, k)
    else:
        vE = np.zeros((r, 0, k))
    step = min(plan.pairs_per_round, plan.max_pairs)
    rngs = [row_rng(entropy, int(i)) for i in idx]
    Z = np.zeros((r, 0, d), dtype=bool)  # every coalition enumerated: none drawn
    if step:
        Z = np.stack([_draw_pairs(rngs[t], plan, step) for t in range(r)])  # (r, 2 step, d)
        flat, row_of = Z.reshape(-1, d), np.repeat(np.arange(r), 2 * step)
        v, done = evaluate_once(  # a redrawn coalition is evaluated once
            row_of, flat, r, lambda i: coalition_values(game, X, flat[i], row_of[i])
        )
        model_rows += np.bincount(row_of[done], minlength=r) * game.n_background
        v = v.reshape(r, 2 * step, k)
    else:
        v = np.zeros((r, 0, k))
    phi, se = np.zeros((r, d, k)), np.zeros((r, d, k))
    for t in range(r):
        # the proxies' seeds come from the row's generator after its draws: same per seed
        seeds = tuple(int(s) for s in rngs[t].integers(0, 2**31 - 1, size=2))
        args = (plan, vE[t], Z[t], v[t], v0, fx[t], seeds)
        scale = max(np.abs(v[t]).max(initial=0.0), np.abs(vE[t]).max(initial=0.0))
        scale = max(scale, np.abs(fx[t]).max(), np.abs(v0).max())
        phi[t], se[t], used[t] = _choose(
            lambda fit, a=args: _kernel_row_estimate(*a, fit=fit),
            proxy if step else "none",  # every coalition enumerated: exact, nothing to correct
            scale,
        )
    return {"phi": phi, "se": se, "proxy": used, "model_rows": model_rows}


class RegressionAdjustedShap(SamplingExplainer):
    """Shapley values by regression-adjusted antithetic permutation sampling, with standard
    errors (Witter et al. 2025, "Regression-adjusted Monte Carlo estimators for Shapley
    values").

    The walks are those of ``PermutationShap(coalitions="shared")``. A proxy game ``g`` (an
    additive fit plus a 30-tree random forest on the coalition indicators) is fitted to the
    evaluated coalitions' values; its Shapley values are exact, and only the residual
    ``v - g`` is sampled. Two folds of pairs, each corrected with the proxy fitted on the
    other (cross-fitting), keep the estimate unbiased. It costs no extra model evaluations,
    only the proxies' fitting: two small forests per row, about 50-70 ms at d = 10 and 32
    permutations, growing with d (a review measured 145 ms at d = 10, 510 ms at d = 40 and
    1.8 s at d = 100 on a loaded machine), so it pays only where model evaluations are
    expensive.

    Measured at the same draws (``benchmarks/bench_regression_adjusted.py``): on games with
    strong interactions of order 3 or more, which a forest captures and antithetic pairs do
    not, RMSE 0.43-0.75x that of no proxy from 16 permutations (the test's order-3 game with
    few background rows: MSE about 7x lower at 32); on the diabetes HGB and MLP 0.62-0.92x,
    improving with the budget. At 8 permutations it
    barely helps (0.9-0.98x). ``PermutationShap(coalitions="per_background")`` (independent
    walks per background row) had a lower error than either at the same model evaluations on
    the diabetes models (0.3-0.4x no proxy), and cost far less time.

    The standard error treats the two folds' estimates as independent; they are slightly
    positively correlated (0.1-0.2 measured: each fold's draws also shape the other fold's
    proxy), so 95% intervals covered 0.89-0.92 at 32 permutations and 0.91-0.93 at 64
    (plain sampling: 0.92-0.96).

    ``sampler="kernel"`` uses KernelSHAP's coalitions and regression instead (module
    docstring). Measured at the same coalition budget ((d - 1) x 8-64 permutations, d = 10;
    benchmark, 10 rows x 3 seeds): from 144 coalitions on, RMSE 0.32-0.85x that of
    ``KernelShap(coalitions="shared")`` on the same draws (lower with the budget: 0.32-0.54x at
    576); at 72 coalitions 1.15-1.21x, where ``auto`` kept the plain regression for 90-100% of
    the rows (1.00-1.06x). 95% intervals covered 0.94-0.97 (0.99 at 72 on the HGB), and
    0.92 on the order-3 test game at 48-56 of its 62 coalitions (0.87 at 32, with 5 pairs per
    fold: explain warns below 8). ``KernelShap(coalitions="per_background")`` was lower still
    on the diabetes models at every budget (0.29-0.42x), in less time; only on the order-3/4
    game at 576 coalitions was the kernel proxy lower (0.32x against 0.41x).

    Parameters
    ----------
    model : model or ModelAdapter
        Anything :func:`assay.model.wrap` accepts.
    background : array-like (n_background, n_features) or BackgroundSummary, optional
        Reference rows. When None, up to 100 rows of ``X`` are sampled (seeded).
    background_weights : array-like (n_background,), optional
        Weights of the background rows; normalized to sum to 1.
    n_permutations : int, default 32
        Permutations per row, counting each forward and reverse walk (even, at least 8 so
        that each fold has 2 pairs). They cost at most ``(d - 1) n_permutations`` coalitions
        per row, each on every background row. The standard errors have
        ``n_permutations / 2 - 2`` degrees of freedom (``- 1`` with ``proxy="none"``;
        ``params["stderr_dof"]``); below 14 (fewer than 32 permutations) explain warns.
    proxy : {"auto", "trees", "none"}, default "auto"
        ``"trees"``: the proxy is an additive fit plus a random forest (30 trees) on the
        coalition indicators.
        ``"none"``: ``g = 0``, plain antithetic sampling on the same draws (a baseline).
        ``"auto"``: per row, both are computed from the same draws and the one with the
        smaller estimated variance (the sum of its squared standard errors) is reported;
        ``params["proxy_used"]`` says which. Choosing on estimated variances favours the
        estimate whose variance was underestimated by chance, a small selection effect on
        the standard errors (on the games measured, ``auto`` used the proxy for 44-100% of
        the rows at 8 permutations and 96-100% from 32 on, and its coverage matched
        ``"trees"``).
    sampler : {"permutation", "kernel"}, default "permutation"
        ``"permutation"``: antithetic permutation walks and their pair estimates.
        ``"kernel"``: KernelSHAP's paired coalitions (shared by the background rows, leverage
        sampling, shap's enumerated sizes) and its constrained regression on the residual
        game; ``params["enumerated_sizes"]`` lists the enumerated sizes.
    budget : int, optional
        ``sampler="kernel"`` only: coalitions per row besides the empty and the full one
        (each on every background row). Default ``(d - 1) n_permutations``, the permutation
        walks' count; at ``2^d - 2`` every coalition is enumerated and the values are exact.
        At least 16 below that; each fold gets half of the sampled pairs.
    n_jobs : int, optional
        Local worker processes (``-1``: all cores).
    client : dask.distributed.Client, optional
        Spread the rows over a Dask cluster; the values are identical to a local run.
    output_space : str, optional
        ``"probability"``, ``"log_odds"`` or ``"raw"``.
    max_memory : int, default 256 MiB
        Largest model input, in bytes, built for one model call.
    fast_trees : bool, default True
        Evaluate supported tree ensembles with assay's compiled copy of the trees (same
        values; see :class:`PermutationShap`).
    progress : bool, default False
        Progress bar over batches of rows (local serial runs).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 4))
    >>> model = LinearRegression().fit(X, X @ [1.0, -2.0, 0.5, 0.0])
    >>> exp = RegressionAdjustedShap(model, background=X).explain(X[:3], seed=0)
    >>> np.allclose(exp.values[..., 0], (X[:3] - X.mean(0)) * model.coef_)  # additive model
    True
    >>> exp.params["proxy_used"]
    ['none', 'none', 'none']
    """

    method = "regression_adjusted"

    def __init__(
        self,
        model: Any,
        *,
        background: Any = None,
        background_weights: Any = None,
        n_permutations: int = 32,
        proxy: str = "auto",
        sampler: str = "permutation",
        budget: int | None = None,
        n_jobs: int | None = None,
        client: Any = None,
        output_space: str | None = None,
        max_memory: int = DEFAULT_MAX_MEMORY,
        fast_trees: bool = True,
        progress: bool = False,
    ) -> None:
        super().__init__(
            model,
            background=background,
            background_weights=background_weights,
            output_space=output_space,
            n_jobs=n_jobs,
            client=client,
            max_memory=max_memory,
            fast_trees=fast_trees,
            progress=progress,
        )
        self.n_permutations = check_n_permutations(n_permutations, minimum=MIN_PERMUTATIONS)
        if not isinstance(proxy, str) or proxy not in PROXIES:
            msg = (
                f"proxy must be one of {PROXIES} (a tree-ensemble proxy game, none, or per "
                f"row whichever has the smaller estimated error); got {proxy!r}."
            )
            raise InvalidInputError(msg)
        self.proxy = proxy
        if not isinstance(sampler, str) or sampler not in SAMPLERS:
            msg = (
                f"sampler must be one of {SAMPLERS} (antithetic permutation walks, or "
                f"KernelSHAP's paired coalitions and constrained regression); got {sampler!r}."
            )
            raise InvalidInputError(msg)
        self.sampler = sampler
        if budget is not None:
            if sampler != "kernel":
                msg = (
                    f"budget (coalitions per row) applies to sampler='kernel' only; got "
                    f"budget={budget!r} with sampler={sampler!r}. Use n_permutations for the "
                    f"permutation walks, or sampler='kernel'."
                )
                raise InvalidInputError(msg)
            budget = check_int(budget, name="budget", minimum=2, maximum=10**9)
        self.budget = budget

    def explain(self, X: Any, *, seed: int | None = None) -> Explanation:
        """Regression-adjusted Shapley values and standard errors for every row of ``X``.

        Parameters
        ----------
        X : array-like (n_samples, n_features)
        seed : int, optional
            Seed of the permutations (or coalitions) and proxies (and of the background
            drawn from ``X`` when none was given). Each row's draws depend only on the seed
            and the row's position.

        Returns
        -------
        Explanation
            ``values.sum(axis=1) + base_values`` equals the model output exactly (to
            rounding). ``params["proxy_used"]`` names the estimator used for each row.
        """
        Xv, names, seed = self._prepare(X, seed)
        n, d = Xv.shape
        game, note = self._game(Xv, seed)
        v0 = base_value(game)
        entropy = seed_entropy(seed)
        if self.sampler == "kernel":
            return self._explain_kernel(Xv, names, seed, game, note, v0, entropy)
        n_pairs = self.n_permutations // 2
        per_row = n_pairs * 2 * max(1, d - 1)
        chunk = rows_per_chunk(n, per_row, game.n_background, d, self.max_memory)
        # two folds' variances, or every pair pooled without a proxy
        dof = max(0, n_pairs - (1 if self.proxy == "none" else 2))
        if d > 1 and dof < MIN_STDERR_DOF:
            folds = "" if self.proxy == "none" else " in 2 folds"
            warnings.warn(
                f"RegressionAdjustedShap: the standard errors rest on {dof} degrees of freedom "
                f"({n_pairs} forward/reverse pairs{folds}), so +-1.96 stderr covers less "
                f"than 95% (0.67-0.88 measured at 8-16 permutations). Use n_permutations >= "
                f"{2 * (MIN_STDERR_DOF + 2)} for {MIN_STDERR_DOF} or more.",
                AssayWarning,
                stacklevel=2,
            )
        run = (_regression_adjusted_batch, chunk, (game, v0, n_pairs, entropy, self.proxy))
        params = {
            "n_permutations": self.n_permutations,
            "sampler": "permutation",
            "n_coalitions": n_pairs * 2 * max(0, d - 1),
            "stderr_dof": dof,
        }
        return self._finish(Xv, names, seed, entropy, game, note, v0, run, params)

    def _finish(
        self,
        Xv: np.ndarray,
        names: Any,
        seed: int,
        entropy: int,
        game: Game,
        note: Any,
        v0: np.ndarray,
        run: tuple,
        params: dict,
    ) -> Explanation:
        """Run ``run`` = (batch function, rows per batch, shared arguments) over the rows and
        wrap the values with both samplers' common ``params`` and the sampler's own."""
        batch_fn, chunk, shared = run
        keys = ("phi", "se", "proxy", "model_rows")
        res = self._map_rows(batch_fn, Xv, chunk, shared, "regression-adjusted SHAP", keys)
        n = Xv.shape[0]
        params = {
            **self._background_params(game, note),
            "seed": seed,
            "seed_entropy": entropy,
            "coalitions": "shared",
            "proxy": self.proxy,
            "proxy_used": ["trees" if u else "none" for u in res["proxy"]],
            **params,
            "model_rows_evaluated": int(res["model_rows"].sum() + n + game.n_background),
        }
        base = np.broadcast_to(v0, (n, res["phi"].shape[2])).copy()
        return self._result(Xv, names, res["phi"], base, stderr=res["se"], params=params)

    def _explain_kernel(
        self,
        Xv: np.ndarray,
        names: Any,
        seed: int,
        game: Game,
        note: Any,
        v0: np.ndarray,
        entropy: int,
    ) -> Explanation:
        """``explain`` with ``sampler="kernel"``."""
        n, d = Xv.shape
        budget = (d - 1) * self.n_permutations if self.budget is None else int(self.budget)
        exact = d < 62 and budget >= 2**d - 2
        budget = min(budget, 2**d - 2) if d < 62 else budget
        if d > 1 and not exact and budget < 2 * MIN_PAIRS:
            msg = (
                f"budget={budget} coalitions is too small to estimate values and standard "
                f"errors for d={d} features; use at least {2 * MIN_PAIRS}."
            )
            raise InvalidInputError(msg)
        plan = make_plan(max(d, 1), budget=max(budget, 1), sampling="leverage", tol=None, v0=v0)
        pairs = plan.pairs_per_round if d > 1 else 0
        if 0 < pairs // 2 < MIN_PAIRS and self.proxy != "none":
            warnings.warn(
                f"RegressionAdjustedShap: the standard errors of each fold's regression rest on "
                f"{pairs // 2} sampled pairs ({budget} coalitions, {plan.n_enum} of them "
                f"enumerated), so +-1.96 stderr covers less than 95% (0.87 measured at 5 pairs "
                f"per fold, 0.92 at 9-11). Use budget >= "
                f"{plan.n_enum + 4 * MIN_PAIRS} for {MIN_PAIRS} or more.",
                AssayWarning,
                stacklevel=3,
            )
        chunk = rows_per_chunk(n, plan.n_enum + 2 * pairs, game.n_background, d, self.max_memory)
        run = (_kernel_adjusted_batch, chunk, (game, plan, v0, entropy, self.proxy))
        params = {
            "sampler": "kernel",
            "budget": budget,
            "sampling": "leverage",
            "enumerated_sizes": sorted({int(s) for s in plan.enum_masks.sum(axis=1)}),
            "n_coalitions": plan.n_enum + 2 * pairs if d > 1 else 0,
        }
        return self._finish(Xv, names, seed, entropy, game, note, v0, run, params)
