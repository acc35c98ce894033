"""Local refinement of a slice found by the lattice search, on the discovery rows only.

The lattice search sees each continuous feature through ``n_bins`` quantile bins, so a failure
region ``age < 37`` comes out as its nearest grid neighbour (``age < 40``, or ``age < 30``
plus a stray predicate that happens to cut off a lucky corner). Refinement fixes that in two
alternating moves, both scored on the discovery rows, so the confirmation rows stay untouched
and the held-out test stays honest:

1. *Thresholds*: each continuous predicate in turn is moved to the best position on the fine
   grid (``Binned.fine_edges``), the other predicates held fixed, by the search score. A
   one-sided predicate stays one-sided (it may flip its side); a two-sided one may become any
   interval. One histogram of the rows satisfying the other predicates scores every position.
2. *Nested test*: a predicate is dropped when the rows it removes from its parent slice (the
   slice without it) do not do significantly better than the slice itself (one-sided test at
   ``level``) -- the simpler, larger slice explains the failures as well, so prefer it. A
   planted predicate removes many good rows and survives; a stray one removes a few rows that
   fail like the rest and goes. The level is strict (0.01) because the threshold of a stray
   predicate was itself tuned on these rows to cut off a lucky corner.

A slice is a tuple of *terms* ``(feature, lo, hi)``: the rows whose fine code of ``feature``
lies in ``lo..hi``. For categorical features the fine codes are the category codes.
"""

from __future__ import annotations

import math

import numpy as np

from assay.slices import _stats
from assay.slices._binning import Binned, format_value

__all__ = ["describe", "from_items", "refine", "score", "terms_mask"]

Term = tuple[int, int, int]


def from_items(binned: Binned, items: tuple[int, ...]) -> tuple[Term, ...]:
    """Terms of a conjunction of search items (exact: fine edges include the search edges)."""
    out = []
    for i in items:
        f, lo, hi = int(binned.item_feature[i]), int(binned.item_lo[i]), int(binned.item_hi[i])
        fe = binned.fine_edges[f]
        if fe is not None:
            coarse = np.asarray(binned.edges[binned.feature_names[f]], dtype=np.float64)
            k = coarse.size + 1
            if lo == k:  # "is missing"
                lo = hi = fe.size + 1
            else:
                lo = 0 if lo == 0 else int(np.searchsorted(fe, coarse[lo - 1])) + 1
                hi = fe.size if hi == k - 1 else int(np.searchsorted(fe, coarse[hi]))
        out.append((f, lo, hi))
    return tuple(out)


def terms_mask(binned: Binned, terms: tuple[Term, ...], rows: np.ndarray | None = None):
    """Boolean mask of the conjunction (over ``rows`` if given, else over all rows)."""
    codes = binned.fine_codes
    out = np.ones(codes.shape[1] if rows is None else rows.size, dtype=bool)
    for f, lo, hi in terms:  # only the features the conjunction reads are gathered
        c = codes[f] if rows is None else codes[f, rows]
        out &= (c >= lo) & (c <= hi)
    return out


def describe(binned: Binned, terms: tuple[Term, ...]) -> tuple[list, str]:
    """Predicates ``(feature, op, value)`` and readable text of a conjunction."""
    preds, labels = [], []
    for f, lo, hi in sorted(terms):
        name = binned.feature_names[f]
        fe = binned.fine_edges[f]
        if fe is None:  # categorical: the search item with these codes carries the text
            j = np.flatnonzero(
                (binned.item_feature == f) & (binned.item_lo == lo) & (binned.item_hi == hi)
            )[0]
            preds.append(binned.predicates[j])
            labels.append(binned.labels[j])
        elif lo == fe.size + 1:
            preds.append((name, "is missing", None))
            labels.append(f"{name} is missing")
        elif lo == 0:
            preds.append((name, "<", float(fe[hi])))
            labels.append(f"{name} < {format_value(fe[hi])}")
        elif hi == fe.size:
            preds.append((name, ">=", float(fe[lo - 1])))
            labels.append(f"{name} >= {format_value(fe[lo - 1])}")
        else:
            preds.append((name, "in", (float(fe[lo - 1]), float(fe[hi]))))
            labels.append(f"{format_value(fe[lo - 1])} <= {name} < {format_value(fe[hi])}")
    return preds, " AND ".join(labels) if labels else "all rows"


