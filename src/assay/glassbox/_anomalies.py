"""Automatic detection of suspicious shapes in a fitted GAM.

Three kinds of anomaly are looked for in the main effects of ordered (non-categorical)
features, each confirmed by a likelihood-ratio test on the data with the rest of the model
held fixed (its other terms enter as an offset):

``discontinuity``
    A step at a threshold ``t`` that the data support better than a smooth curve. Around each
    candidate threshold (distinct observed values, at most ``max_candidates`` per feature on a
    rank grid) a local model ``offset + a + b u + c u^2`` on the ``window`` share of rows on
    each side is compared with the same model plus a step ``d [x >= t]``; the likelihood gain
    is tested against chi-square(1). The strongest significant candidate per neighbourhood is
    reported, its location refined over all distinct values between its grid neighbours.
``non_monotone`` / ``counter_causal``
    A segment where the shape moves against its direction by more than ``min_effect``: the
    user's expected direction (``expected_directions``, kind ``counter_causal``) or, if none
    was given, the shape's dominant direction (kind ``non_monotone``). The rows just before
    the segment's peak and just after its trough (each side at least ``min_support`` rows and
    2.5% of the rows) are compared with a two-level offset model; the test is one-sided.

All p-values (every candidate of every kind) are adjusted together with Benjamini-Hochberg
(:func:`scipy.stats.false_discovery_control`); anomalies with adjusted p-value at most
``alpha`` are reported. The data tests reuse the model's offset, so pass held-out rows when
you have them.

**Round numbers.** With ``s = 10 ** floor(log10(q90 - q10))`` the scale of the feature, a
threshold is *round* when a multiple of ``s / 2`` lies between the last value below the
step and the first value at or above it, within ``round_tolerance * s`` of the latter
(age with spread ~45 years: multiples of 5; creatinine with spread ~2 mg/dL: multiples of
0.5).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np
from numba import njit
from scipy import stats

from assay._results import FromDict, ResultDisplay
from assay.errors import InvalidInputError

__all__ = ["ShapeAnomalies", "ShapeAnomaly", "find_shape_anomalies"]

KINDS = ("discontinuity", "non_monotone", "counter_causal")


@dataclass(frozen=True)
class ShapeAnomaly(FromDict):
    """One suspicious shape.

    Attributes
    ----------
    feature : str
    kind : {"discontinuity", "non_monotone", "counter_causal"}
    location : float
        Discontinuity: the threshold, as the first observed value of the upper side
        (the step applies to ``x >= location``). Segments: the x value of the peak (or trough)
        where the wrong-way movement starts.
    end : float
        End of a segment (equal to ``location`` for a discontinuity).
    effect : float
        Size estimated from the data (the step, or the level change across the segment), in
        the model's raw units (log-odds for classifiers).
    model_effect : float
        The same change read off the fitted shape.
    support_left, support_right : int
        Rows used on each side.
    round_number : bool
        Whether the threshold is a round number (see the module docstring).
    round_value : float or None
        The round number it matches.
    likelihood_gain : float
        Log-likelihood gain of the anomalous model over the smooth/monotone one.
    p_value, p_adjusted : float
        Test p-value and its Benjamini-Hochberg adjustment over all candidates.
    direction : {"up", "down"}
        Sign of the change.
    expected_direction : str or None
    counter_causal : bool
        True when the change goes against ``expected_direction``.
    """

    feature: str
    kind: str
    location: float
    end: float
    effect: float
    model_effect: float
    support_left: int
    support_right: int
    round_number: bool
    round_value: float | None
    likelihood_gain: float
    p_value: float
    p_adjusted: float
    direction: str
    expected_direction: str | None
    counter_causal: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable dict."""
        return asdict(self)


