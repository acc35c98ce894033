"""KernelSHAP with coalitions drawn per background row (``coalitions="per_background"``).

The interventional value of a row is the weighted mean of one game per background row:
``phi = sum_b w_b phi^b``, where ``phi^b`` are the Shapley values of ``v_b(S) = f(x_S, b_{-S})``.
The shared scheme (shap's, ``coalitions="shared"``) draws one set of coalitions per row and
evaluates each on every background row, so one coalition's sampling error is repeated across
all ``n_background`` games. Here each background row gets its own, independent coalitions (the
same number of model rows: ``budget`` coalitions per background row), each game ``v_b`` is
fitted by the same constrained regression as the shared scheme (exact efficiency
``sum_i phi^b_i = f(x) - f(b)``), and the results are averaged with the background weights.
The background rows become strata of the sample.

Why it helps: the errors of the per-row games are positively correlated in the shared scheme
(the same coalitions miss the same interactions in every game), and independent draws average
them out. On the benchmark's models (diabetes, d = 10, 50 background rows) the variance at
equal model evaluations fell 9-11x (HistGradientBoosting) and 6-10x (MLP); see
``benchmarks/RESULTS.md``. Variance of the average: ``sum_b w_b^2 Var(phi^b)``,
each term from that game's own regression: the sandwich with each pair's term divided by
``1 - h_p`` (HC2, ``h_p`` its leverage in the fit) up to ``HC2_MAX_PAIRS`` pairs, HC1 beyond.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from assay.attribution.shapley._sampling import (
    CoalitionStore,
    Game,
    evaluate_once,
    predict_in_calls,
)
from assay.parallel import row_rng

__all__ = ["kernel_batch_per_background", "single_background_values", "solve_strata"]

# up to this many sampled pairs per stratum each pair's variance term is divided by
# 1 - its leverage (HC2); beyond, leverages are ~(d - 1) / pairs and HC1 is the same to <1%
HC2_MAX_PAIRS = 128
SOLVE_BLOCK_BYTES = 16 * 2**20  # one (strata, coalitions, d) float array of the fit, at most
# background rows drawn, evaluated and (without a tolerance) fitted together: a fixed number,
# so the draws do not depend on memory settings, and memory stays bounded for any background
STRATA_PER_BLOCK = 64


@numba.njit(cache=True, nogil=True)
def _fill_single(
    x: np.ndarray,
    bg: np.ndarray,
    masks: np.ndarray,
    rows: np.ndarray,
    bg_of: np.ndarray,
    out: np.ndarray,
) -> None:
    """``out[t, j] = x[rows[t], j] if masks[t, j] else bg[bg_of[t], j]``."""
    n_items, d = masks.shape
    for t in range(n_items):
        i = rows[t]
        b = bg_of[t]
        for j in range(d):
            out[t, j] = x[i, j] if masks[t, j] else bg[b, j]


def single_background_values(
    game: Game, X: np.ndarray, masks: np.ndarray, row_of: np.ndarray, bg_of: np.ndarray
) -> np.ndarray:
    """``f(x_S, b_{-S})`` for items (row ``row_of``, background row ``bg_of``, coalition
    ``masks``): one model row per item, no averaging. Returns (n_items, n_outputs)."""
    n_items, d = masks.shape
    X = np.ascontiguousarray(X, dtype=np.float64)
    masks = np.ascontiguousarray(masks, dtype=np.bool_)
    row_of = np.ascontiguousarray(row_of, dtype=np.int64)
    bg_of = np.ascontiguousarray(bg_of, dtype=np.int64)

    def fill(start: int, out: np.ndarray) -> None:
        sl = slice(start, start + out.shape[0])
        _fill_single(X, game.background, masks[sl], row_of[sl], bg_of[sl], out)

    return predict_in_calls(game, n_items, d, fill)


def _inverse(G: np.ndarray) -> np.ndarray:
    """Inverses of a stack of symmetric matrices: LU (fast) when every one is well conditioned,
    else the pseudo-inverse (as the shared scheme always uses)."""
    try:
        pivots = np.diagonal(np.linalg.cholesky(G), axis1=1, axis2=2) ** 2  # raises unless PD
        if (pivots.min(axis=1) > 1e-10 * pivots.max(axis=1)).all():
            return np.linalg.inv(G)
    except np.linalg.LinAlgError:
        pass
    return np.linalg.pinv(G, hermitian=True)


def solve_strata(
    plan: Any, bE: np.ndarray, Z: np.ndarray, y: np.ndarray, c: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The constrained fit of :func:`._kernel._solve` for many strata, with HC2 standard errors.

    Same values as ``_solve`` (same normal equations); the variance is computed from the
    covariance of the pairs' influence terms (``P C P^T``) rather than pair by pair, which
    keeps the arrays at (units, pairs, d). Shapes as in ``_solve``: ``bE`` (u, d, k), ``Z``
    (u, S, d) in pairs, ``y`` (u, S, k), ``c`` (u, k); returns values and standard errors
    (u, d, k).
    """
    u_n, S, d = Z.shape
    k = c.shape[1]
    if d == 1:
        return c[:, None, :].copy(), np.zeros((u_n, 1, k))
    n_pairs = S // 2
    ZE = plan.enum_masks.astype(np.float64)
    A = np.broadcast_to((ZE.T * plan.enum_weights) @ ZE, (u_n, d, d)).copy()
    b = bE.copy()
    Zf = Z.astype(np.float64)
    ws = plan.size_weight[Z.sum(axis=2)] / S  # (u, S)
    Zw = Zf * ws[:, :, None]
    ZwT = np.ascontiguousarray(Zw.transpose(0, 2, 1))
    A += np.matmul(ZwT, Zf)
    b += np.matmul(ZwT, y)
    N = plan.basis
    c0 = c / d
    t = b - A.sum(axis=2)[:, :, None] * c0[:, None, :]
    Ginv = _inverse(np.matmul(np.matmul(N.T, A), N))
    phi = c0[:, None, :] + np.matmul(N, np.matmul(Ginv, np.matmul(N.T, t)))
    if n_pairs < 2:
        return phi, np.zeros_like(phi) if n_pairs == 0 else np.full_like(phi, np.nan)
    res = y - np.matmul(Zf, phi)  # (u, S, k)
    Pm = np.matmul(np.matmul(N, Ginv), N.T)  # (u, d, d)
    if n_pairs <= HC2_MAX_PAIRS:
        Zn = np.matmul(Zf, N)
        q = (np.matmul(Zn, Ginv) * Zn).sum(axis=2) * ws
        h = np.clip(q[:, 0::2] + q[:, 1::2], 0.0, 0.99)  # leverage of each pair
        scale = 1.0 / (1.0 - h)  # (u, P)
        denom = float(n_pairs) ** 2
    else:
        scale = np.ones((u_n, n_pairs))
        denom = float(n_pairs) * max(1, n_pairs - (d - 1))  # HC1
    var = np.empty((u_n, d, k))
    for kk in range(k):
        g = Zw * (n_pairs * res[:, :, kk])[:, :, None]  # (u, S, d)
        psi = g[:, 0::2] + g[:, 1::2]  # (u, P, d): each pair's influence before P
        dev = (psi - psi.mean(axis=1, keepdims=True)) * np.sqrt(scale)[:, :, None]
        C = np.matmul(dev.transpose(0, 2, 1), dev)  # (u, d, d)
        var[:, :, kk] = (np.matmul(Pm, C) * Pm).sum(axis=2) / denom
    return phi, np.sqrt(np.maximum(var, 0.0))