def score(size, total, mode: str, params: np.ndarray):
    """The search score (see ``_search``) of slices with ``size`` rows and error sum ``total``
    (arrays broadcast; empty slices score -inf)."""
    size = np.asarray(size, dtype=np.float64)
    total = np.asarray(total, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if mode == "zscore":
            out = (total - size * params[0]) / (params[1] * np.sqrt(size))
        else:
            a = params[1]
            out = a * (total / size / params[0] - 1.0) - (1.0 - a) * (params[2] / size - 1.0)
    return np.where(size > 0, out, -np.inf)


def likelihood_ratio(size, total, n: float, n_err: float):
    """Bernoulli log-likelihood ratio of "the slice has its own error rate" against "one rate
    for all ``n`` rows" (``n_err`` errors), for slices with ``size`` rows and ``total`` errors;
    ``-inf`` where the slice does not do worse than the rest. This is the maximum-likelihood
    criterion for where a boundary lies, sharper than the z-score, which uses the overall
    variance for the slice too."""
    from scipy.special import xlogy

    size = np.asarray(size, dtype=np.float64)
    total = np.asarray(total, dtype=np.float64)
    rest, rest_err = n - size, n_err - total
    with np.errstate(divide="ignore", invalid="ignore"):
        ll = (
            xlogy(total, total / size) + xlogy(size - total, 1 - total / size)
            + xlogy(rest_err, rest_err / rest) + xlogy(rest - rest_err, 1 - rest_err / rest)
        )  # fmt: skip
        worse = total * rest > rest_err * size
    ll0 = xlogy(n_err, n_err / n) + xlogy(n - n_err, 1 - n_err / n)
    return np.where((size > 0) & (rest > 0) & worse, ll - ll0, -np.inf)


def _best_position(
    codes: np.ndarray, e: np.ndarray, n_fine: int, *, one_sided: bool, min_support: int,
    mode: str, params: np.ndarray, lr: tuple[float, float] | None = None,
    allowed: np.ndarray | None = None,
) -> tuple[float, int, int]:  # fmt: skip
    """Best interval ``lo..hi`` of fine codes ``0..n_fine-1`` for rows with ``codes``;
    ``allowed(lo, hi)`` masks out positions (e.g. too wide ones)."""
    cnt = np.bincount(codes, minlength=n_fine + 2)[:n_fine]
    tot = np.bincount(codes, weights=e, minlength=n_fine + 2)[:n_fine]
    C = np.concatenate(([0.0], np.cumsum(cnt)))
    T = np.concatenate(([0.0], np.cumsum(tot)))
    if one_sided:
        # "x < edge": lo = 0, hi = 0..n-2; "x >= edge": lo = 1..n-1, hi = n-1
        lo = np.concatenate((np.zeros(n_fine - 1, int), np.arange(1, n_fine)))
        hi = np.concatenate((np.arange(n_fine - 1), np.full(n_fine - 1, n_fine - 1)))
    else:
        lo, hi = np.triu_indices(n_fine)
        keep = ~((lo == 0) & (hi == n_fine - 1))
        lo, hi = lo[keep], hi[keep]
    if lo.size == 0:
        return -np.inf, 0, n_fine - 1
    s = C[hi + 1] - C[lo]
    if lr is not None:
        sc = likelihood_ratio(s, T[hi + 1] - T[lo], lr[0], lr[1])
    else:
        sc = score(s, T[hi + 1] - T[lo], mode, params)
    sc[s < min_support] = -np.inf
    if allowed is not None:
        sc[~allowed(lo, hi)] = -np.inf
    j = int(np.argmax(sc))  # first maximum: the smallest lo, then the smallest hi
    return float(sc[j]), int(lo[j]), int(hi[j])


def _worse_p(inside: np.ndarray, rest: np.ndarray, *, binary: bool) -> float:
    """One-sided p-value that ``inside`` does worse than ``rest``: the pooled two-proportion
    z-test for 0/1 errors (this runs inside a loop; the confirmation uses Fisher's exact
    test), Welch's t-test otherwise."""
    if not binary:
        return _stats.test_greater(inside, rest, binary=False)
    n1, n2 = inside.size, rest.size
    if n1 == 0 or n2 == 0:
        return 1.0
    a, b = float(inside.sum()), float(rest.sum())
    p = (a + b) / (n1 + n2)
    var = p * (1 - p) * (1 / n1 + 1 / n2)
    if var <= 0:
        return 1.0
    return float(0.5 * math.erfc((a / n1 - b / n2) / math.sqrt(2 * var)))


def refine(
    binned: Binned,
    terms: tuple[Term, ...],
    e: np.ndarray,
    rows: np.ndarray,
    *,
    min_support: int,
    mode: str,
    params: np.ndarray,
    binary: bool,
    level: float = 0.01,
    max_rounds: int = 10,
    use_lr: bool = True,
    max_share: float = 0.9,
) -> tuple[tuple[Term, ...], float]:
    """Refine ``terms`` on the discovery ``rows`` (``e`` holds their errors); see the module
    docstring. A continuous predicate never covers more than ``max_share`` of the rows (as in
    the search: a failure slice is a minority, and a wide range only dilutes it). Returns the
    refined terms (sorted by feature) and their score."""
    codes = binned.fine_codes[:, rows]
    fine = binned.fine_edges
    terms = tuple(sorted(terms))

    def masks(ts):
        per = [(codes[f] >= lo) & (codes[f] <= hi) for f, lo, hi in ts]
        full = np.logical_and.reduce(per) if per else np.ones(codes.shape[1], dtype=bool)
        return per, full

    # binary errors: thresholds by likelihood ratio (see likelihood_ratio); else the score
    lr = (float(e.size), float(e.sum())) if binary and use_lr else None

    def term_score(ts):
        m = masks(ts)[1]
        if lr is not None:
            return float(likelihood_ratio(m.sum(), e[m].sum(), lr[0], lr[1]))
        return float(score(m.sum(), e[m].sum(), mode, params))

    current = term_score(terms)
    for _ in range(max_rounds):
        changed = False
        # 1. thresholds, coordinate-wise, until no move improves the score
        for _ in range(max_rounds):
            improved = False
            for j, (f, lo, hi) in enumerate(terms):
                fe = fine[f]
                if fe is None or lo == fe.size + 1:  # categorical, or "is missing"
                    continue
                per, _ = masks(terms)
                rest = np.logical_and.reduce([m for i, m in enumerate(per) if i != j] or [
                    np.ones(codes.shape[1], dtype=bool)])  # fmt: skip
                one_sided = lo == 0 or hi == fe.size
                marg = np.bincount(codes[f], minlength=fe.size + 2)
                marg = np.concatenate(([0], np.cumsum(marg)))

                def allowed(a, b, marg=marg):
                    return marg[b + 1] - marg[a] <= max_share * codes.shape[1] + 1e-9

                sc, nlo, nhi = _best_position(codes[f][rest], e[rest], fe.size + 1,
                                              one_sided=one_sided, min_support=min_support,
                                              mode=mode, params=params, lr=lr,
                                              allowed=allowed)  # fmt: skip
                if sc > current + 1e-9 and (nlo, nhi) != (lo, hi):
                    terms = (*terms[:j], (f, nlo, nhi), *terms[j + 1 :])
                    current = sc
                    improved = changed = True
            if not improved:
                break
        # 2. nested test: drop the predicate whose removed rows do least better
        if len(terms) > 1:
            per, full = masks(terms)
            worst_p, worst_j = 0.0, -1
            for j in range(len(terms)):
                parent = np.logical_and.reduce([m for i, m in enumerate(per) if i != j])
                p = _worse_p(e[full], e[parent & ~full], binary=binary)
                if p > worst_p:
                    worst_p, worst_j = p, j
            if worst_p > level:
                terms = terms[:worst_j] + terms[worst_j + 1 :]
                current = term_score(terms)
                changed = True
        if not changed:
            break
    if lr is not None:  # report the search score, in the units of the other candidates
        m = masks(terms)[1]
        current = float(score(m.sum(), e[m].sum(), mode, params))
    return terms, current