@dataclass(frozen=True)
class ShapeAnomalies(ResultDisplay, FromDict):
    """Result of :func:`find_shape_anomalies`: the anomalies, strongest first, and the options.

    Examples
    --------
    >>> ShapeAnomalies(anomalies=(), params={}).to_dict()["anomalies"]
    []
    """

    anomalies: tuple[ShapeAnomaly, ...]
    params: dict[str, Any]
    n_tests: int = 0
    SCHEMA_VERSION: ClassVar[int] = 1  # this kind's one schema version
    schema_version: int = SCHEMA_VERSION

    def by_kind(self, kind: str) -> list[ShapeAnomaly]:
        """The anomalies of one kind."""
        return [a for a in self.anomalies if a.kind == kind]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable dict."""
        return {
            "schema_version": self.schema_version,
            "kind": "ShapeAnomalies",
            "n_tests": self.n_tests,
            "params": dict(self.params),
            "anomalies": [a.to_dict() for a in self.anomalies],
        }


@njit(cache=True, nogil=True)
def _fit_ll(Z, off, y, loss):
    """Max log-likelihood of ``y ~ off + Z beta`` (logistic, or Gaussian profile)."""
    m, p = Z.shape
    beta = np.zeros(p)
    if loss == 0:
        A = Z.T @ Z + 1e-9 * np.eye(p)
        beta = np.linalg.solve(A, Z.T @ (y - off))
        r = y - off - Z @ beta
        rss = max((r * r).sum(), 1e-300)
        return -0.5 * m * np.log(rss / m), beta
    for _ in range(30):
        eta = off + Z @ beta
        mu = 1.0 / (1.0 + np.exp(-eta))
        w = mu * (1.0 - mu) + 1e-12
        grad = Z.T @ (y - mu)
        H = (Z * w.reshape(-1, 1)).T @ Z + 1e-8 * np.eye(p)
        delta = np.linalg.solve(H, grad)
        beta += delta
        if np.abs(delta).max() < 1e-9:
            break
    eta = off + Z @ beta
    ll = 0.0
    for i in range(m):
        e = eta[i]
        ll += y[i] * e - (e + np.log1p(np.exp(-e)) if e > 0 else np.log1p(np.exp(e)))
    return ll, beta


@njit(cache=True, nogil=True)
def _window_ll(x, off, y, lo, hi, c, t, scale, p, loss, beta):
    """Fit ``off + b0 + b1 u + b2 u^2 [+ b3 [row >= c]]`` on rows [lo, hi) in place of ``beta``.

    Newton's method with the features computed on the fly (no design matrix); returns the
    maximised log-likelihood (Gaussian: profile log-likelihood).
    """
    z = np.empty(4)
    for _ in range(30 if loss == 1 else 1):
        grad = np.zeros(p)
        H = 1e-9 * np.eye(p)
        for i in range(lo, hi):
            u = (x[i] - t) / scale
            z[0] = 1.0
            z[1] = u
            z[2] = u * u
            z[3] = 1.0 if i >= c else 0.0
            eta = off[i]
            for a in range(p):
                eta += beta[a] * z[a]
            if loss == 1:
                mu = 1.0 / (1.0 + np.exp(-eta))
                w = mu * (1.0 - mu) + 1e-12
                r = y[i] - mu
            else:
                w = 1.0
                r = y[i] - eta
            for a in range(p):
                grad[a] += z[a] * r
                for b in range(a + 1):
                    H[a, b] += w * z[a] * z[b]
        for a in range(p):
            for b in range(a):
                H[b, a] = H[a, b]
        delta = np.linalg.solve(H, grad)
        for a in range(p):
            beta[a] += delta[a]
        if np.abs(delta).max() < 1e-8:
            break
    ll = 0.0
    rss = 0.0
    for i in range(lo, hi):
        u = (x[i] - t) / scale
        eta = off[i] + beta[0] + beta[1] * u + beta[2] * u * u
        if p == 4 and i >= c:
            eta += beta[3]
        if loss == 1:
            ll += y[i] * eta - (eta + np.log1p(np.exp(-eta)) if eta > 0 else np.log1p(np.exp(eta)))
        else:
            rss += (y[i] - eta) ** 2
    if loss == 0:
        ll = -0.5 * (hi - lo) * np.log(max(rss, 1e-300) / (hi - lo))
    return ll


@njit(cache=True, nogil=True)
def _step_scan(x, off, y, cands, half, loss):
    """LR statistic, step size and supports for each candidate split position."""
    n = x.shape[0]
    k = cands.shape[0]
    out = np.zeros((k, 4))
    for q in range(k):
        c = cands[q]
        lo = max(0, c - half)
        hi = min(n, c + half)
        t = x[c]
        scale = max(x[hi - 1] - x[lo], 1e-12) / 2.0
        beta = np.zeros(4)
        ll0 = _window_ll(x, off, y, lo, hi, c, t, scale, 3, loss, beta)
        ll1 = _window_ll(x, off, y, lo, hi, c, t, scale, 4, loss, beta)
        out[q, 0] = max(2.0 * (ll1 - ll0), 0.0)
        out[q, 1] = beta[3]
        out[q, 2] = c - lo
        out[q, 3] = hi - c
    return out


def _round_value(left: float, right: float, scale: float, tol: float) -> float | None:
    unit = scale / 2.0
    r = math.floor(right / unit + 1e-9) * unit
    if left < r <= right + 1e-12 and right - r <= tol * scale:
        return float(round(r, 10))
    return None


def _direction_word(value: Any, feature: str) -> str:
    words = {"increasing": 1, "decreasing": -1, "+": 1, "-": -1, 1: 1, -1: -1}
    if value not in words:
        msg = (
            f"expected_directions[{feature!r}] must be 'increasing' or 'decreasing'; got {value!r}."
        )
        raise InvalidInputError(msg)
    return "increasing" if words[value] > 0 else "decreasing"


def find_shape_anomalies(
    gam: Any,
    X: Any,
    y: Any,
    *,
    expected_directions: dict[str, Any] | None = None,
    alpha: float = 0.05,
    window: float = 0.2,
    min_support: int = 50,
    min_effect: float = 0.1,
    max_candidates: int = 256,
    round_tolerance: float = 0.02,
    features: list[str] | None = None,
) -> ShapeAnomalies:
    """Find discontinuities, non-monotone and counter-causal segments in a GAM's shapes.

    Parameters
    ----------
    gam : GAMClassifier (binary) or GAMRegressor, fitted
    X, y : the data that back the tests (held-out rows when available).
    expected_directions : dict, optional
        ``{feature: "increasing" | "decreasing"}`` from domain knowledge; segments against it
        are reported as ``counter_causal`` and steps against it get ``counter_causal=True``.
    alpha : float, default=0.05
        False discovery rate (Benjamini-Hochberg over all candidates).
    window : float, default=0.2
        Share of the non-missing rows used on each side of a candidate threshold.
    min_support : int, default=50
        Minimum rows on each side of any test.
    min_effect : float, default=0.1
        Smallest wrong-way movement of the shape (raw units) that makes a segment candidate.
    max_candidates : int, default=256
        Candidate thresholds per feature (a rank grid over distinct values).
    round_tolerance : float, default=0.02
        Tolerance of the round-number flag, as a share of the feature's scale.
    features : list of str, optional
        Restrict the search to these features.

    Returns
    -------
    ShapeAnomalies

    Examples
    --------
    >>> import numpy as np
    >>> from assay.glassbox import GAMClassifier, find_shape_anomalies
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(0, 100, size=(4000, 2)).round()
    >>> logit = 0.02 * (X[:, 0] - 50) + 1.5 * (X[:, 0] >= 60)
    >>> y = (rng.random(4000) < 1 / (1 + np.exp(-logit))).astype(int)
    >>> gam = GAMClassifier(n_bags=2, interactions=0, random_state=0).fit(X, y)
    >>> res = find_shape_anomalies(gam, X, y)
    >>> [(a.feature, a.location, a.round_number) for a in res.by_kind("discontinuity")]
    [('x0', 60.0, True)]
    """
    from assay.glassbox._gam import GAMClassifier

    gam._check_fitted()
    if not 0 < alpha < 1:
        msg = f"alpha must be in (0, 1); got {alpha!r}."
        raise InvalidInputError(msg)
    if not 0 < window <= 0.5:
        msg = f"window must be in (0, 0.5]; got {window!r}."
        raise InvalidInputError(msg)
    Xv, contrib = gam._contributions(X)
    n = Xv.shape[0]
    yv = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if yv.ndim != 1 or yv.shape[0] != n:
        msg = f"y must be 1-D with one value per row of X ({n}); got shape {yv.shape}."
        raise InvalidInputError(msg)
    if isinstance(gam, GAMClassifier):
        if len(gam.classes_) != 2:
            msg = (
                f"find_shape_anomalies supports binary classifiers and regressors; this model "
                f"has {len(gam.classes_)} classes. Fit one-vs-rest binary models instead."
            )
            raise InvalidInputError(msg)
        unknown = ~np.isin(yv, gam.classes_)
        if unknown.any():
            msg = f"y has labels not seen in training: {np.unique(yv[unknown])[:5].tolist()}."
            raise InvalidInputError(msg)
        yf = (yv == gam.classes_[1]).astype(np.float64)
        loss = 1
    else:
        yf = yv.astype(np.float64)
        loss = 0
    names = gam._feature_names()
    expected = {}
    for key, val in (expected_directions or {}).items():
        if key not in names:
            msg = f"expected_directions names unknown feature {key!r}; known: {names[:20]}."
            raise InvalidInputError(msg)
        expected[key] = _direction_word(val, key)
    todo = names if features is None else list(features)
    total = contrib.sum(axis=1)[:, 0] + gam.intercept_[0]
    tests: list[dict[str, Any]] = []
    for name in todo:
        if name not in names:
            msg = f"features names unknown feature {name!r}; known: {names[:20]}."
            raise InvalidInputError(msg)
        j = names.index(name)
        fb = gam.bins_[j]
        t_main = gam.term_features_.index((j,)) if (j,) in gam.term_features_ else None
        if fb.kind != "continuous" or t_main is None:
            continue
        involved = [t for t, f in enumerate(gam.term_features_) if j in f]
        offset = total - contrib[:, involved, 0].sum(axis=1)
        shape = contrib[:, t_main, 0]
        ok = ~np.isnan(Xv[:, j])
        order = np.argsort(Xv[ok, j], kind="stable")
        xs = Xv[ok, j][order]
        off_s, y_s, shape_s = offset[ok][order], yf[ok][order], shape[ok][order]
        info = {"feature": name, "expected": expected.get(name), "xs": xs}
        tests += _discontinuity_tests(xs, off_s, y_s, shape_s, loss, window, min_support,
                                      max_candidates, info)  # fmt: skip
        tests += _segment_tests(gam, t_main, xs, off_s, y_s, shape_s, loss, min_support,
                                min_effect, info)  # fmt: skip
    anomalies = _select(tests, alpha, round_tolerance, gam, names)
    params = {
        "expected_directions": expected,
        "alpha": alpha,
        "window": window,
        "min_support": min_support,
        "min_effect": min_effect,
        "max_candidates": max_candidates,
        "round_tolerance": round_tolerance,
        "features": todo,
        "n_rows": n,
    }
    return ShapeAnomalies(anomalies=tuple(anomalies), params=params, n_tests=len(tests))


def _discontinuity_tests(xs, off, y, shape, loss, window, min_support, max_candidates, info):
    n = xs.shape[0]
    half = max(int(window * n), min_support)
    starts = np.flatnonzero(np.r_[False, xs[1:] != xs[:-1]])
    # Each side needs min_support rows and three distinct values (so a step is identifiable).
    uniq_pos = np.r_[0, starts]
    valid = []
    for s in starts:
        lo, hi = max(0, s - half), min(n, s + half)
        if s - lo < min_support or hi - s < min_support:
            continue
        if np.searchsorted(uniq_pos, s) - np.searchsorted(uniq_pos, lo, "right") + 1 < 3:
            continue
        if np.searchsorted(uniq_pos, hi, "left") - np.searchsorted(uniq_pos, s) < 3:
            continue
        valid.append(s)
    if not valid:
        return []
    valid = np.asarray(valid, dtype=np.int64)
    grid = valid
    if valid.size > max_candidates:
        grid = valid[np.unique(np.linspace(0, valid.size - 1, max_candidates).round().astype(int))]
    res = _step_scan(xs, off, y, grid, half, loss)
    out = []
    for q, c in enumerate(grid):
        out.append({
            **info, "kind": "discontinuity", "pos": int(c), "stat": res[q, 0],
            "effect": res[q, 1], "left": int(res[q, 2]), "right": int(res[q, 3]),
            "half": half, "valid": valid, "grid": grid, "off": off, "y": y, "loss": loss,
            "shape": shape,
        })  # fmt: skip
    return out


def _segment_tests(gam, t, xs, off, y, shape, loss, min_support, min_effect, info):
    fb = gam.bins_[gam.term_features_[t][0]]
    vals = gam.term_values_[t][:, 0]
    inner = np.flatnonzero(fb.counts > 0)
    inner = inner[(inner > 0) & (inner < fb.n_bins - 1)]
    if inner.size < 2:
        return []
    v = vals[inner]
    w = fb.counts[inner]
    if info["expected"] is not None:
        sign = 1.0 if info["expected"] == "increasing" else -1.0
        kind = "counter_causal"
    else:
        cov = np.sum(w * (np.arange(v.size) - np.average(np.arange(v.size), weights=w))
                     * (v - np.average(v, weights=w)))  # fmt: skip
        sign = 1.0 if cov >= 0 else -1.0
        kind = "non_monotone"
    sv = sign * v
    segments = []  # (peak index, trough index) in sv where sv drops by > min_effect
    i_peak = 0
    i = 1
    while i < sv.size:
        if sv[i] > sv[i_peak]:
            i_peak = i
        elif sv[i_peak] - sv[i] > min_effect:
            i_tr = i
            while i + 1 < sv.size and sv[i + 1] - sv[i_tr] <= min_effect:
                i += 1
                if sv[i] < sv[i_tr]:
                    i_tr = i
            segments.append((i_peak, i_tr))
            i_peak = i_tr
        i += 1
    need = max(min_support, int(0.025 * xs.shape[0]))
    out = []
    for a, b in segments:
        x_peak_hi = fb.upper[inner[a]]
        x_tr_lo = fb.lower[inner[b]]
        left_end = np.searchsorted(xs, x_peak_hi, "right")
        right_start = np.searchsorted(xs, x_tr_lo, "left")
        left = np.arange(max(0, left_end - need), left_end)
        right = np.arange(right_start, min(xs.shape[0], right_start + need))
        if left.size < min_support or right.size < min_support:
            continue
        rows = np.r_[left, right]
        Z1 = np.zeros((rows.size, 2))
        Z1[: left.size, 0] = 1.0
        Z1[left.size :, 1] = 1.0
        ll1, beta = _fit_ll(Z1, off[rows], y[rows], loss)
        ll0, _ = _fit_ll(np.ones((rows.size, 1)), off[rows], y[rows], loss)
        diff = beta[1] - beta[0]
        stat = max(2.0 * (ll1 - ll0), 0.0)
        p = 0.5 * stats.chi2.sf(stat, 1) if sign * diff < 0 else 1.0
        out.append({
            **info, "kind": kind, "location": float(xs[left_end - 1]),
            "end": float(xs[right_start]), "stat": stat, "p": p, "effect": float(diff),
            "model_effect": float(v[b] - v[a]), "left": int(left.size),
            "right": int(right.size),
        })  # fmt: skip
    return out


def _select(tests, alpha, round_tolerance, gam, names):
    if not tests:
        return []
    p = np.array([t["p"] if "p" in t else stats.chi2.sf(t["stat"], 1) for t in tests])
    p_adj = stats.false_discovery_control(p, method="bh")
    found = []
    by_feature: dict[str, list[int]] = {}
    for i, t in enumerate(tests):
        if p_adj[i] <= alpha:
            by_feature.setdefault(t["feature"], []).append(i)
    for feat, idx in by_feature.items():
        disc = sorted((i for i in idx if tests[i]["kind"] == "discontinuity"),
                      key=lambda i: -tests[i]["stat"])  # fmt: skip
        taken: list[int] = []
        for i in disc:
            t = tests[i]
            if any(abs(t["pos"] - tests[k]["pos"]) < t["half"] for k in taken):
                continue
            taken.append(i)
            found.append(_disc_anomaly(t, p[i], p_adj[i], round_tolerance))
        for i in idx:
            t = tests[i]
            if t["kind"] == "discontinuity":
                continue
            found.append(ShapeAnomaly(
                feature=feat, kind=t["kind"], location=t["location"], end=t["end"],
                effect=t["effect"], model_effect=t["model_effect"], support_left=t["left"],
                support_right=t["right"], round_number=False, round_value=None,
                likelihood_gain=t["stat"] / 2.0, p_value=float(p[i]),
                p_adjusted=float(p_adj[i]), direction="up" if t["effect"] > 0 else "down",
                expected_direction=t["expected"], counter_causal=t["kind"] == "counter_causal",
            ))  # fmt: skip
    found.sort(key=lambda a: -a.likelihood_gain)
    return found


def _disc_anomaly(t, p, p_adj, round_tolerance):
    """Refine the location between grid neighbours, then describe the step."""
    valid, grid, xs = t["valid"], t["grid"], t["xs"]
    g = int(np.searchsorted(grid, t["pos"]))
    lo_pos = grid[g - 1] if g > 0 else valid[0]
    hi_pos = grid[g + 1] if g + 1 < grid.size else valid[-1]
    cands = valid[(valid >= lo_pos) & (valid <= hi_pos)]
    res = _step_scan(xs, t["off"], t["y"], cands, t["half"], t["loss"])
    best = int(np.argmax(res[:, 0]))
    c = int(cands[best])
    stat, effect = res[best, 0], res[best, 1]
    left_x, right_x = float(xs[c - 1]), float(xs[c])
    q10, q90 = np.quantile(xs, [0.1, 0.9])
    spread = q90 - q10 if q90 > q10 else max(abs(xs[-1] - xs[0]), 1e-12)
    scale = 10.0 ** math.floor(math.log10(spread))
    rv = _round_value(left_x, right_x, scale, round_tolerance)
    k = max(int(res[best, 2]) // 4, 1)
    model_effect = float(t["shape"][c : c + k].mean() - t["shape"][c - k : c].mean())
    exp = t["expected"]
    counter = exp is not None and (effect > 0) != (exp == "increasing")
    return ShapeAnomaly(
        feature=t["feature"], kind="discontinuity", location=right_x, end=right_x,
        effect=float(effect), model_effect=model_effect, support_left=int(res[best, 2]),
        support_right=int(res[best, 3]), round_number=rv is not None, round_value=rv,
        likelihood_gain=float(stat) / 2.0, p_value=float(p), p_adjusted=float(p_adj),
        direction="up" if effect > 0 else "down", expected_direction=exp,
        counter_causal=bool(counter),
    )  # fmt: skip
