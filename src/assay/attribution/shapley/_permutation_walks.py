"""Compiled antithetic walks per background row (``PermutationShap(coalitions="per_background")``).

Every background row ``b`` has its own game ``v_b(S) = f(x_S, b_{-S})`` and its own pairs of
walks: a random order of the features, added one by one (forward), and the same order reversed,
whose prefixes are the complements of the forward ones. A round of walks runs as three compiled
passes over the batch, not as array operations over (rows, walks, positions, features):

1. :func:`_walk_items` ranks each walk's keys into an order and decides which model row each
   coalition needs. A feature whose value is the same in the row and the background row
   (``x_j == b_j``; common for binary, categorical and one-hot columns) does not change the
   model input: it is a null player of that game. A prefix that adds a null player reuses the
   previous prefix's model row, a coalition of null players only is the background row (its
   output ``f(b)`` is known) and one that lacks only null players is the explained row. Up to
   ``DISTINCT_MAX_FEATURES`` features coalitions are compared with their null players left
   out, so one that a game's walks revisit (or reach with other null players) is evaluated
   once; with ``tolerance``, a table kept across rounds (:class:`BackgroundWalks`) looks up
   what earlier rounds evaluated.
2. :func:`_fill_items` builds those model rows; the model is called on them (and, in the first
   round, on the explained rows) in as few calls as ``max_memory`` allows: one per batch
   usually.
3. :func:`_strata_moments` walks the chains and reduces each game's pair estimates
   (forward and reverse contributions averaged) to their mean and sum of squared deviations.

:class:`BackgroundWalks` merges the moments of successive rounds (Chan's pairwise update);
the value is ``sum_b w_b mean_b`` and its standard error ``sqrt(sum_b w_b^2 var_b / n)``.

Why compiled: on a small MLP (d = 10, 50 background rows, 6 permutations) the array version
spent ~0.35 ms per explained row outside the model, a third of its time (benchmarks/RESULTS.md,
issue 25).
"""

from __future__ import annotations

import numba
import numpy as np

from assay.attribution.shapley import _sampling
from assay.attribution.shapley._sampling import Game, predict_in_calls

__all__ = ["BackgroundWalks"]

