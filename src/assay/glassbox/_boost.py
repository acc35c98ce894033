"""Numba kernels: cyclic gradient boosting of binned additive terms, and FAST pair ranking.

A *term* is a lookup table indexed by a flat bin index per row: a main effect uses the
feature's bin, a pair term ``(i, j)`` uses ``b_i * nb_j + b_j``. Each boosting round visits
every term once (cyclic boosting); a visit builds gradient/hessian histograms of the current
loss over the term's bins and adds ``learning_rate`` times a small Newton-step tree fitted to
them:

- type 0 (ordered main effect): a greedy tree with at most ``max_leaves`` leaves over
  contiguous bin ranges;
- type 1 (categorical main effect): one leaf per category (a regularised Newton step);
- type 2 (pair): EBM's four-leaf tree: a cut on one feature, then a cut on the other within
  each side; both orientations are tried.

Monotone terms (``mono = +1/-1``) are projected back onto the monotone cone with weighted
pool-adjacent-violators after every update, so the constraint holds by construction. The
whole loop, with early stopping on a validation split, runs inside one compiled function so
that Python is not entered per round; kernels release the GIL so bags run in threads.

Cost: a round is one pass over the training rows per term, so the per-row work is what
matters. For binary log-loss the pass keeps only ``exp(score)`` per row (the score itself is
rebuilt from the term tables when needed) and applies each term's update as a per-bin factor
(see :func:`_pass_logit`), avoiding an ``exp`` and a score update per row and term;
pair trees are scored with running sums, without per-cut allocations. All functions are
compiled with ``cache=True``: the first use on a machine compiles them (about 10-15 s of CPU),
later processes load them from the cache in well under a second.

Losses: 0 = squared error, 1 = binary log-loss (scores are log-odds), 2 = softmax
(multiclass, one score per class).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["boost_terms", "pair_strengths", "pava"]

_NJIT = {"nogil": True, "cache": True}
# The exp-free log-loss paths recompute exp(score) from the scores this often (in rounds)
# to keep multiplicative rounding drift negligible (~1e-14 relative).
_RESYNC_ROUNDS = 32


@njit(**_NJIT)
def _loss(loss, y, scores):
    n = scores.shape[0]
    if n == 0:
        return 0.0
    total = 0.0
    if loss == 0:
        for i in range(n):
            d = y[i] - scores[i, 0]
            total += d * d
    elif loss == 1:
        for i in range(n):
            s = scores[i, 0]
            if s > 0:
                total += s + np.log1p(np.exp(-s)) - y[i] * s
            else:
                total += np.log1p(np.exp(s)) - y[i] * s
    else:
        k_n = scores.shape[1]
        for i in range(n):
            m = scores[i, 0]
            for k in range(1, k_n):
                m = max(m, scores[i, k])
            z = 0.0
            for k in range(k_n):
                z += np.exp(scores[i, k] - m)
            total += m + np.log(z) - scores[i, int(y[i])]
    return total / n


@njit(**_NJIT)
def _grad_hess(loss, y, scores, g, h):
    n, k_n = scores.shape
    if loss == 0:
        for i in range(n):
            g[i, 0] = scores[i, 0] - y[i]
            h[i, 0] = 1.0
    elif loss == 1:
        for i in range(n):
            p = 1.0 / (1.0 + np.exp(-scores[i, 0]))
            g[i, 0] = p - y[i]
            h[i, 0] = max(p * (1.0 - p), 1e-12)
    else:
        for i in range(n):
            m = scores[i, 0]
            for k in range(1, k_n):
                m = max(m, scores[i, k])
            z = 0.0
            for k in range(k_n):
                z += np.exp(scores[i, k] - m)
            yi = int(y[i])
            for k in range(k_n):
                p = np.exp(scores[i, k] - m) / z
                g[i, k] = p - (1.0 if k == yi else 0.0)
                h[i, k] = max(p * (1.0 - p), 1e-12)


@njit(**_NJIT)
def pava(v, w, increasing):
    """Weighted isotonic (pool-adjacent-violators) fit of ``v``; returns a new array."""
    n = v.shape[0]
    sign = 1.0 if increasing else -1.0
    vals = np.empty(n)
    wts = np.empty(n)
    lens = np.empty(n, dtype=np.int64)
    top = -1
    for i in range(n):
        top += 1
        vals[top] = sign * v[i]
        wts[top] = w[i]
        lens[top] = 1
        while top > 0 and vals[top - 1] > vals[top]:
            tw = wts[top - 1] + wts[top]
            vals[top - 1] = (vals[top - 1] * wts[top - 1] + vals[top] * wts[top]) / tw
            wts[top - 1] = tw
            lens[top - 1] += lens[top]
            top -= 1
    out = np.empty(n)
    pos = 0
    for b in range(top + 1):
        for _ in range(lens[b]):
            out[pos] = sign * vals[b]
            pos += 1
    return out


@njit(**_NJIT)
def _gain(g, h, lam):
    return g * g / (h + lam)


@njit(**_NJIT)
def _best_cut(G, H, C, lo, hi, lam, min_leaf):
    """Best single cut of bins [lo, hi) (cumulative arrays with a leading 0). -> (gain, cut)."""
    gt = G[hi] - G[lo]
    ht = H[hi] - H[lo]
    parent = _gain(gt, ht, lam)
    best = 0.0
    cut = -1
    for c in range(lo + 1, hi):
        cl = C[c] - C[lo]
        cr = C[hi] - C[c]
        if cl < min_leaf or cr < min_leaf:
            continue
        gl = G[c] - G[lo]
        hl = H[c] - H[lo]
        gain = _gain(gl, hl, lam) + _gain(gt - gl, ht - hl, lam) - parent
        if gain > best:
            best = gain
            cut = c
    return best, cut


@njit(**_NJIT)
def _random_update(hg, hh, hc, lr, lam, min_leaf, out):
    """A two-leaf step at a random valid cut (EBM's 'smoothing rounds')."""
    nb = hg.shape[0]
    total_c = hc.sum()
    valid = 0
    left = 0.0
    for c in range(1, nb):
        left += hc[c - 1]
        if left >= min_leaf and total_c - left >= min_leaf:
            valid += 1
    gt = hg.sum()
    ht = hh.sum()
    if valid == 0:
        for b in range(nb):
            out[b] = -lr * gt / (ht + lam)
        return
    pick = np.random.randint(  # noqa: NPY002 (numba per-thread state, seeded per bag)
        0, valid
    )
    left = 0.0
    cut = -1
    seen = 0
    for c in range(1, nb):
        left += hc[c - 1]
        if left >= min_leaf and total_c - left >= min_leaf:
            if seen == pick:
                cut = c
                break
            seen += 1
    gl = 0.0
    hl = 0.0
    for b in range(cut):
        gl += hg[b]
        hl += hh[b]
    vl = -lr * gl / (hl + lam)
    vr = -lr * (gt - gl) / (ht - hl + lam)
    for b in range(nb):
        out[b] = vl if b < cut else vr


@njit(**_NJIT)
def _ordered_update(hg, hh, hc, lr, lam, min_leaf, max_leaves, out):
    """Greedy tree over contiguous bins; writes lr * leaf values into ``out``."""
    nb = hg.shape[0]
    G = np.zeros(nb + 1)
    H = np.zeros(nb + 1)
    C = np.zeros(nb + 1)
    for b in range(nb):
        G[b + 1] = G[b] + hg[b]
        H[b + 1] = H[b] + hh[b]
        C[b + 1] = C[b] + hc[b]
    starts = np.zeros(max_leaves + 1, dtype=np.int64)
    n_seg = 1
    starts[0] = 0
    starts[1] = nb
    for _ in range(max_leaves - 1):
        best = 0.0
        best_cut = -1
        best_seg = -1
        for s in range(n_seg):
            gain, cut = _best_cut(G, H, C, starts[s], starts[s + 1], lam, min_leaf)
            if gain > best:
                best = gain
                best_cut = cut
                best_seg = s
        if best_cut < 0:
            break
        for s in range(n_seg, best_seg, -1):
            starts[s + 1] = starts[s]
        starts[best_seg + 1] = best_cut
        n_seg += 1
    for s in range(n_seg):
        lo = starts[s]
        hi = starts[s + 1]
        val = -lr * (G[hi] - G[lo]) / (H[hi] - H[lo] + lam)
        for b in range(lo, hi):
            out[b] = val


@njit(**_NJIT)
def _axis_cumsum(hist, axis, nb1, nb2):
    """cum[r, q] = sum of hist over first-axis index < r at other-axis index q."""
    n_first = nb1 if axis == 0 else nb2
    m = nb2 if axis == 0 else nb1
    cum = np.zeros((n_first + 1, m))
    for r in range(n_first):
        for q in range(m):
            idx = r * nb2 + q if axis == 0 else q * nb2 + r
            cum[r + 1, q] = cum[r, q] + hist[idx]
    return cum


@njit(**_NJIT)
def _side_prefix(cum, c, lo_side):
    n_first = cum.shape[0] - 1
    m = cum.shape[1]
    out = np.zeros(m + 1)
    for q in range(m):
        v = cum[c, q] if lo_side else cum[n_first, q] - cum[c, q]
        out[q + 1] = out[q] + v
    return out


@njit(**_NJIT)
def _pair_tree(hg, hh, hc, nb1, nb2, lam, min_leaf):
    """Best four-leaf tree. -> (gain, axis, cut, cut_lo_side, cut_hi_side).

    For every first cut ``c`` on one axis, each side's best cut on the other axis is found
    by one running-sum scan over that side's marginal (read from cumulative sums over the
    first axis), without allocating per cut: this runs once per pair term per round.
    """
    best_gain = 0.0
    best_axis = -1
    best_c = -1
    best_lo = -1
    best_hi = -1
    for axis in range(2):
        n_first = nb1 if axis == 0 else nb2
        m = nb2 if axis == 0 else nb1
        cg = _axis_cumsum(hg, axis, nb1, nb2)
        ch = _axis_cumsum(hh, axis, nb1, nb2)
        cc = _axis_cumsum(hc, axis, nb1, nb2)
        for c in range(1, n_first):
            gain = 0.0
            cut_lo = -1
            cut_hi = -1
            ok = True
            for side in range(2):
                gt = 0.0
                ht = 0.0
                ct = 0.0
                for q in range(m):
                    if side == 0:
                        gt += cg[c, q]
                        ht += ch[c, q]
                        ct += cc[c, q]
                    else:
                        gt += cg[n_first, q] - cg[c, q]
                        ht += ch[n_first, q] - ch[c, q]
                        ct += cc[n_first, q] - cc[c, q]
                if ct < min_leaf:
                    ok = False
                    break
                parent = _gain(gt, ht, lam)
                gain += parent
                gl = 0.0
                hl = 0.0
                cl = 0.0
                sub = 0.0
                cut = -1
                for q in range(m - 1):
                    if side == 0:
                        gl += cg[c, q]
                        hl += ch[c, q]
                        cl += cc[c, q]
                    else:
                        gl += cg[n_first, q] - cg[c, q]
                        hl += ch[n_first, q] - ch[c, q]
                        cl += cc[n_first, q] - cc[c, q]
                    if cl < min_leaf or ct - cl < min_leaf:
                        continue
                    gq = _gain(gl, hl, lam) + _gain(gt - gl, ht - hl, lam) - parent
                    if gq > sub:
                        sub = gq
                        cut = q + 1
                gain += sub
                if side == 0:
                    cut_lo = cut
                else:
                    cut_hi = cut
            if ok and gain > best_gain:
                best_gain = gain
                best_axis = axis
                best_c = c
                best_lo = cut_lo
                best_hi = cut_hi
    return best_gain, best_axis, best_c, best_lo, best_hi


@njit(**_NJIT)
def _random_valid_cut(C, m, min_leaf):
    """A uniformly random cut of a cumulative count array with both sides >= min_leaf."""
    valid = 0
    for c in range(1, m):
        if C[c] >= min_leaf and C[m] - C[c] >= min_leaf:
            valid += 1
    if valid == 0:
        return -1
    pick = np.random.randint(  # noqa: NPY002 (numba per-thread state, seeded per bag)
        0, valid
    )
    for c in range(1, m):
        if C[c] >= min_leaf and C[m] - C[c] >= min_leaf:
            if pick == 0:
                return c
            pick -= 1
    return -1


@njit(**_NJIT)
def _pair_random(hc, nb1, nb2, min_leaf):
    """Random four-leaf structure (smoothing rounds for pairs)."""
    axis = np.random.randint(  # noqa: NPY002 (numba per-thread state, seeded per bag)
        0, 2
    )
    n_first = nb1 if axis == 0 else nb2
    cc = _axis_cumsum(hc, axis, nb1, nb2)
    tot = np.zeros(n_first + 1)
    for r in range(n_first):
        tot[r + 1] = tot[r] + cc[r + 1].sum() - cc[r].sum()
    c = _random_valid_cut(tot, n_first, min_leaf)
    if c < 0:
        return -1, -1, -1, -1
    lo = _random_valid_cut(_side_prefix(cc, c, True), cc.shape[1], min_leaf)
    hi = _random_valid_cut(_side_prefix(cc, c, False), cc.shape[1], min_leaf)
    return axis, c, lo, hi


@njit(**_NJIT)
def _pair_update(hg, hh, hc, nb1, nb2, lr, lam, min_leaf, out, random):
    tg = hg.sum()
    th = hh.sum()
    parent = _gain(tg, th, lam)
    if random:
        axis, c, cut0, cut1 = _pair_random(hc, nb1, nb2, min_leaf)
        gain = parent + 1.0
    else:
        gain, axis, c, cut0, cut1 = _pair_tree(hg, hh, hc, nb1, nb2, lam, min_leaf)
    if axis < 0 or gain - parent <= 0.0:
        for b in range(nb1 * nb2):
            out[b] = 0.0
        return
    n_first = nb1 if axis == 0 else nb2
    m = nb2 if axis == 0 else nb1
    for side in range(2):
        r0 = 0 if side == 0 else c
        r1 = c if side == 0 else n_first
        cut = cut0 if side == 0 else cut1
        for part in range(2):
            if cut < 0:
                q0, q1 = (0, m) if part == 0 else (0, 0)
            else:
                q0, q1 = (0, cut) if part == 0 else (cut, m)
            sg = 0.0
            sh = 0.0
            for r in range(r0, r1):
                for q in range(q0, q1):
                    idx = r * nb2 + q if axis == 0 else q * nb2 + r
                    sg += hg[idx]
                    sh += hh[idx]
            val = -lr * sg / (sh + lam)
            for r in range(r0, r1):
                for q in range(q0, q1):
                    idx = r * nb2 + q if axis == 0 else q * nb2 + r
                    out[idx] = val


@njit(**_NJIT)
def _row_grad(loss, yi, scores, i, g, h):
    """Gradient and hessian of row ``i`` into ``g``/``h`` (length K)."""
    k_n = scores.shape[1]
    if loss == 0:
        g[0] = scores[i, 0] - yi
        h[0] = 1.0
    elif loss == 1:
        p = 1.0 / (1.0 + np.exp(-scores[i, 0]))
        g[0] = p - yi
        h[0] = max(p * (1.0 - p), 1e-12)
    else:
        m = scores[i, 0]
        for k in range(1, k_n):
            m = max(m, scores[i, k])
        z = 0.0
        for k in range(k_n):
            g[k] = np.exp(scores[i, k] - m)
            z += g[k]
        for k in range(k_n):
            p = g[k] / z
            g[k] = p - (1.0 if k == int(yi) else 0.0)
            h[k] = max(p * (1.0 - p), 1e-12)


@njit(**_NJIT)
def _pass_k1(loss, has_prev, tb_prev, prev, tb_cur, y, s, hg, hh):
    """Single-score fast path: apply the previous term's update, build this term's histograms."""
    n = s.shape[0]
    for i in range(n):
        if has_prev:
            s[i] += prev[tb_prev[i]]
        si = s[i]
        if loss == 0:
            gi = si - y[i]
            hi = 1.0
        else:
            p = 1.0 / (1.0 + np.exp(-si))
            gi = p - y[i]
            hi = max(p * (1.0 - p), 1e-12)
        b = tb_cur[i]
        hg[b] += gi
        hh[b] += hi


@njit(**_NJIT)
def _row_score(base, tbins, values, i):
    """Current score of row ``i``: its start score plus every term's table entry."""
    s = base[i]
    for t in range(tbins.shape[0]):
        s += values[t, tbins[t, i], 0]
    return s


@njit(**_NJIT)
def _resync_e(base, tbins, values, e):
    """Recompute ``e = exp(score)`` of every row from the term tables."""
    for i in range(e.shape[0]):
        e[i] = np.exp(_row_score(base, tbins, values, i))


@njit(**_NJIT)
def _pass_logit(has_prev, tb_prev, eprev, tb_cur, y, e, hg, hh, base, tbins, values):
    """Binary log-loss fast path: no per-row ``exp`` and no per-row score.

    ``e`` holds ``exp(score)``; the previous term's update is applied as a product with the
    per-bin factor ``eprev[b] = exp(update[b])``, so a row costs a gather, a multiply and a
    divide instead of an exponential (the dominant cost of a pass). The scores themselves are
    never stored: they are ``base + sum_t values[t, bin]`` (:func:`_row_score`), which
    :func:`_resync_e` uses every ``_RESYNC_ROUNDS`` rounds to bound rounding drift and this
    pass uses at once for a row whose product leaves the normal range (over/underflow).
    """
    n = e.shape[0]
    for i in range(n):
        ei = e[i] * eprev[tb_prev[i]] if has_prev else e[i]
        if not 1e-300 < ei < 1e300:  # also catches inf * 0 = NaN
            ei = np.exp(_row_score(base, tbins, values, i))
        e[i] = ei
        p = ei / (1.0 + ei) if ei < 1e300 else 1.0
        b = tb_cur[i]
        hg[b] += p - y[i]
        hh[b] += max(p * (1.0 - p), 1e-12)


@njit(**_NJIT)
def _logit_loss_e(y, e, base, tbins, values):
    """Mean binary log-loss from ``e = exp(score)`` with one ``log`` per block of rows.

    ``-log q_i`` (``q_i`` the probability of the observed label, ``y`` in {0, 1}) is summed
    as the log of running products of ``q_i``, flushed before they can underflow; rows with
    a tiny ``q_i`` (or an overflowed ``e``) take the direct, stable formula from the score
    (:func:`_row_score`). This is the per-round early-stopping check, which otherwise costs
    two transcendentals per validation row.
    """
    n = e.shape[0]
    if n == 0:
        return 0.0
    total = 0.0
    prod = 1.0
    for i in range(n):
        ei = e[i]
        yi = y[i]
        q = (yi * ei + (1.0 - yi)) / (1.0 + ei) if ei < 1e300 else yi
        if q < 1e-50:
            si = _row_score(base, tbins, values, i)
            total -= max(si, 0.0) + np.log1p(np.exp(-abs(si))) - yi * si
        else:
            prod *= q
            if prod < 1e-250:
                total += np.log(prod)
                prod = 1.0
    total += np.log(prod)
    return -total / n


@njit(**_NJIT)
def boost_terms(
    loss,
    tbins_tr,
    y_tr,
    scores_tr,
    tbins_va,
    y_va,
    scores_va,
    term_type,
    nb1,
    nb2,
    mono,
    lr,
    lam,
    min_leaf,
    max_leaves,
    max_rounds,
    patience,
    tol,
    smoothing_rounds,
    seed,
):
    """Cyclic boosting of all terms; returns ``(values, n_rounds, best_loss)``.

    ``scores_tr``/``scores_va`` (n, K) hold the starting scores (intercept plus any frozen
    terms); they may be used as work space. ``values`` (T, max_bins, K) holds the term tables
    of the round with the best validation loss (the training loss is used when the
    validation split is empty). Smoothing rounds (the first ``smoothing_rounds``) use
    random cuts for ordered main effects and do not count towards early stopping.

    The update of one term and the gradients for the next are computed in the same pass over
    the training rows.
    """
    n_terms = tbins_tr.shape[0]
    n_tr, k_n = scores_tr.shape
    max_b = 0
    for t in range(n_terms):
        max_b = max(max_b, nb1[t] * nb2[t])
    values = np.zeros((n_terms, max_b, k_n))
    best_values = np.zeros((n_terms, max_b, k_n))
    counts = np.zeros((n_terms, max_b))
    for t in range(n_terms):
        for i in range(n_tr):
            counts[t, tbins_tr[t, i]] += 1.0
    g = np.empty(k_n)
    h = np.empty(k_n)
    hg = np.empty((k_n, max_b))
    hh = np.empty((k_n, max_b))
    upd = np.zeros((k_n, max_b))
    prev = np.zeros((k_n, max_b))
    eprev = np.ones(max_b)
    logit = loss == 1 and k_n == 1
    e_tr = np.empty(n_tr if logit else 0)
    pending = -1
    s_flat = scores_tr.reshape(n_tr * k_n)
    use_va = scores_va.shape[0] > 0
    n_va = scores_va.shape[0]
    s_va = scores_va.reshape(n_va * k_n)
    e_va = np.exp(s_va) if logit else np.empty(0)
    resync_next = True
    if use_va:
        best_loss = _loss(loss, y_va, scores_va)
    else:
        best_loss = _loss(loss, y_tr, scores_tr)
    best_round = 0
    since = 0
    np.random.seed(seed)  # noqa: NPY002 (numba's per-thread generator: one bag per thread)
    for r in range(max_rounds):
        for t in range(n_terms):
            nb = nb1[t] * nb2[t]
            hg[:, :nb] = 0.0
            hh[:, :nb] = 0.0
            if logit:
                if t == 0 and (resync_next or r % _RESYNC_ROUNDS == 0):
                    _resync_e(s_flat, tbins_tr, values, e_tr)
                    pending = -1  # already in ``values``, hence in the recomputed ``e``
                _pass_logit(
                    pending >= 0, tbins_tr[max(pending, 0)], eprev, tbins_tr[t], y_tr, e_tr,
                    hg[0], hh[0], s_flat, tbins_tr, values,
                )  # fmt: skip
            elif k_n == 1 and loss != 2:
                _pass_k1(
                    loss, pending >= 0, tbins_tr[max(pending, 0)], prev[0],
                    tbins_tr[t], y_tr, s_flat, hg[0], hh[0],
                )  # fmt: skip
            for i in range(n_tr if k_n > 1 or loss == 2 else 0):
                if pending >= 0:
                    pb = tbins_tr[pending, i]
                    for k in range(k_n):
                        scores_tr[i, k] += prev[k, pb]
                _row_grad(loss, y_tr[i], scores_tr, i, g, h)
                b = tbins_tr[t, i]
                for k in range(k_n):
                    hg[k, b] += g[k]
                    hh[k, b] += h[k]
            hc = counts[t, :nb]
            for k in range(k_n):
                u = upd[k]
                if term_type[t] == 0 and r < smoothing_rounds:
                    _random_update(hg[k, :nb], hh[k, :nb], hc, lr, lam, min_leaf, u)
                elif term_type[t] == 0:
                    _ordered_update(hg[k, :nb], hh[k, :nb], hc, lr, lam, min_leaf, max_leaves, u)
                elif term_type[t] == 1:
                    for b in range(nb):
                        u[b] = -lr * hg[k, b] / (hh[k, b] + lam) if hc[b] > 0 else 0.0
                else:
                    _pair_update(
                        hg[k, :nb],
                        hh[k, :nb],
                        hc,
                        nb1[t],
                        nb2[t],
                        lr,
                        lam,
                        min_leaf,
                        u,
                        r < smoothing_rounds,
                    )
                if mono[t] != 0:
                    # Project the updated term (ordered bins only) onto the monotone cone.
                    inner = nb - 2
                    if inner > 1:
                        new = np.empty(inner)
                        w = np.empty(inner)
                        for b in range(inner):
                            new[b] = values[t, b + 1, k] + u[b + 1]
                            w[b] = hc[b + 1] + 1e-3
                        proj = pava(new, w, mono[t] > 0)
                        for b in range(inner):
                            u[b + 1] = proj[b] - values[t, b + 1, k]
                for b in range(nb):
                    values[t, b, k] += u[b]
                    prev[k, b] = u[b]
                if logit:
                    for b in range(nb):
                        eprev[b] = np.exp(u[b])
                    tbv = tbins_va[t]
                    for i in range(n_va):
                        ev = e_va[i] * eprev[tbv[i]]
                        if not 1e-300 < ev < 1e300:
                            ev = np.exp(_row_score(s_va, tbins_va, values, i))
                        e_va[i] = ev
                else:
                    for i in range(n_va):
                        scores_va[i, k] += u[tbins_va[t, i]]
            pending = t
            resync_next = False
        if use_va and logit:
            if r % _RESYNC_ROUNDS == _RESYNC_ROUNDS - 1:
                _resync_e(s_va, tbins_va, values, e_va)
            cur = _logit_loss_e(y_va, e_va, s_va, tbins_va, values)
        elif use_va:
            cur = _loss(loss, y_va, scores_va)
        elif logit:
            # Training loss: the logit path keeps no scores, so rebuild them from the tables;
            # ``e_tr`` is rebuilt from the same tables at the next round's start.
            full = np.empty((n_tr, 1))
            for i in range(n_tr):
                full[i, 0] = _row_score(s_flat, tbins_tr, values, i)
            resync_next = True
            pending = -1
            cur = _loss(loss, y_tr, full)
        else:
            for i in range(n_tr):
                pb = tbins_tr[pending, i]
                for k in range(k_n):
                    scores_tr[i, k] += prev[k, pb]
            pending = -1
            cur = _loss(loss, y_tr, scores_tr)
        if r < smoothing_rounds:
            since = 0
            if cur < best_loss:
                best_loss = cur
                best_round = r + 1
                best_values[:, :, :] = values
        elif cur < best_loss - tol:
            best_loss = cur
            best_round = r + 1
            best_values[:, :, :] = values
            since = 0
        else:
            since += 1
            if since >= patience:
                break
    return best_values, best_round, best_loss


@njit(**_NJIT)
def pair_strengths(bins, nbins, pairs, g, h, lam, min_leaf):
    """FAST ranking: for each pair, the gain of the best four-leaf tree on residual gradients.

    ``bins`` (d, n) coarse bins, ``pairs`` (P, 2), ``g``/``h`` (n, K) gradients and hessians
    of the main-effects model; the gain is summed over classes.
    """
    n_pairs = pairs.shape[0]
    n, k_n = g.shape
    out = np.zeros(n_pairs)
    for p in range(n_pairs):
        i = pairs[p, 0]
        j = pairs[p, 1]
        a = nbins[i]
        bb = nbins[j]
        for k in range(k_n):
            hg = np.zeros(a * bb)
            hh = np.zeros(a * bb)
            hc = np.zeros(a * bb)
            for r in range(n):
                idx = bins[i, r] * bb + bins[j, r]
                hg[idx] += g[r, k]
                hh[idx] += h[r, k]
                hc[idx] += 1.0
            gain, axis, _, _, _ = _pair_tree(hg, hh, hc, a, bb, lam, min_leaf)
            if axis >= 0:
                out[p] += gain - _gain(hg.sum(), hh.sum(), lam)
    return out


def grad_hess(loss: int, y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradients and hessians of the loss at ``scores`` (n, K)."""
    g = np.empty_like(scores)
    h = np.empty_like(scores)
    _grad_hess(loss, y, scores, g, h)
    return g, h


def mean_loss(loss: int, y: np.ndarray, scores: np.ndarray) -> float:
    """Mean loss at ``scores`` (n, K)."""
    return float(_loss(loss, y, np.ascontiguousarray(scores)))
