"""Compiled antithetic walks per background row (``PermutationShap``, fixed budget).

The same estimator as ``_permutation._pair_estimates_per_background`` followed by
``_strata_mean_and_se`` (same draws, same values to rounding), in three compiled passes
instead of a dozen array operations over (rows, walks, positions, features) arrays:

1. :func:`_walk_items` ranks each walk's keys into an order and gives every coalition a walk
   visits a bit code. A feature whose value is the same in the row and the background row
   (``x_j == b_j``, common for binary, categorical and one-hot columns) does not change the
   model input: it is a null player of that background row's game, so it is left out of the
   code. Coalitions that differ only by null players are then one model row, the coalition of
   null players only is the background row itself (its value ``f(b)`` is known) and the one
   missing only null players is the explained row (evaluated once per row). Up to
   ``DISTINCT_MAX_FEATURES`` features, a coalition a game's walks revisit is evaluated once.
2. :func:`_fill_from_codes` builds the distinct model rows from their codes; the model is called
   on the explained rows and these rows together, so a batch costs one model call (or more when
   the input exceeds ``max_memory``).
3. :func:`_strata_estimates` walks the chains, forms each pair's estimate and reduces them to
   the weighted mean over background rows and its standard error
   ``sqrt(sum_b w_b^2 var_b / n_pairs)`` without storing the pair estimates of more than one
   game at a time.

Why: on a small MLP (d = 10, 50 background rows, 6 permutations) the array version spent
~0.35 ms per explained row outside the model, a third of the total; see
``benchmarks/RESULTS.md`` (issue 25).
"""

from __future__ import annotations

import numba
import numpy as np

from assay.attribution.shapley import _sampling
from assay.attribution.shapley._sampling import COMPILED_CALL_BYTES, Game

__all__ = ["MAX_FEATURES", "walk_estimates_per_background"]

# bit codes are int64: one bit per feature
MAX_FEATURES = 62
EMPTY = -1  # a walk's coalition that holds only null players: the background row's own value


@numba.njit(cache=True, nogil=True)
def _order_of(keys: np.ndarray, order: np.ndarray) -> None:
    """``order`` = the stable argsort of ``keys`` (insertion sort: d is small)."""
    d = keys.shape[0]
    for j in range(d):
        order[j] = j
    for a in range(1, d):
        j = order[a]
        key = keys[j]
        c = a - 1
        while c >= 0 and keys[order[c]] > key:
            order[c + 1] = order[c]
            c -= 1
        order[c + 1] = j


@numba.njit(cache=True, nogil=True)
def _walk_items(
    keys: np.ndarray,
    differ: np.ndarray,
    n_pairs: int,
    dedupe: bool,
    orders: np.ndarray,
    src: np.ndarray,
    item_row: np.ndarray,
    item_bg: np.ndarray,
    item_code: np.ndarray,
) -> int:
    """Orders and model rows of every walk; returns the number of model rows.

    ``keys`` (r, B * P, d): the walks' random keys; ``differ`` (r, B, d): ``x_j != b_j``.
    Fills ``orders`` (r, B * P, d); ``src`` (r, B * P, 2, d - 1): the model row (index into
    ``item_*``) of each forward prefix of length ``L`` (``[.., 0, L - 1]``) and of its
    complement (``[.., 1, L - 1]``), or ``EMPTY``. Items ``0..r-1`` are the explained rows
    themselves (code: every feature).
    """
    r, _, d = keys.shape
    n_bg = differ.shape[1]
    every = (1 << d) - 1
    for t in range(r):
        item_row[t] = t
        item_bg[t] = 0
        item_code[t] = every
    n_items = r
    table_size = (1 << d) if dedupe else 1
    slot_item = np.empty(table_size, dtype=np.int64)
    slot_game = np.full(table_size, -1, dtype=np.int64)
    order = np.empty(d, dtype=np.int64)
    for t in range(r):
        for b in range(n_bg):
            game = t * n_bg + b
            full = 0  # the non-null features of this game
            for j in range(d):
                if differ[t, b, j]:
                    full |= 1 << j
            for p in range(n_pairs):
                w = b * n_pairs + p
                _order_of(keys[t, w], order)
                for j in range(d):
                    orders[t, w, j] = order[j]
                code = 0
                for length in range(1, d):
                    j = order[length - 1]
                    if differ[t, b, j]:
                        code |= 1 << j
                    for side in range(2):
                        c = code if side == 0 else full ^ code
                        if c == 0:
                            src[t, w, side, length - 1] = EMPTY
                        elif c == full:
                            src[t, w, side, length - 1] = t
                        elif dedupe and slot_game[c] == game:
                            src[t, w, side, length - 1] = slot_item[c]
                        else:
                            if dedupe:
                                slot_game[c] = game
                                slot_item[c] = n_items
                            item_row[n_items] = t
                            item_bg[n_items] = b
                            item_code[n_items] = c
                            src[t, w, side, length - 1] = n_items
                            n_items += 1
    return n_items


