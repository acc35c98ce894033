"""Oracle tests of the GAM boosting kernels' fast paths and of the bag thread count."""

from __future__ import annotations

import numpy as np
import pytest

from assay.errors import InvalidInputError
from assay.glassbox import GAMClassifier
from assay.glassbox._boost import _pair_tree, _pass_k1, _pass_logit, _resync_e, boost_terms
from assay.glassbox._gam import _n_threads


def _pair_tree_brute(hg, hh, hc, nb1, nb2, lam, min_leaf):
    """Every (axis, first cut, cut on each side) four-leaf tree, scored from scratch."""
    grids = [a.reshape(nb1, nb2) for a in (hg, hh, hc)]
    best = (0.0, -1, -1, -1, -1)
    for axis in range(2):
        g, h, c = (m if axis == 0 else m.T for m in grids)
        n_first, m = g.shape
        for cut in range(1, n_first):
            gain, side_cuts = 0.0, []
            for rows in (slice(0, cut), slice(cut, n_first)):
                sg, sh, sc = g[rows].sum(0), h[rows].sum(0), c[rows].sum(0)
                if sc.sum() < min_leaf:
                    break
                parent = sg.sum() ** 2 / (sh.sum() + lam)
                sub, at = 0.0, -1
                for q in range(1, m):
                    if sc[:q].sum() < min_leaf or sc[q:].sum() < min_leaf:
                        continue
                    gq = sg[:q].sum() ** 2 / (sh[:q].sum() + lam)
                    gq += sg[q:].sum() ** 2 / (sh[q:].sum() + lam) - parent
                    if gq > sub:
                        sub, at = gq, q
                gain += parent + sub
                side_cuts.append(at)
            else:
                if gain > best[0]:
                    best = (gain, axis, cut, side_cuts[0], side_cuts[1])
    return best


@pytest.mark.parametrize("seed", range(6))
def test_pair_tree_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    nb1, nb2 = (int(v) for v in rng.integers(2, 8, size=2))
    hg = rng.normal(size=nb1 * nb2)
    hh = rng.uniform(0.1, 1.0, size=nb1 * nb2)
    hc = rng.integers(0, 6, size=nb1 * nb2).astype(float)
    min_leaf = float(rng.integers(1, 8))
    got = _pair_tree(hg, hh, hc, nb1, nb2, 1e-9, min_leaf)
    want = _pair_tree_brute(hg, hh, hc, nb1, nb2, 1e-9, min_leaf)
    assert got[1:] == want[1:]
    assert got[0] == pytest.approx(want[0], rel=1e-10)


def test_pair_tree_finds_planted_checkerboard():
    # Gradients carry an XOR pattern: the best tree cuts row 3, then column 2 on both sides.
    nb1, nb2 = 6, 5
    sign = np.where((np.arange(nb1)[:, None] < 3) ^ (np.arange(nb2)[None, :] < 2), 1.0, -1.0)
    hg = sign.ravel()
    hh = np.ones(nb1 * nb2)
    gain, axis, cut, lo, hi = _pair_tree(hg, hh, np.full(nb1 * nb2, 5.0), nb1, nb2, 1e-9, 1.0)
    assert (axis, cut, lo, hi) == (0, 3, 2, 2)
    assert gain == pytest.approx(
        sum(v.sum() ** 2 / v.size for v in (sign[:3, :2], sign[:3, 2:], sign[3:, :2], sign[3:, 2:]))
    )


