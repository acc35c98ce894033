"""KernelSHAP: Shapley values as a constrained weighted least-squares fit, with standard errors.

For a row ``x`` with game ``v`` (see :mod:`._sampling`), the Shapley values solve

    minimize   sum_S k(S) (v(S) - v(∅) - sum_{i in S} phi_i)^2
    subject to sum_i phi_i = v(N) - v(∅)                                  (efficiency)

over the coalitions ``0 < |S| < d``, with the Shapley kernel ``k(S) = m_s / C(d, s)``,
``m_s ∝ (d - 1) / (s (d - s))`` (Charnes et al. 1988; Lundberg & Lee 2017). The constraint is
imposed exactly by writing ``phi = c/d 1 + N beta`` with ``N`` an orthonormal basis of the
vectors summing to zero, so ``sum(phi) = v(N) - v(∅)`` for every budget (to rounding).

Which coalitions enter the sum:

- **Enumerated sizes.** Like shap, sizes are paired ``(s, d - s)`` and visited from the
  outside in; a pair is enumerated completely when the budget share the sampling distribution
  would give it covers all its coalitions. These terms are exact.
- **Sampled sizes.** The rest of the sum is estimated by importance sampling: a size ``s``
  is drawn from ``q`` (``sampling="kernel"``: ``q_s ∝ m_s``, the Shapley kernel;
  ``sampling="leverage"``: ``q_s`` uniform over sizes, the leverage scores of Musco & Witter
  2024), then a uniform subset of that size, and always its complement too (paired, antithetic
  sampling). Each sample carries weight ``m_s / q_s``.

With a budget of ``2^d - 2`` coalitions every size is enumerated and the result is the exact
Shapley value (``stderr`` is 0).

Standard errors (the sandwich / delta-method variance of the regression estimator; Covert &
Lee 2021 use the same CLT argument): the estimate solves ``A phi + lambda 1 = b`` with
``A = A_enum + mean_p a_p`` and ``b = b_enum + mean_p b_p`` over independent coalition pairs
``p``. Linearizing, ``phi_hat - phi ≈ P mean_p (b_p - a_p phi)`` with ``P = N G^+ N^T``,
``G = N^T A N``, so ``Cov(phi_hat) ≈ P Cov(psi) P^T / n_pairs`` with the residual terms
``psi_p = b_p - a_p phi_hat``. Only the sampled pairs contribute. With few pairs (up to
``JACKKNIFE_MAX_PAIRS``) this linearization is optimistic (95% intervals covered 82-89% at 16-24
pairs on the benchmark's models), so the delete-one-pair jackknife variance is computed too and
the larger of the two reported (coverage 0.93-0.95 at every budget measured). The benchmark and
tests check that 95% intervals ``phi ± 1.96 stderr`` cover the exact values at the nominal rate.

Coalitions per background row (``coalitions="per_background"``, the default where it applies):
the game is the weighted mean of one game per background row, and each of those gets its own
sampled coalitions and its own fit of the form above (:mod:`._kernel_stratified`); same model
evaluations, independent errors across background rows, HC2 standard errors.

Convergence modes: with ``tolerance`` (a target standard error, in the units of the output),
sample in rounds until, for every row, the largest standard error is at most ``tolerance``, or
until ``budget`` coalitions (the cap). After a pilot round each round doubles the pairs
drawn so far, so a row overshoots its need by at most 2x in pairs (1.41x in standard error);
the schedule depends only on the row's own standard errors, so batching, ``n_jobs`` and
``client`` do not change where a row stops. ``tol`` is the relative variant: the largest
standard error at most ``tol`` times the spread of that row's values
(``max_j phi_j - min_j phi_j``, the largest over outputs). ``params["converged"]`` says which
rows made it, ``params["n_coalitions"]`` how many coalitions each row used and
``params["model_rows_evaluated"]`` the model evaluations in all.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb
from typing import Any

import numpy as np
import scipy.linalg

from assay._validation import check_int
from assay.attribution._base import DEFAULT_MAX_MEMORY
from assay.attribution._explanation import Explanation
from assay.attribution.shapley._kernel_stratified import kernel_batch_per_background
from assay.attribution.shapley._sampling import (
    CoalitionStore,
    Game,
    SamplingExplainer,
    coalition_values,
    evaluate_once,
    random_subsets,
    rows_per_chunk,
    weighted_background_mean,
)
from assay.errors import InvalidInputError
from assay.parallel import row_rng, seed_entropy

__all__ = ["KernelShap", "default_budget"]

SAMPLINGS = ("leverage", "kernel")
COALITIONS = ("auto", "shared", "per_background")
MIN_PAIRS = 8  # fewest sampled pairs when sampling at all (the variance needs several)
# up to this many sampled pairs the standard error is also computed by the delete-one-pair
# jackknife and the larger of the two is reported (the sandwich is optimistic with few pairs)
JACKKNIFE_MAX_PAIRS = 128
JACKKNIFE_ELEMENTS = 2**22  # largest (rows x pairs x d x d) array the jackknife builds at once


def default_budget(d: int) -> int:
    """``budget="auto"``: ``2d + 2048`` coalitions (shap's default), at most all ``2^d - 2``."""
    return int(min(2**d - 2, 2 * d + 2048)) if d < 62 else 2 * d + 2048


# budget="auto" when coalitions are drawn per background row (and not all fit the default):
# 2d + 512 coalitions per row had 1.9-3.4x lower variance than the shared scheme's 2d + 2048 at
# d = 30, in less time (benchmarks/RESULTS.md, "Independent coalitions per background row")
PER_BACKGROUND_AUTO = 512


def _size_masses(d: int) -> np.ndarray:
    """Shapley-kernel mass of each size 1..d-1 (index s), normalized; index 0 and d unused."""
    m = np.zeros(d + 1)
    s = np.arange(1, d)
    m[1:d] = (d - 1) / (s * (d - s))
    return m / m.sum()


@dataclass(frozen=True)
class _Plan:
    d: int
    enum_masks: np.ndarray  # (E, d) bool
    enum_weights: np.ndarray  # (E,)
    sample_sizes: np.ndarray  # sizes to sample from (each s with its partner d - s)
    sample_probs: np.ndarray  # q over sample_sizes
    size_weight: np.ndarray  # (d + 1,) m_s / q_s, weight of a sampled coalition of size s
    pairs_per_round: int
    max_pairs: int
    tol: float | None
    tolerance: float | None
    basis: np.ndarray  # (d, d - 1) orthonormal basis of {sum = 0}
    v0: np.ndarray  # (k,) value of the empty coalition

    @property
    def n_enum(self) -> int:
        return int(self.enum_masks.shape[0])


def _enumerate_sizes(d: int, q: np.ndarray, budget: int) -> tuple[list[int], int]:
    """Sizes to enumerate (shap's rule) and the budget left for sampling."""
    if budget >= 2**d - 2:
        return list(range(1, d)), budget - (2**d - 2)
    enum: list[int] = []
    left = budget
    mass_left = 1.0
    for s in range(1, (d - 1) // 2 + 2):
        partner = d - s
        if partner < s:
            break
        n_sub = comb(d, s) * (1 if partner == s else 2)
        mass = q[s] + (q[partner] if partner != s else 0.0)
        rest_after = left - n_sub
        others_left = partner - s > 1  # sizes strictly between s and d - s remain
        if left * mass / mass_left < n_sub - 1e-8:
            break
        if others_left and rest_after < 2 * MIN_PAIRS:
            break
        enum.extend([s] if partner == s else [s, partner])
        left = rest_after
        mass_left -= mass
        if mass_left <= 1e-12:
            break
    return sorted(enum), left


def _masks_of_size(d: int, s: int) -> np.ndarray:
    from itertools import combinations

    out = np.zeros((comb(d, s), d), dtype=bool)
    for row, idx in enumerate(combinations(range(d), s)):
        out[row, list(idx)] = True
    return out


def make_plan(
    d: int,
    *,
    budget: int,
    sampling: str,
    tol: float | None,
    v0: np.ndarray,
    tolerance: float | None = None,
) -> _Plan:
    """Decide enumerated sizes, the sampling distribution and the rounds for ``d`` features."""
    m = _size_masses(d)
    leverage = np.r_[0.0, np.full(d - 1, 1.0 / max(1, d - 1)), 0.0]
    q_all = m.copy() if sampling == "kernel" else leverage[: d + 1]
    if tolerance is not None:  # a pilot round; later rounds are sized from its standard errors
        first = min(budget, 8 * d + 16)
    elif tol is not None:
        first = min(budget, max(16 * d, 256))
    else:
        first = budget
    enum_sizes, left = _enumerate_sizes(d, q_all, first)
    if enum_sizes:
        enum_masks = np.concatenate([_masks_of_size(d, s) for s in enum_sizes])
        enum_weights = np.concatenate([np.full(comb(d, s), m[s] / comb(d, s)) for s in enum_sizes])
    else:
        enum_masks, enum_weights = np.zeros((0, d), dtype=bool), np.zeros(0)
    rest = np.array([s for s in range(1, d) if s not in enum_sizes], dtype=np.int64)
    if rest.size:
        q = q_all[rest] / q_all[rest].sum()
        size_weight = np.zeros(d + 1)
        size_weight[rest] = m[rest] / q
        pairs = max(MIN_PAIRS, left // 2)
        max_pairs = max(pairs, (budget - enum_masks.shape[0]) // 2)
    else:
        q, size_weight, pairs, max_pairs = np.zeros(0), np.zeros(d + 1), 0, 0
    basis = scipy.linalg.null_space(np.ones((1, d))) if d > 1 else np.zeros((1, 0))
    return _Plan(
        d=d,
        enum_masks=enum_masks,
        enum_weights=enum_weights,
        sample_sizes=rest,
        sample_probs=q,
        size_weight=size_weight,
        pairs_per_round=int(pairs),
        max_pairs=int(max_pairs),
        tol=tol,
        tolerance=tolerance,
        basis=np.ascontiguousarray(basis),
        v0=v0,
    )


def _draw_pairs(rng: np.random.Generator, plan: _Plan, n_pairs: int) -> np.ndarray:
    """``2 n_pairs`` coalitions: each sampled subset followed by its complement."""
    sizes = rng.choice(plan.sample_sizes, size=n_pairs, p=plan.sample_probs)
    z = random_subsets(rng, sizes, plan.d)
    out = np.empty((2 * n_pairs, plan.d), dtype=bool)
    out[0::2] = z
    out[1::2] = ~z
    return out


def _solve(
    plan: _Plan, bE: np.ndarray, Z: np.ndarray, y: np.ndarray, c: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Constrained WLS for ``r`` rows sharing the enumerated part.

    ``bE`` (r, d, k) enumerated ``Z^T W y``; ``Z`` (r, S, d) sampled coalitions in pairs;
    ``y`` (r, S, k) their centred values; ``c`` (r, k) = f(x) - v(∅).
    Returns values and standard errors, both (r, d, k).
    """
    r, S, d = Z.shape
    k = c.shape[1]
    if d == 1:
        return c[:, None, :].copy(), np.zeros((r, 1, k))
    n_pairs = S // 2
    ZE = plan.enum_masks.astype(np.float64)
    A = np.broadcast_to((ZE.T * plan.enum_weights) @ ZE, (r, d, d)).copy()
    b = bE.copy()
    Zf = Z.astype(np.float64)
    if n_pairs:
        ws = plan.size_weight[Z.sum(axis=2)] / S  # (r, S)
        Zw = Zf * ws[:, :, None]
        A += np.matmul(Zw.transpose(0, 2, 1), Zf)
        b += np.matmul(Zw.transpose(0, 2, 1), y)
    N = plan.basis
    c0 = c / d  # (r, k)
    t = b - A.sum(axis=2)[:, :, None] * c0[:, None, :]
    G = np.matmul(np.matmul(N.T, A), N)
    Ginv = np.linalg.pinv(G, hermitian=True)
    beta = np.matmul(Ginv, np.matmul(N.T, t))
    phi = c0[:, None, :] + np.matmul(N, beta)
    if n_pairs < 2:
        return phi, np.zeros_like(phi) if n_pairs == 0 else np.full_like(phi, np.nan)
    res = y - np.matmul(Zf, phi)  # (r, S, k)
    # psi_p = n_pairs * sum over the pair of w z res; u_p = P psi_p with P = N G^+ N^T
    g = (Zw * n_pairs)[:, :, :, None] * res[:, :, None, :]  # (r, S, d, k)
    psi = g[:, 0::2] + g[:, 1::2]  # (r, P, d, k)
    Pm = np.matmul(np.matmul(N, Ginv), N.T)  # (r, d, d)
    u = np.matmul(Pm[:, None], psi)  # (r, P, d, k); matmul is several times faster than einsum
    # HC1 small-sample factor: d - 1 free coefficients are fitted to the pairs
    dof = max(1, n_pairs - (d - 1))
    var = u.var(axis=1) / dof
    if n_pairs <= JACKKNIFE_MAX_PAIRS:
        step = max(1, JACKKNIFE_ELEMENTS // (n_pairs * d * d))  # rows per chunk: bounded memory
        for lo in range(0, r, step):
            sl = slice(lo, lo + step)
            jk = _jackknife_var(plan, A[sl], b[sl], Zw[sl], Zf[sl], y[sl], c0[sl], n_pairs)
            var[sl] = np.maximum(var[sl], jk)
    return phi, np.sqrt(var)


def _jackknife_var(
    plan: _Plan,
    A: np.ndarray,
    b: np.ndarray,
    Zw: np.ndarray,
    Zf: np.ndarray,
    y: np.ndarray,
    c0: np.ndarray,
    n: int,
) -> np.ndarray:
    """Delete-one-pair jackknife variance of the values, (r, d, k).

    Each pair is dropped in turn and the constrained fit redone with the remaining ``n - 1``
    pairs (their mean rescaled by ``n / (n - 1)``); the variance is
    ``(n - 1) / n sum_p (phi_(-p) - mean)^2``.
    """
    N = plan.basis
    # per-pair parts of the sampled sums: zz^T and z y, summed over the two coalitions of a pair
    outer = Zw[:, :, :, None] * Zf[:, :, None, :]  # (r, S, d, d)
    a_pair = outer[:, 0::2] + outer[:, 1::2]  # (r, P, d, d)
    zy = Zw[:, :, :, None] * y[:, :, None, :]  # (r, S, d, k)
    b_pair = zy[:, 0::2] + zy[:, 1::2]  # (r, P, d, k)
    A_s = a_pair.sum(axis=1)
    b_s = b_pair.sum(axis=1)
    scale = n / (n - 1)
    A_del = (A - A_s)[:, None] + scale * (A_s[:, None] - a_pair)  # (r, P, d, d)
    b_del = (b - b_s)[:, None] + scale * (b_s[:, None] - b_pair)  # (r, P, d, k)
    t = b_del - A_del.sum(axis=3)[..., None] * c0[:, None, None, :]
    G = np.matmul(np.matmul(N.T, A_del), N)
    # pinv as in the fit itself: a pair whose removal leaves G (nearly) singular stays finite
    beta = np.matmul(np.linalg.pinv(G, hermitian=True), np.matmul(N.T, t))
    phis = np.matmul(N, beta)  # (r, P, d, k), without the constant c0 (cancels)
    return (n - 1) / n * ((phis - phis.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)


def _pairs_to_add(have: int, plan: _Plan) -> int:
    """Pairs for the next round: with ``tolerance`` as many as drawn so far (the pairs double
    each round, a schedule that depends only on the row, so batching cannot change where a row
    stops); with ``tol`` the fixed round size."""
    if plan.tolerance is None:
        return plan.pairs_per_round
    return int(max(MIN_PAIRS, have))


def after_round(
    plan: _Plan, phi: np.ndarray, se: np.ndarray, pairs_done: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """Stopping by accuracy after a round: which rows met the target, which keep sampling
    (below the cap) and how many pairs the next round draws (0 when none keep sampling)."""
    worst = se.max(axis=(1, 2))
    if plan.tolerance is not None:
        target = np.full(worst.size, plan.tolerance)
    else:
        target = plan.tol * (phi.max(axis=1) - phi.min(axis=1)).max(axis=1)
    done = worst <= target
    keep = ~done & (pairs_done < plan.max_pairs)
    if not keep.any():
        return done, keep, 0
    have = int(pairs_done[keep][0])  # rows still sampling have all drawn the same pairs
    step = min(plan.max_pairs - have, _pairs_to_add(have, plan))
    return done, keep, step


def _kernel_batch(shared: tuple[Game, _Plan, int], batch: tuple[np.ndarray, np.ndarray]) -> dict:
    """Explain one batch of rows (runs on a worker)."""
    game, plan, entropy = shared
    idx, X = batch
    r, d = X.shape
    fx = game.predict(X)
    k = fx.shape[1]
    c = fx - plan.v0[None, :]
    E = plan.n_enum
    if E:
        vE = coalition_values(
            game, X, np.tile(plan.enum_masks, (r, 1)), np.repeat(np.arange(r), E)
        ).reshape(r, E, k)
        ZE = plan.enum_masks.astype(np.float64)
        bE = np.matmul((ZE.T * plan.enum_weights)[None], vE - plan.v0)
    else:
        bE = np.zeros((r, d, k))
    phi = np.zeros((r, d, k))
    se = np.zeros((r, d, k))
    n_pairs = np.zeros(r, dtype=np.int64)
    converged = np.ones(r, dtype=bool)
    model_rows = np.full(r, E * game.n_background, dtype=np.int64)
    out = {"idx": idx, "n_pairs": n_pairs, "converged": converged, "model_rows": model_rows}
    if plan.pairs_per_round == 0:
        phi, se = _solve(plan, bE, np.zeros((r, 0, d), dtype=bool), np.zeros((r, 0, k)), c)
        return {"phi": phi, "se": se, **out}
    rngs = [row_rng(entropy, int(i)) for i in idx]
    # from the second round, a coalition drawn again is looked up (where the table is small:
    # the batch was sized for the first round's coalitions), the first round's included
    first_round = (plan.n_enum + 2 * plan.pairs_per_round) * game.n_background  # model rows
    store_fits = CoalitionStore.fits(d, first_round)
    store = None
    active = np.arange(r)
    Z = np.zeros((r, 0, d), dtype=bool)
    Y = np.zeros((r, 0, k))
    step = min(plan.pairs_per_round, plan.max_pairs)
    while active.size:
        if Z.shape[1] and store is None and store_fits:
            store = CoalitionStore(r, d)
            store.insert(
                np.repeat(active, Z.shape[1]), Z.reshape(-1, d), (Y + plan.v0).reshape(-1, k)
            )
        new = np.stack([_draw_pairs(rngs[i], plan, step) for i in active])  # (a, 2 step, d)
        flat, row_of = new.reshape(-1, d), np.repeat(active, 2 * step)
        v, done = evaluate_once(  # a redrawn coalition is evaluated once
            row_of,
            flat,
            r,
            lambda i, z=flat, at=row_of: coalition_values(game, X, z[i], at[i]),
            store,
        )
        v = v.reshape(active.size, 2 * step, k)
        model_rows += np.bincount(row_of[done], minlength=r) * game.n_background
        Z = np.concatenate([Z, new], axis=1)
        Y = np.concatenate([Y, v - plan.v0], axis=1)
        n_pairs[active] += step
        p, s = _solve(plan, bE[active], Z, Y, c[active])
        phi[active], se[active] = p, s
        if plan.tol is None and plan.tolerance is None:
            break
        converged[active], keep, step = after_round(plan, p, s, n_pairs[active])
        active, Z, Y = active[keep], Z[keep], Y[keep]
    return {"phi": phi, "se": se, **out}


class KernelShap(SamplingExplainer):
    """Interventional KernelSHAP with exact efficiency, paired sampling and standard errors.

    Parameters
    ----------
    model : model or ModelAdapter
        Anything :func:`assay.model.wrap` accepts.
    background : array-like (n_background, n_features) or BackgroundSummary, optional
        Reference rows. When None, up to 100 rows of ``X`` are sampled (seeded).
    background_weights : array-like (n_background,), optional
        Weights of the background rows; normalized to sum to 1.
    budget : int or "auto", default "auto"
        Coalitions evaluated per row (each costs ``n_background`` model rows), besides the
        empty and the full one. ``"auto"`` is ``2d + 2048`` (shap's default) capped at
        ``2^d - 2``; at ``2^d - 2`` the values are exact. Where that does not enumerate every
        coalition and they are drawn per background row (``coalitions``), ``"auto"`` is
        ``2d + 512``: still 1.9-3.4x lower variance than the shared draws at ``2d + 2048``
        (measured at d = 30), in less time. With ``tolerance`` or ``tol`` it is the cap
        (``2d + 2048``).
    sampling : {"leverage", "kernel"}, default "leverage"
        Distribution of the sampled coalition sizes: uniform over sizes (leverage scores,
        Musco & Witter 2024) or proportional to the Shapley kernel. The benchmark measures
        both (benchmarks/RESULTS.md).
    tolerance : float, optional
        Target standard error, in the units of the explained output: sample in rounds until
        every row's largest standard error is at most ``tolerance`` (or ``budget`` coalitions
        are spent; ``params["converged"]`` says which rows made it and
        ``params["n_coalitions"]`` how many coalitions each used).
    tol : float, optional
        Relative convergence mode: sample in rounds until every row's largest standard error
        is at most ``tol`` times the spread of its values (``max phi - min phi``), or the
        budget is spent.
    coalitions : {"auto", "shared", "per_background"}, default "auto"
        ``"shared"`` (shap's scheme): one set of coalitions per row, each evaluated on every
        background row. ``"per_background"``: every background row gets its own independent
        coalitions (``budget`` of them, so the same model evaluations) and its own fit; the
        values are the weighted mean over background rows (:mod:`._kernel_stratified`).
        Standard errors use each fit's leverage-corrected (HC2) sandwich; it needs
        ``budget >= 2 d + 16`` below the exact budget. ``"auto"``: ``"per_background"``
        whenever it applies (more than one background row, sampling with
        ``sampling="leverage"``, budget at least ``2 d + 16``), else ``"shared"``. At equal
        model evaluations the per-background variance is ``sum_b w_b^2 Var(e_b)`` against
        ``Var(sum_b w_b e_b)`` for the shared draws, whose errors ``e_b`` repeat across
        background rows; it was 1.5-11x lower on every real model measured and 9-34x at
        d = 30 (``benchmarks/RESULTS.md``). It is not lower when the background rows' errors
        cancel (e.g. a background of rows ``b`` and ``-b`` under a symmetric interaction).
        With ``sampling="kernel"`` each background row's fit keeps a small bias that
        averaging does not shrink, so its intervals under-cover with many background rows;
        ``"auto"`` then stays ``"shared"``. The fits cost more arithmetic per model row: at
        equal budgets 1-3x the wall time for a tree ensemble or MLP and up to ~10x for a model
        as cheap as a logistic regression, hence the smaller ``budget="auto"``.
        ``params["coalitions"]`` records the scheme used.
    n_jobs : int, optional
        Local worker processes (``-1``: all cores).
    client : dask.distributed.Client, optional
        Spread the rows over a Dask cluster; the values are identical to a local run.
    output_space : str, optional
        ``"probability"``, ``"log_odds"`` or ``"raw"``; see :func:`assay.model.wrap`.
    max_memory : int, default 256 MiB
        Largest model input, in bytes, built for one model call.
    fast_trees : bool, default True
        For tree ensembles with numerical splits and at most 64 leaves per tree
        (HistGradientBoosting with default settings, forests on small data), evaluate the
        masked rows with assay's compiled copy of the trees instead of the library (several
        times faster; the values are the same: it is used only after matching the model to
        1e-9 on probe rows, one model call). ``params["model_evaluation"]`` says which was
        used. False always calls the model.
    progress : bool, default False
        Progress bar over batches of rows (local serial runs).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 4))
    >>> model = LinearRegression().fit(X, X @ [1.0, -2.0, 0.5, 0.0])
    >>> exp = KernelShap(model, background=X, budget=14).explain(X[:3], seed=0)
    >>> np.allclose(exp.values[..., 0], (X[:3] - X.mean(0)) * model.coef_)
    True
    >>> float(exp.stderr.max())  # all 2^4 - 2 coalitions: exact
    0.0
    """

    method = "kernel"

    def __init__(
        self,
        model: Any,
        *,
        background: Any = None,
        background_weights: Any = None,
        budget: int | str = "auto",
        sampling: str = "leverage",
        tolerance: float | None = None,
        tol: float | None = None,
        coalitions: str = "auto",
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
        if budget != "auto":
            budget = check_int(budget, name="budget", minimum=2)
        self.budget = budget
        if sampling not in SAMPLINGS:
            msg = f"sampling must be one of {SAMPLINGS}; got {sampling!r}."
            raise InvalidInputError(msg)
        self.sampling = sampling
        if coalitions not in COALITIONS:
            msg = (
                f"coalitions must be one of {COALITIONS} (one set of coalitions per row shared "
                f"by all background rows, or independent coalitions per background row); "
                f"got {coalitions!r}."
            )
            raise InvalidInputError(msg)
        self.coalitions = coalitions
        if tol is not None:
            if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 < tol < 1:
                msg = f"tol must be a number in (0, 1) (e.g. 0.01) or None; got {tol!r}."
                raise InvalidInputError(msg)
            tol = float(tol)
        self.tol = tol
        if tolerance is not None:
            number = isinstance(tolerance, (int, float, np.floating))
            if isinstance(tolerance, bool) or not number or not 0 < float(tolerance) < np.inf:
                msg = (
                    f"tolerance must be a positive number (a target standard error in the "
                    f"output's units, e.g. 0.01) or None; got {tolerance!r}."
                )
                raise InvalidInputError(msg)
            if tol is not None:
                msg = (
                    f"Give either tolerance (absolute target standard error) or tol (relative "
                    f"to each row's spread), not both; got tolerance={tolerance!r}, tol={tol!r}."
                )
                raise InvalidInputError(msg)
            tolerance = float(tolerance)
        self.tolerance = tolerance

    def explain(self, X: Any, *, seed: int | None = None) -> Explanation:
        """KernelSHAP values and standard errors for every row of ``X``.

        Parameters
        ----------
        X : array-like (n_samples, n_features)
        seed : int, optional
            Seed of the coalition sampling (and of the background drawn from ``X`` when none
            was given). Each row's draws depend only on the seed and the row's position, so
            batching, ``n_jobs`` and ``client`` do not change the result.

        Returns
        -------
        Explanation
            ``stderr`` holds the standard errors (0 where every coalition was enumerated).
            ``params`` records the seed, budget, enumerated sizes, pairs sampled per row,
            ``model_evaluation`` (``"compiled trees"`` or ``"model"``, see ``fast_trees``) and,
            with ``tolerance`` or ``tol``, which rows converged.
        """
        Xv, names, seed = self._prepare(X, seed)
        n, d = Xv.shape
        game, note = self._game(Xv, seed)
        budget = default_budget(d) if self.budget == "auto" else int(self.budget)
        budget = min(budget, 2**d - 2) if d < 62 else budget
        if budget < 2 * MIN_PAIRS and (d >= 62 or budget < 2**d - 2):
            msg = (
                f"budget={budget} coalitions is too small to estimate values and standard "
                f"errors for d={d} features; use at least {2 * MIN_PAIRS} (or 'auto')."
            )
            raise InvalidInputError(msg)
        exact = d < 62 and budget >= 2**d - 2
        smallest = 2 * d + 2 * MIN_PAIRS  # the fewest coalitions its intervals were checked at
        coalitions = self.coalitions
        if coalitions == "auto":  # lower variance at equal evaluations where it is calibrated
            many = game.n_background > 1 and not exact and self.sampling == "leverage"
            coalitions = "per_background" if many and budget >= smallest else "shared"
        per_background = coalitions == "per_background" and game.n_background > 1
        fixed_auto = self.budget == "auto" and self.tol is None and self.tolerance is None
        if per_background and fixed_auto and not exact:
            budget = min(budget, 2 * d + PER_BACKGROUND_AUTO)
        if per_background and budget < smallest and not exact:
            msg = (
                f"budget={budget} coalitions per background row is too small for "
                f"coalitions='per_background' with d={d} features: its standard errors hold "
                f"from 2d+16 = {smallest} (below, each background row's fit has too few pairs); "
                f"use budget >= {smallest} or coalitions='shared'."
            )
            raise InvalidInputError(msg)
        fb = game.predict(game.background)
        v0 = weighted_background_mean(np.ascontiguousarray(fb), game.weights, game.n_background)[0]
        plan = make_plan(
            d,
            budget=budget,
            sampling=self.sampling,
            tol=self.tol,
            v0=v0,
            tolerance=self.tolerance,
        )
        entropy = seed_entropy(seed)
        per_row = plan.n_enum + 2 * plan.pairs_per_round
        chunk = rows_per_chunk(n, per_row, game.n_background, d, self.max_memory)
        keys = ("phi", "se", "n_pairs", "converged", "model_rows")
        if per_background:
            batch_fn, shared = kernel_batch_per_background, (game, plan, entropy, fb)
        else:
            batch_fn, shared = _kernel_batch, (game, plan, entropy)
        res = self._map_rows(batch_fn, Xv, chunk, shared, "KernelSHAP", keys)
        phi, se, n_pairs, converged, model_rows = (res[key] for key in keys)
        n_coal = plan.n_enum + 2 * n_pairs
        k = phi.shape[2]
        params = {
            **self._background_params(game, note),
            "seed": seed,
            "seed_entropy": entropy,
            "budget": budget,
            "sampling": self.sampling,
            "coalitions": coalitions,
            "tol": self.tol,
            "tolerance": self.tolerance,
            "exact": plan.pairs_per_round == 0,
            "enumerated_sizes": sorted({int(s) for s in plan.enum_masks.sum(axis=1)}),
            "n_coalitions": n_coal.tolist(),
            "converged": (
                converged.tolist() if self.tol is not None or self.tolerance is not None else None
            ),
            "model_rows_evaluated": int(model_rows.sum() + n + game.n_background),
        }
        base = np.broadcast_to(v0, (n, k)).copy()
        return self._result(Xv, names, phi, base, stderr=se, params=params)