EMPTY = -1  # the walk's coalition holds null players only: the background row's output
NO_DEDUPE, PER_CALL, ACROSS_ROUNDS = 0, 1, 2  # how revisited coalitions are found
# an item's side: 0 a forward prefix, 1 its complement, SIDE_EXPLAINED the explained row itself
SIDE_EXPLAINED = 2
# coalitions as int64 bit codes up to here (model rows built from them); the searches for
# revisits key on the codes, so _sampling's DISTINCT_MAX_FEATURES must not exceed it (tested)
CODE_MAX_FEATURES = 62


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
    rows: np.ndarray,
    n_pairs: int,
    dedupe: int,
    slots: np.ndarray,
    base: int,
    first_item: int,
    orders: np.ndarray,
    src: np.ndarray,
    items: np.ndarray,
    codes: np.ndarray,
    spent: np.ndarray,
) -> int:
    """Orders and model rows of one round of walks; returns the number of items.

    ``keys`` (ra, B * P, d): the walks' random keys (walk ``b * P + p`` belongs to background
    row ``b``) of the batch rows ``rows`` (ra,); ``differ`` (r, B, d): ``x_j != b_j`` for the
    whole batch. Fills ``orders`` (ra, B * P, d) and ``src`` (ra, B * P, 2, d - 1): the value
    index of each forward prefix of length ``L`` (``[.., 0, L - 1]``) and of its complement
    (``[.., 1, L - 1]``), or ``EMPTY``; the explained row ``rows[t]`` has value index
    ``rows[t]``. New model rows are written from position ``first_item`` of ``items`` (row,
    background row, walk, side, length) and ``codes``; item ``i`` gets value index
    ``base + i``. ``slots`` (ACROSS_ROUNDS): value index per (game, code), game
    ``row * B + b``, -1 where not evaluated yet. ``spent`` (ra,) counts each row's new model
    rows. Up to ``CODE_MAX_FEATURES`` features ``codes`` holds each item's coalition (bit j set
    where feature j takes the row's value).
    """
    ra, walks, d = keys.shape
    n_bg = differ.shape[1]
    coded = d <= CODE_MAX_FEATURES
    n = first_item
    table = (1 << d) if dedupe == PER_CALL else 1
    stamp_item = np.empty(table, dtype=np.int64)
    stamp_game = np.full(table, -1, dtype=np.int64)
    order = np.empty(d, dtype=np.int64)
    for t in range(ra):
        row = rows[t]
        for b in range(n_bg):
            game = row * n_bg + b
            live = 0  # non-null players of this game, and their code
            full = 0
            for j in range(d):
                if differ[row, b, j]:
                    live += 1
                    if coded:
                        full |= 1 << j
            for p in range(n_pairs):
                w = b * n_pairs + p
                _order_of(keys[t, w], order)
                for j in range(d):
                    orders[t, w, j] = order[j]
                count = 0  # non-null players in the forward prefix
                code = 0
                for length in range(1, d):
                    j = order[length - 1]
                    if not differ[row, b, j] and length > 1:
                        # a null player joins: the same model input as the previous prefix
                        # (and the complement loses only a null player)
                        src[t, w, 0, length - 1] = src[t, w, 0, length - 2]
                        src[t, w, 1, length - 1] = src[t, w, 1, length - 2]
                        continue
                    if differ[row, b, j]:
                        count += 1
                        if coded:
                            code |= 1 << j
                    for side in range(2):
                        c_count = count if side == 0 else live - count
                        c = code if side == 0 else full ^ code
                        if c_count == 0:
                            src[t, w, side, length - 1] = EMPTY
                            continue
                        if c_count == live:
                            src[t, w, side, length - 1] = row
                            continue
                        if dedupe == PER_CALL:
                            if stamp_game[c] == game:
                                src[t, w, side, length - 1] = stamp_item[c]
                                continue
                            stamp_game[c] = game
                            stamp_item[c] = base + n
                        elif dedupe == ACROSS_ROUNDS:
                            s = (game << d) | c
                            if slots[s] >= 0:
                                src[t, w, side, length - 1] = slots[s]
                                continue
                            slots[s] = base + n
                        items[n, 0] = row
                        items[n, 1] = b
                        items[n, 2] = t * walks + w
                        items[n, 3] = side
                        items[n, 4] = length
                        codes[n] = c
                        src[t, w, side, length - 1] = base + n
                        n += 1
                        spent[t] += 1
    return n


@numba.njit(cache=True, nogil=True)
def _fill_items(
    X: np.ndarray,
    bg: np.ndarray,
    orders: np.ndarray,
    items: np.ndarray,
    codes: np.ndarray,
    start: int,
    out: np.ndarray,
) -> None:
    """Model rows of items ``start .. start + len(out)``: the background row with the
    coalition's features (a forward prefix or its complement) taken from the explained row."""
    d = X.shape[1]
    for i in range(out.shape[0]):
        row, b, walk, side, length = items[start + i]
        if side == SIDE_EXPLAINED:
            for j in range(d):
                out[i, j] = X[row, j]
            continue
        if d <= CODE_MAX_FEATURES:
            code = codes[start + i]
            for j in range(d):
                out[i, j] = X[row, j] if (code >> j) & 1 else bg[b, j]
            continue
        for j in range(d):
            out[i, j] = bg[b, j]
        lo, hi = (0, length) if side == 0 else (length, d)
        for q in range(lo, hi):
            j = orders[walk, q]
            out[i, j] = X[row, j]