def test_logit_pass_matches_exp_per_row():
    """The exp-free pass (no stored scores: ``exp(score)`` updated by per-bin factors, scores
    rebuilt from the term tables when needed) equals the direct computation on explicit scores,
    including rows whose scores overflow exp, come back, and a resync from the tables."""
    rng = np.random.default_rng(0)
    n, nb, n_terms = 400, 7, 6
    y = (rng.random(n) < 0.4).astype(float)
    base = rng.normal(scale=2.0, size=n)
    base[:5] = [800.0, -800.0, 50.0, -50.0, 0.0]  # exp overflows/underflows on the first two
    s_ref = base.copy()
    e = np.exp(np.clip(base, -700, 700))  # wrong on rows 0-1 until the first resync
    tb = rng.integers(0, nb, size=(n_terms, n)).astype(np.int32)
    values = np.zeros((n_terms, nb, 1))
    with np.errstate(over="ignore"):
        for step in range(n_terms):
            prev = rng.normal(scale=0.3, size=nb)
            if step == 3:
                prev[tb[step - 1, :2]] = [-900.0, 900.0]  # pull the extreme rows back
            if step > 0:
                values[step - 1, :, 0] += prev  # boost_terms updates the table first
            hg_r, hh_r, hgh_f = np.zeros(nb), np.zeros(nb), np.zeros((2, nb))
            tb_prev, tb_cur = tb[max(step - 1, 0)], tb[step]
            _pass_k1(1, step > 0, tb_prev, prev, tb_cur, y, s_ref, hg_r, hh_r)
            resync = step in (0, 4)
            if resync:
                _resync_e(base, tb, values, e)
            _pass_logit(step > 0 and not resync, tb_prev, np.exp(prev), tb_cur, y, e,
                        hgh_f[0], hgh_f[1], base, tb, values)  # fmt: skip
            np.testing.assert_allclose(hgh_f[0], hg_r, rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(hgh_f[1], hh_r, rtol=1e-9, atol=1e-9)
            ok = np.abs(s_ref) < 600
            np.testing.assert_allclose(np.log(e[ok]), s_ref[ok], rtol=0, atol=1e-9)


def test_boost_terms_logistic_fast_path_matches_general_path():
    """Binary log-loss boosting (the exp-free fast path) reproduces a plain NumPy re-implementation
    of cyclic boosting with two-leaf Newton steps; the planted feature gets the shape."""
    rng = np.random.default_rng(1)
    n, d = 600, 3
    tb = rng.integers(0, 12, size=(d, n)).astype(np.int32)
    y = (rng.random(n) < 1 / (1 + np.exp(-(tb[0] - 5.5) / 3))).astype(float)
    nb1 = np.full(d, 12, dtype=np.int64)
    args = (np.zeros(d, dtype=np.int64), nb1, np.ones(d, dtype=np.int64),
            np.zeros(d, dtype=np.int64), 0.1, 1e-9, 5.0, 2, 60, 10**6, 0.0, 0, 7)  # fmt: skip
    va = np.empty((0,), dtype=np.int32).reshape(d, 0)
    vals, rounds, _ = boost_terms(1, tb, y, np.zeros((n, 1)), va, y[:0], np.zeros((0, 1)), *args)
    assert rounds == 60
    s = np.zeros(n)
    tables = np.zeros((d, 12))
    for _ in range(60):
        for t in range(d):
            p = 1 / (1 + np.exp(-s))
            g = np.bincount(tb[t], weights=p - y, minlength=12)
            h = np.bincount(tb[t], weights=np.maximum(p * (1 - p), 1e-12), minlength=12)
            c = np.bincount(tb[t], minlength=12).astype(float)
            upd = np.zeros(12)
            # Greedy 2-leaf step (max_leaves=2), as in _ordered_update.
            gc, hc_, cc = (np.r_[0, np.cumsum(a)] for a in (g, h, c))
            best, cut = 0.0, -1
            for k in range(1, 12):
                if cc[k] < 5 or cc[12] - cc[k] < 5:
                    continue
                gain = (
                    gc[k] ** 2 / (hc_[k] + 1e-9)
                    + (gc[12] - gc[k]) ** 2 / (hc_[12] - hc_[k] + 1e-9)
                    - gc[12] ** 2 / (hc_[12] + 1e-9)
                )
                if gain > best:
                    best, cut = gain, k
            if cut < 0:
                upd[:] = -0.1 * gc[12] / (hc_[12] + 1e-9)
            else:
                upd[:cut] = -0.1 * gc[cut] / (hc_[cut] + 1e-9)
                upd[cut:] = -0.1 * (gc[12] - gc[cut]) / (hc_[12] - hc_[cut] + 1e-9)
            tables[t] += upd
            s += upd[tb[t]]
    np.testing.assert_allclose(vals[:, :12, 0], tables, rtol=1e-7, atol=1e-9)
    # The planted feature has a rising shape; the null features stay much flatter.
    assert tables[0, -1] - tables[0, 0] > 1.0
    assert np.ptp(tables[1]) < 0.5 * np.ptp(tables[0])


def test_n_threads_convention(monkeypatch):
    import os

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3}, raising=False)
    assert _n_threads(None, 8) == 4
    assert _n_threads(-1, 8) == 4
    assert _n_threads(-2, 8) == 3
    assert _n_threads(2, 8) == 2
    assert _n_threads(16, 8) == 8  # never more threads than bags
    assert _n_threads(-10, 8) == 1
    with pytest.raises(InvalidInputError, match="n_jobs"):
        _n_threads(0, 8)
    with pytest.raises(InvalidInputError, match="n_jobs"):
        GAMClassifier(n_jobs=1.5).fit(np.zeros((30, 1)), np.arange(30) % 2)


def test_thread_count_does_not_change_the_model():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(500, 3))
    y = (X[:, 0] + rng.normal(size=500) > 0).astype(int)
    kw = {"n_bags": 3, "interactions": 1, "max_rounds": 300, "random_state": 0}
    a = GAMClassifier(n_jobs=1, **kw).fit(X, y)
    b = GAMClassifier(n_jobs=3, **kw).fit(X, y)
    assert np.array_equal(a.decision_function(X), b.decision_function(X))


def test_brute_force_reference_is_exhaustive():
    # Guard the oracle itself: an XOR on a 2x2 grid needs the full four-leaf tree.
    hg = np.array([1.0, -1.0, -1.0, 1.0])
    out = _pair_tree_brute(hg, np.ones(4), np.ones(4), 2, 2, 1e-9, 1.0)
    assert out[2:] == (1, 1, 1)
    assert out[0] == pytest.approx(4.0)


def test_logit_validation_loss_matches_direct_formula():
    """The product-of-probabilities log-loss equals the direct formula, also for rows with
    extreme scores (tiny probabilities, overflowed exp) and long runs that need flushing."""
    from assay.glassbox._boost import _logit_loss_e, mean_loss

    rng = np.random.default_rng(4)
    s = rng.normal(scale=3.0, size=5000)
    s[:6] = [800.0, -800.0, 200.0, -200.0, 40.0, -40.0]
    y = (rng.random(5000) < 0.5).astype(float)
    y[:6] = [0.0, 1.0, 0.0, 1.0, 1.0, 0.0]
    with np.errstate(over="ignore"):
        e = np.exp(s)
    direct = mean_loss(1, y, s[:, None])
    no_terms = (np.zeros((0, s.size), dtype=np.int32), np.zeros((0, 1, 1)))  # score = base
    assert _logit_loss_e(y, e, s, *no_terms) == pytest.approx(direct, rel=1e-12)
    # Confident correct predictions only: many products near 1, none tiny.
    yy = (s > 0).astype(float)
    assert _logit_loss_e(yy, e, s, *no_terms) == pytest.approx(
        mean_loss(1, yy, s[:, None]), rel=1e-10
    )