def _solve_in_blocks(
    plan: Any, bE: np.ndarray, Z: np.ndarray, y: np.ndarray, c: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`solve_strata` over blocks of strata, so that its (units, coalitions, d) float
    arrays stay near ``SOLVE_BLOCK_BYTES`` whatever the background size."""
    u_n, S, d = Z.shape
    step = max(1, SOLVE_BLOCK_BYTES // max(1, S * d * 8))
    if step >= u_n:
        return solve_strata(plan, bE, Z, y, c)
    parts = [
        solve_strata(
            plan, bE[lo : lo + step], Z[lo : lo + step], y[lo : lo + step], c[lo : lo + step]
        )
        for lo in range(0, u_n, step)
    ]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _combine(
    phi_units: np.ndarray, se_units: np.ndarray, weights: np.ndarray, n_bg: int
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean over the background strata and its standard error, (rows, d, k) each."""
    a = phi_units.shape[0] // n_bg
    p = phi_units.reshape(a, n_bg, *phi_units.shape[1:])
    s = se_units.reshape(a, n_bg, *se_units.shape[1:])
    phi = np.einsum("b,rbdk->rdk", weights, p)
    var = np.einsum("b,rbdk->rdk", weights**2, s**2)
    return phi, np.sqrt(var)


def kernel_batch_per_background(shared: tuple, batch: tuple[np.ndarray, np.ndarray]) -> dict:
    """Explain one batch of rows with independent coalitions per background row (a worker)."""
    from assay.attribution.shapley._kernel import _draw_pairs, after_round

    game, plan, entropy, fb = shared  # fb (B, k): f(b), the empty coalition of each stratum
    idx, X = batch
    r, d = X.shape
    B = game.n_background
    w = game.weights
    fx = game.predict(X)
    k = fx.shape[1]
    c = (fx[:, None, :] - fb[None, :, :]).reshape(r * B, k)  # v_b(N) - v_b(∅) per unit
    unit_bg = np.tile(np.arange(B), r)  # background row of unit u = i * B + b
    E = plan.n_enum
    if E:
        vE = single_background_values(
            game,
            X,
            np.tile(plan.enum_masks, (r * B, 1)),
            np.repeat(np.arange(r), B * E),
            np.repeat(unit_bg, E),
        ).reshape(r * B, E, k)
        ZE = plan.enum_masks.astype(np.float64)
        bE = np.matmul((ZE.T * plan.enum_weights)[None], vE - fb[unit_bg][:, None, :])
    else:
        bE = np.zeros((r * B, d, k))
    phi = np.zeros((r, d, k))
    se = np.zeros((r, d, k))
    n_pairs = np.zeros(r, dtype=np.int64)
    converged = np.ones(r, dtype=bool)
    model_rows = np.full(r, E * B, dtype=np.int64)
    out = {"idx": idx, "n_pairs": n_pairs, "converged": converged, "model_rows": model_rows}
    if plan.pairs_per_round == 0:
        pu, su = _solve_in_blocks(
            plan, bE, np.zeros((r * B, 0, d), dtype=bool), np.zeros((r * B, 0, k)), c
        )
        phi, se = _combine(pu, su, w, B)
        return {"phi": phi, "se": se, **out}
    rngs = [row_rng(entropy, int(i)) for i in idx]
    # a feature equal in the row and the background row (x_j == b_j) leaves the model input
    # unchanged: coalitions that differ only by such null players are one model row
    differ = X[:, None, :] != game.background[None, :, :]
    blocks = [np.arange(lo, min(B, lo + STRATA_PER_BLOCK)) for lo in range(0, B, STRATA_PER_BLOCK)]
    one_round = plan.tol is None and plan.tolerance is None
    # from the second round, a coalition drawn again is looked up (where the table is small:
    # the batch was sized for the first round's coalitions), the first round's included
    store_fits = not one_round and CoalitionStore.fits(d, plan.n_enum + 2 * plan.pairs_per_round)
    store = None
    active = np.arange(r)
    Zs: list = [None] * len(blocks)  # per block of strata: (active rows x strata, S, d)
    Ys: list = [None] * len(blocks)
    step = min(plan.pairs_per_round, plan.max_pairs)
    while active.size:
        if store is None and store_fits and Zs[0] is not None:
            store = CoalitionStore(r * B, d)
            for t, strata in enumerate(blocks):
                units = (active[:, None] * B + strata[None, :]).ravel()
                S = Zs[t].shape[1]
                values = Ys[t] + fb[unit_bg[units]][:, None, :]
                live = differ[np.repeat(units // B, S), np.repeat(units % B, S)]
                store.insert(
                    np.repeat(units, S), Zs[t].reshape(-1, d) & live, values.reshape(-1, k)
                )
        n_pairs[active] += step
        p = np.zeros((active.size, d, k))
        var = np.zeros((active.size, d, k))
        for t, strata in enumerate(blocks):
            nb = strata.size
            # each row draws its strata's pairs from its own generator, block after block of a
            # fixed size: the draws depend on neither batching nor memory settings
            new = np.concatenate(
                [_draw_pairs(rngs[i], plan, step * nb).reshape(nb, 2 * step, d) for i in active]
            )  # (a * nb, 2 step, d)
            units = (active[:, None] * B + strata[None, :]).ravel()
            flat = new.reshape(-1, d)
            row_of = np.repeat(active, nb * 2 * step)
            bg_of = np.repeat(unit_bg[units], 2 * step)
            # a coalition redrawn for the same row and background row (up to null players)
            # is evaluated once
            v, done = evaluate_once(
                row_of * B + bg_of,
                flat & differ[row_of, bg_of],
                r * B,
                lambda i, z=flat, at=row_of, on=bg_of: single_background_values(
                    game, X, z[i], at[i], on[i]
                ),
                store,
            )
            v = v.reshape(units.size, 2 * step, k)
            model_rows += np.bincount(row_of[done], minlength=r)
            y_new = v - fb[unit_bg[units]][:, None, :]
            Zs[t] = new if Zs[t] is None else np.concatenate([Zs[t], new], axis=1)
            Ys[t] = y_new if Ys[t] is None else np.concatenate([Ys[t], y_new], axis=1)
            pu, su = _solve_in_blocks(plan, bE[units], Zs[t], Ys[t], c[units])
            wb = w[strata]
            p += np.einsum("b,rbdk->rdk", wb, pu.reshape(active.size, nb, d, k))
            var += np.einsum("b,rbdk->rdk", wb**2, su.reshape(active.size, nb, d, k) ** 2)
            if one_round:  # nothing more to fit: keep memory to one block of strata
                Zs[t] = Ys[t] = None
        s = np.sqrt(var)
        phi[active], se[active] = p, s
        if one_round:
            break
        converged[active], keep, step = after_round(plan, p, s, n_pairs[active])
        for t, strata in enumerate(blocks):
            keep_units = np.repeat(keep, strata.size)
            Zs[t], Ys[t] = Zs[t][keep_units], Ys[t][keep_units]
        active = active[keep]
    return {"phi": phi, "se": se, **out}