@numba.njit(cache=True, nogil=True)
def _fill_from_codes(
    X: np.ndarray,
    bg: np.ndarray,
    item_row: np.ndarray,
    item_bg: np.ndarray,
    item_code: np.ndarray,
    start: int,
    out: np.ndarray,
) -> None:
    """``out[i, j] = X[row, j]`` where bit j of item ``start + i``'s code is set, else the
    background row's value."""
    d = X.shape[1]
    for i in range(out.shape[0]):
        t = start + i
        x = item_row[t]
        b = item_bg[t]
        code = item_code[t]
        for j in range(d):
            out[i, j] = X[x, j] if (code >> j) & 1 else bg[b, j]


@numba.njit(cache=True, nogil=True)
def _strata_estimates(
    orders: np.ndarray,
    src: np.ndarray,
    values: np.ndarray,
    fb: np.ndarray,
    weights: np.ndarray,
    n_pairs: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean over background rows of each game's mean pair estimate, (r, d, k), and
    its standard error ``sqrt(sum_b w_b^2 var_b / n_pairs)`` (sample variance, ddof 1)."""
    r, _, d = orders.shape
    n_bg = fb.shape[0]
    k = values.shape[1]
    phi = np.zeros((r, d, k))
    var = np.zeros((r, d, k))
    pair = np.empty((n_pairs, d, k))
    prev = np.empty(k)
    for t in range(r):
        for b in range(n_bg):
            for p in range(n_pairs):
                w = b * n_pairs + p
                # forward walk: v(empty), v(prefix 1), ..., v(prefix d - 1), f(x)
                for kk in range(k):
                    prev[kk] = fb[b, kk]
                for length in range(1, d + 1):
                    j = orders[t, w, length - 1]
                    s = t if length == d else src[t, w, 0, length - 1]
                    for kk in range(k):
                        cur = fb[b, kk] if s == EMPTY else values[s, kk]
                        pair[p, j, kk] = cur - prev[kk]
                        prev[kk] = cur
                # reverse walk adds orders[d - 1], orders[d - 2], ...: its prefix of length
                # L is the complement of the forward prefix of length d - L
                for kk in range(k):
                    prev[kk] = fb[b, kk]
                for length in range(1, d + 1):
                    j = orders[t, w, d - length]
                    s = t if length == d else src[t, w, 1, d - length - 1]
                    for kk in range(k):
                        cur = fb[b, kk] if s == EMPTY else values[s, kk]
                        pair[p, j, kk] = 0.5 * (pair[p, j, kk] + (cur - prev[kk]))
                        prev[kk] = cur
            wb = weights[b]
            for j in range(d):
                for kk in range(k):
                    total = 0.0
                    for p in range(n_pairs):
                        total += pair[p, j, kk]
                    mean = total / n_pairs
                    ss = 0.0
                    for p in range(n_pairs):
                        dev = pair[p, j, kk] - mean
                        ss += dev * dev
                    phi[t, j, kk] += wb * mean
                    var[t, j, kk] += wb * wb * (ss / (n_pairs - 1)) / n_pairs
    return phi, np.sqrt(var)


def walk_estimates_per_background(
    game: Game, X: np.ndarray, fb: np.ndarray, keys: np.ndarray, n_pairs: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Values and standard errors (r, d, k) of ``n_pairs`` antithetic pairs per row and
    background row, the rows' model outputs ``f(x)`` (r, k) and the model rows each row's
    coalitions cost (r,).

    ``keys`` (r, B * n_pairs, d): each walk's random keys (walk ``b * n_pairs + p`` belongs to
    background row ``b``), as ``_pair_masks`` draws them; ``fb`` (B, k) = ``f(b)``.
    Requires ``2 <= d <= MAX_FEATURES`` and ``n_pairs >= 2``.
    """
    r, walks, d = keys.shape
    bg = game.background
    X = np.ascontiguousarray(X, dtype=np.float64)
    differ = X[:, None, :] != bg[None, :, :]
    orders = np.empty((r, walks, d), dtype=np.int64)
    src = np.empty((r, walks, 2, d - 1), dtype=np.int64)
    most = r + walks * r * 2 * (d - 1)
    item_row = np.empty(most, dtype=np.int64)
    item_bg = np.empty(most, dtype=np.int64)
    item_code = np.empty(most, dtype=np.int64)
    n_items = _walk_items(
        np.ascontiguousarray(keys, dtype=np.float64),
        differ,
        n_pairs,
        d <= _sampling.DISTINCT_MAX_FEATURES,  # read at call time (tests switch it off)
        orders,
        src,
        item_row,
        item_bg,
        item_code,
    )
    call_bytes = min(game.max_memory, COMPILED_CALL_BYTES) if game.compiled else game.max_memory
    per_call = int(max(1, min(n_items, call_bytes // (d * 8))))
    buffer = np.empty((per_call, d))
    values: np.ndarray | None = None
    for start in range(0, n_items, per_call):
        stop = min(n_items, start + per_call)
        batch = buffer[: stop - start]
        _fill_from_codes(X, bg, item_row, item_bg, item_code, start, batch)
        f = np.asarray(game.predict(batch), dtype=np.float64)
        if values is None:
            values = np.empty((n_items, f.shape[1]))
        values[start:stop] = f
    assert values is not None  # n_items >= r >= 1
    phi, se = _strata_estimates(
        orders, src, values, np.ascontiguousarray(fb, dtype=np.float64), game.weights, n_pairs
    )
    model_rows = np.bincount(item_row[r:n_items], minlength=r)
    return phi, se, values[:r].copy(), model_rows