@numba.njit(cache=True, nogil=True)
def _strata_moments(
    orders: np.ndarray,
    src: np.ndarray,
    rows: np.ndarray,
    values: np.ndarray,
    fb: np.ndarray,
    n_pairs: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sum of squared deviations of each game's pair estimates, (ra, B, d, k) each."""
    ra, _, d = orders.shape
    n_bg = fb.shape[0]
    k = values.shape[1]
    mean = np.empty((ra, n_bg, d, k))
    m2 = np.empty((ra, n_bg, d, k))
    pair = np.empty((n_pairs, d, k))
    prev = np.empty(k)
    for t in range(ra):
        full = rows[t]
        for b in range(n_bg):
            for p in range(n_pairs):
                w = b * n_pairs + p
                # forward walk: v(empty), v(prefix 1), ..., v(prefix d - 1), f(x)
                for kk in range(k):
                    prev[kk] = fb[b, kk]
                for length in range(1, d + 1):
                    j = orders[t, w, length - 1]
                    s = full if length == d else src[t, w, 0, length - 1]
                    for kk in range(k):
                        cur = fb[b, kk] if s == EMPTY else values[s, kk]
                        pair[p, j, kk] = cur - prev[kk]
                        prev[kk] = cur
                # the reverse walk adds orders[d - 1], orders[d - 2], ...: its prefix of
                # length L is the complement of the forward prefix of length d - L
                for kk in range(k):
                    prev[kk] = fb[b, kk]
                for length in range(1, d + 1):
                    j = orders[t, w, d - length]
                    s = full if length == d else src[t, w, 1, d - length - 1]
                    for kk in range(k):
                        cur = fb[b, kk] if s == EMPTY else values[s, kk]
                        pair[p, j, kk] = 0.5 * (pair[p, j, kk] + (cur - prev[kk]))
                        prev[kk] = cur
            for j in range(d):
                for kk in range(k):
                    total = 0.0
                    for p in range(n_pairs):
                        total += pair[p, j, kk]
                    mu = total / n_pairs
                    ss = 0.0
                    for p in range(n_pairs):
                        dev = pair[p, j, kk] - mu
                        ss += dev * dev
                    mean[t, b, j, kk] = mu
                    m2[t, b, j, kk] = ss
    return mean, m2


@numba.njit(cache=True, nogil=True)
def _weighted_strata(
    mean: np.ndarray, m2: np.ndarray, count: np.ndarray, rows: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``sum_b w_b mean_b`` and ``sqrt(sum_b w_b^2 m2_b / ((n - 1) n))`` of rows ``rows``."""
    _, n_bg, d, k = mean.shape
    phi = np.zeros((rows.shape[0], d, k))
    var = np.zeros((rows.shape[0], d, k))
    for t in range(rows.shape[0]):
        row = rows[t]
        scale = 1.0 / ((count[row] - 1) * count[row])
        for b in range(n_bg):
            for j in range(d):
                for kk in range(k):
                    phi[t, j, kk] += w[b] * mean[row, b, j, kk]
                    var[t, j, kk] += w[b] * w[b] * m2[row, b, j, kk] * scale
    return phi, np.sqrt(var)


@numba.njit(cache=True, nogil=True)
def _insert(slots: np.ndarray, d: int, n_bg: int, items: np.ndarray, codes: np.ndarray, base: int):
    """Enter items (value index ``base + i``) into a table kept across rounds."""
    for i in range(items.shape[0]):
        s = ((items[i, 0] * n_bg + items[i, 1]) << d) | codes[i]
        if slots[s] < 0:
            slots[s] = base + i


class BackgroundWalks:
    """The walks of one batch of rows over one or more rounds (``tolerance``).

    ``draw(rows, n_pairs)`` walks ``n_pairs`` more pairs per background row for the batch
    rows ``rows`` (keys from ``rngs[row]``, as many as ``_pair_masks`` draws) and merges them
    into each game's moments; ``read(rows)`` gives the estimate. ``keep_table``: from the
    second round, a table of ``2^d`` value indices per game (given the first round's model
    rows) finds coalitions drawn again. ``fx`` (r, k): the explained rows' outputs, evaluated
    with the first round's model rows.
    """

    def __init__(
        self, game: Game, X: np.ndarray, fb: np.ndarray, rngs: list, *, keep_table: bool
    ) -> None:
        self.game = game
        self.rngs = rngs
        self.X = np.ascontiguousarray(X, dtype=np.float64)
        self.fb = np.ascontiguousarray(fb, dtype=np.float64)
        self.r, self.d = self.X.shape
        self.n_background = game.n_background
        self.differ = self.X[:, None, :] != game.background[None, :, :]
        self.keep_table = keep_table  # the caller checked CoalitionStore.fits
        self.slots: np.ndarray | None = None
        self.first_round: tuple | None = None
        self._values: np.ndarray | None = None  # grown by doubling; rows 0..r-1 are f(x)
        self.size = 0
        k = self.fb.shape[1]
        shape = (self.r, self.n_background, self.d, k)
        self.count = np.zeros(self.r, dtype=np.int64)
        self.mean, self.m2 = np.zeros(shape), np.zeros(shape)

    @property
    def fx(self) -> np.ndarray:
        """The explained rows' outputs (r, k), evaluated with the first round's model rows."""
        if self._values is None:
            msg = "BackgroundWalks.fx is known after the first draw."
            raise RuntimeError(msg)
        return self._values[: self.r]

    def draw(self, rows: np.ndarray, n_pairs: int) -> np.ndarray:
        """Walk ``n_pairs`` pairs per background row for ``rows``; returns the model rows each
        of them cost (len(rows),)."""
        d, first = self.d, self._values is None
        walks = self.n_background * n_pairs
        keys = np.empty((len(rows), walks, d))
        for t, row in enumerate(rows):
            keys[t] = self.rngs[row].random((walks, d))
        dedupe = NO_DEDUPE if d > _sampling.DISTINCT_MAX_FEATURES else PER_CALL
        if not first and self.keep_table:
            if self.slots is None:
                self.slots = np.full((self.r * self.n_background) << d, -1, dtype=np.int64)
                self._insert_first_round()
            dedupe = ACROSS_ROUNDS
        ra = len(rows)
        head = self.r if first else 0  # the first round also evaluates the explained rows
        most = head + ra * walks * 2 * (d - 1)
        items = np.empty((most, 5), dtype=np.int64)
        items[:head, 0] = np.arange(head)
        items[:head, 1:] = 0
        items[:head, 3] = SIDE_EXPLAINED
        codes = np.empty(most, dtype=np.int64)
        orders = np.empty((ra, walks, d), dtype=np.int64)
        src = np.empty((ra, walks, 2, d - 1), dtype=np.int64)
        spent = np.zeros(ra, dtype=np.int64)
        n_items = _walk_items(
            keys,
            self.differ,
            np.ascontiguousarray(rows, dtype=np.int64),
            n_pairs,
            dedupe,
            self.slots if dedupe == ACROSS_ROUNDS else np.empty(1, dtype=np.int64),
            self.size,
            head,
            orders,
            src,
            items,
            codes,
            spent,
        )
        base = self.size
        self._add(self._evaluate(orders.reshape(-1, d), items[:n_items], codes[:n_items]))
        if first and self.keep_table:
            self.first_round = (items[head:n_items], codes[head:n_items], base + head)
        mean, m2 = _strata_moments(orders, src, rows, self._values, self.fb, n_pairs)
        self._merge(rows, n_pairs, mean, m2)
        return spent

    def read(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``sum_b w_b mean_b`` and ``sqrt(sum_b w_b^2 var_b / n)``, (len(rows), d, k)."""
        return _weighted_strata(self.mean, self.m2, self.count, rows, self.game.weights)

    def _insert_first_round(self) -> None:
        """Give the table made at the second round the first round's model rows."""
        if self.first_round is not None and self.slots is not None:
            items, codes, base = self.first_round
            _insert(self.slots, self.d, self.n_background, items, codes, base)
        self.first_round = None

    def _merge(self, rows: np.ndarray, n_new: int, mean: np.ndarray, m2: np.ndarray) -> None:
        """Chan et al.'s pairwise update of each game's moments with a new round's."""
        if not self.count[rows].any():  # the first round (the update's n_old = 0 case, faster)
            self.mean[rows], self.m2[rows] = mean, m2
            self.count[rows] = n_new
            return
        n_old = self.count[rows][:, None, None, None]
        total = n_old + n_new
        delta = mean - self.mean[rows]
        self.mean[rows] += delta * (n_new / total)
        self.m2[rows] += m2 + delta**2 * (n_old * n_new / total)
        self.count[rows] += n_new

    def _evaluate(self, orders: np.ndarray, items: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """Model outputs of the items' rows (in calls of at most ``max_memory`` bytes)."""

        def fill(start: int, out: np.ndarray) -> None:
            _fill_items(self.X, self.game.background, orders, items, codes, start, out)

        return predict_in_calls(self.game, items.shape[0], self.d, fill)

    def _add(self, values: np.ndarray) -> None:
        if values.shape[0] == 0:  # a round that found every coalition evaluated already
            return
        need = self.size + values.shape[0]
        if self._values is None or need > self._values.shape[0]:
            grown = np.empty((max(need, 2 * self.size), values.shape[1]))
            if self._values is not None:
                grown[: self.size] = self._values[: self.size]
            self._values = grown
        self._values[self.size : need] = values
        self.size = need
