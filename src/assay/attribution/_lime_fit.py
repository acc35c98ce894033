"""Compiled K-lasso selection and ridge fit for LIME's surrogates, many problems per call.

:func:`klasso_ridge` takes the centred, kernel-weighted sufficient statistics of a block of
rows (Gram matrices, feature-output cross products, output sums of squares) and, for every
(row, output), runs the lasso path of :func:`sklearn.linear_model.lars_path_gram`
(``method="lasso"``) until more than ``k`` coefficients are nonzero, keeps the nonzero set of
the path point just before, and fits a ridge on it. The path follows scikit-learn's steps
(same step lengths, same rounding of the equiangular correlations, same drop rule), so the
selected sets are scikit-learn's except at exact ties; a problem that meets one of
scikit-learn's special cases (a degenerate Cholesky pivot, a rising alpha, a non-finite
step, a very long path) is flagged and the caller reruns it with scikit-learn.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["klasso_path_select", "klasso_ridge"]

_TINY32 = float(np.finfo(np.float32).tiny)
_EPS32 = float(np.finfo(np.float32).eps)
_EPS64 = float(np.finfo(np.float64).eps)
_MAX_ITER = 500  # as the pure-Python selection's longest rerun


@numba.njit(cache=True, nogil=True)
def _chol_solve(L, n, b, out):
    """Solve (L L^T) out = b with L lower triangular (n x n leading block)."""
    for i in range(n):
        s = b[i]
        for j in range(i):
            s -= L[i, j] * out[j]
        out[i] = s / L[i, i]
    for i in range(n - 1, -1, -1):
        s = out[i]
        for j in range(i + 1, n):
            s -= L[j, i] * out[j]
        out[i] = s / L[i, i]


@numba.njit(cache=True, nogil=True)
def _chol_append(L, n, gram, active, c):
    """Add variable ``c`` as row ``n`` of the Cholesky factor; returns the pivot."""
    for i in range(n):
        s = gram[active[i], c]
        for j in range(i):
            s -= L[i, j] * L[n, j]
        L[n, i] = s / L[i, i]
    v = 0.0
    for j in range(n):
        v += L[n, j] * L[n, j]
    diag = max(np.sqrt(np.abs(gram[c, c] - v)), _EPS64)
    L[n, n] = diag
    return diag


@numba.njit(cache=True, nogil=True)
def klasso_path_select(xy, gram, n_samples, k, out):
    """Nonzero set (bool ``out``) of the last lasso-path point with at most ``k`` nonzeros.

    Returns 0 on success, 1 when scikit-learn's special-case handling would be needed.
    """
    d = xy.shape[0]
    out[:] = False
    coef = np.zeros(d)
    cov = xy.copy()
    is_active = np.zeros(d, dtype=np.bool_)
    active = np.empty(d, dtype=np.int64)
    sign = np.empty(d)
    L = np.zeros((d, d))
    ls = np.empty(d)
    ced = np.zeros(d)
    zs = np.empty(d)
    n_active = 0
    n_iter = 0
    drop = False
    prev_alpha = np.inf
    while True:
        c_idx = -1
        C = 0.0
        for j in range(d):
            if not is_active[j] and (c_idx < 0 or np.abs(cov[j]) > C):
                c_idx = j
                C = np.abs(cov[j])
        alpha = C / n_samples if c_idx >= 0 else 0.0
        if alpha <= _EPS32:  # path end: the current point's set stands
            return 0
        if n_iter >= _MAX_ITER:
            return 1
        if n_active >= d:
            return 0
        if not drop:
            if _chol_append(L, n_active, gram, active, c_idx) < 1e-7:
                return 1  # degenerate regressor: scikit-learn skips it with a warning
            sign[n_active] = 1.0 if cov[c_idx] > 0 else (-1.0 if cov[c_idx] < 0 else 0.0)
            active[n_active] = c_idx
            is_active[c_idx] = True
            n_active += 1
        if n_iter > 0 and prev_alpha < alpha:
            return 1  # scikit-learn stops early here with a warning
        _chol_solve(L, n_active, sign, ls)
        s = 0.0
        for a in range(n_active):
            s += ls[a] * sign[a]
        if n_active == 1 and ls[0] == 0.0:
            ls[0] = 1.0
            AA = 1.0
        else:
            AA = 1.0 / np.sqrt(s)
            if not np.isfinite(AA):
                return 1
            for a in range(n_active):
                ls[a] *= AA
        gamma = C / AA
        for j in range(d):
            if is_active[j]:
                continue
            t = 0.0
            for a in range(n_active):
                t += gram[active[a], j] * ls[a]
            t = np.round(t, 15)
            ced[j] = t
            g1 = (C - cov[j]) / (AA - t + _TINY32)
            if g1 > 0.0 and g1 < gamma:
                gamma = g1
            g2 = (C + cov[j]) / (AA + t + _TINY32)
            if g2 > 0.0 and g2 < gamma:
                gamma = g2
        drop = False
        z_pos = np.inf
        for a in range(n_active):
            zs[a] = -coef[active[a]] / (ls[a] + _TINY32)
            if zs[a] > 0.0 and zs[a] < z_pos:
                z_pos = zs[a]
        if z_pos < gamma:
            gamma = z_pos
            drop = True
        n_iter += 1
        prev_alpha = alpha
        for a in range(n_active):
            coef[active[a]] += gamma * ls[a]
        for j in range(d):
            if not is_active[j]:
                cov[j] -= gamma * ced[j]
        if drop:  # remove the variable(s) whose coefficient reached zero (exactly zero here)
            kept = 0
            for a in range(n_active):
                j = active[a]
                if zs[a] == z_pos:
                    is_active[j] = False
                    coef[j] = 0.0
                    ced[j] = np.nan  # marks a dropped variable
                else:
                    active[kept] = j
                    sign[kept] = sign[a]
                    kept += 1
            for j in range(d):
                if np.isnan(ced[j]):
                    t = xy[j]
                    for q in range(d):
                        t -= gram[j, q] * coef[q]
                    cov[j] = t
                    ced[j] = 0.0
        count = 0
        for j in range(d):
            if coef[j] != 0.0:
                count += 1
        if count > k:
            return 0  # ``out`` holds the previous point's set
        for j in range(d):
            out[j] = coef[j] != 0.0
        if drop:
            n_active = kept
            for a in range(n_active):  # refactor the reduced active set
                _chol_append(L, a, gram, active, active[a])
    return 0


@numba.njit(cache=True, nogil=True)
def klasso_ridge(gram, xy, yy, flat, n_samples, k, alpha, t_first, coef, r2, selected, status):
    """K-lasso + ridge for every (row, output) with output index >= ``t_first``.

    ``gram`` (r, d, d), ``xy`` (r, d, K), ``yy`` and ``flat`` (r, K); fills ``coef`` (r, d, K),
    ``r2`` (r, K), ``selected`` (r, d, K) and ``status`` (r, K): 1 where the selection must be
    redone with scikit-learn (then coef, r2 and selected of that entry are left untouched).
    """
    r, d, n_out = xy.shape
    sel = np.empty(d, dtype=np.bool_)
    for i in range(r):
        for t in range(t_first, n_out):
            if flat[i, t]:
                sel[:] = False
            elif k >= d:
                sel[:] = True
            else:
                any_nonzero = False
                for j in range(d):
                    if xy[i, j, t] != 0.0:
                        any_nonzero = True
                if not any_nonzero:
                    sel[:] = False
                elif klasso_path_select(xy[i, :, t], gram[i], n_samples, k, sel) != 0:
                    status[i, t] = 1
                    continue
            idx = np.flatnonzero(sel)
            s = idx.shape[0]
            beta = np.zeros(s)
            if s > 0:
                g = np.empty((s, s))
                b = np.empty(s)
                for a in range(s):
                    b[a] = xy[i, idx[a], t]
                    for c in range(s):
                        g[a, c] = gram[i, idx[a], idx[c]]
                    g[a, a] += alpha
                try:
                    beta = np.linalg.solve(g, b)
                except Exception:  # singular without a ridge penalty
                    beta = np.linalg.lstsq(g, b)[0]
            ss_res = yy[i, t]
            for a in range(s):
                coef[i, idx[a], t] = beta[a]
                selected[i, idx[a], t] = True
                ss_res -= 2.0 * beta[a] * xy[i, idx[a], t]
                for c in range(s):
                    ss_res += beta[a] * gram[i, idx[a], idx[c]] * beta[c]
            if flat[i, t]:
                r2[i, t] = 1.0
            else:
                r2[i, t] = 1.0 - max(ss_res, 0.0) / yy[i, t]


@numba.njit(cache=True, nogil=True)
def weighted_features(Z, x, centre, std, scale, cat, width, finalize, a, w, s_phi):
    """Interpretable features, kernel weights and weighted sums in one pass over the samples.

    With ``finalize``, first turns the standard normal draws of continuous columns of samples
    ``1:`` into ``Z = draw * std + centre`` in place (as ``Z *= std; Z += centre``). Then, for
    samples ``Z`` (r, m, d) around rows ``x`` (r, d): ``phi_j = (z_j - x_j) / scale_j``
    (continuous) or ``1[z_j == x_j]`` (``cat[j]``), ``D^2 = sum_cont phi^2 + sum_cat
    (1 - phi)``, ``w = exp(-D^2 / (2 width^2))``. Fills ``a = phi * sqrt(w)`` (r, m, d),
    ``w`` (r, m) and ``s_phi = sum_m w phi`` (r, d).
    """
    r, m, d = Z.shape
    denom = 2.0 * width * width
    for i in range(r):
        for j in range(d):
            s_phi[i, j] = 0.0
        for s in range(m):
            dist2 = 0.0
            for j in range(d):
                if cat[j]:
                    p = 1.0 if Z[i, s, j] == x[i, j] else 0.0
                    dist2 += 1.0 - p
                else:
                    if finalize and s > 0:
                        z = Z[i, s, j] * std[j]
                        z = z + centre[i, j]
                        Z[i, s, j] = z
                    p = (Z[i, s, j] - x[i, j]) / scale[j]
                    dist2 += p * p
                a[i, s, j] = p
            ws = np.exp(-dist2 / denom)
            w[i, s] = ws
            sq = np.sqrt(ws)
            for j in range(d):
                s_phi[i, j] += ws * a[i, s, j]
                a[i, s, j] *= sq
