"""Shared machinery of the sampling Shapley estimators: masked model evaluation in large batches.

The interventional game of a row ``x`` is ``v(S) = sum_b w_b f(x_S, b_{-S})`` over background
rows ``b`` with weights ``w_b``. :func:`coalition_values` evaluates it for many (row, coalition)
pairs at once: every pair expands to ``n_background`` model inputs, all pairs of a batch go to
the model in as few calls as ``max_memory`` allows, the inputs are built by a compiled copy
kernel into one reused buffer, and the background average is a compiled sum in a fixed order.
A pair's value therefore does not depend on which other pairs shared its model call (as long as
the model itself predicts row by row).

Small-tree ensembles (random forests on small data, HistGradientBoosting with its default 31
leaves) are evaluated by assay's compiled copy of the trees instead of the library
(``fast_trees``, :mod:`assay.model._fast_predict`), once it has matched the model on probe rows
that look like the masked inputs (explained rows, background rows and mixtures of both). Its
outputs equal the model's (the probe check allows 1e-9; in practice they are bit-identical), so
a seed gives the same values either way; it only removes the library's per-call cost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from assay.attribution._background import resolve_background, warn_large_background
from assay.attribution._base import DEFAULT_MAX_MEMORY, BaseExplainer
from assay.errors import InvalidInputError
from assay.parallel import check_executor, row_chunks, run_batches

__all__ = [
    "CoalitionStore",
    "Game",
    "SamplingExplainer",
    "base_value",
    "coalition_values",
    "distinct_items",
    "evaluate_once",
    "predict_in_calls",
    "probe_rows",
    "random_subsets",
    "rows_per_chunk",
    "weighted_background_mean",
]


# Model input built per call for the compiled trees: they have no per-call cost, and a buffer
# this small stays in cache between being filled and being read.
COMPILED_CALL_BYTES = 2 * 2**20


@dataclass(frozen=True)
class Game:
    """What a worker needs to evaluate coalitions: the model, the background and its weights.

    ``predict`` is the adapter's ``predict`` or its compiled stand-in (``compiled`` True).
    """

    predict: Callable[[np.ndarray], np.ndarray]
    background: np.ndarray
    weights: np.ndarray
    max_memory: int
    compiled: bool = False

    @property
    def n_background(self) -> int:
        return int(self.background.shape[0])


def rows_per_chunk(
    n_rows: int, n_coalitions: int, n_background: int, n_features: int, max_memory: int
) -> int:
    """Rows per batch: as many as fit in ``max_memory`` bytes of model input, at most n/16.

    The cap of ``ceil(n / 16)`` gives a cluster enough batches to spread; it depends only on
    the data and options, so local and distributed runs use the same batches.
    """
    per_row = max(1, n_coalitions) * n_background * n_features * 8
    by_memory = max(1, max_memory // per_row)
    spread = max(1, -(-n_rows // 16))
    return int(max(1, min(by_memory, spread, n_rows)))


def coalition_values(
    game: Game, X: np.ndarray, masks: np.ndarray, row_of: np.ndarray
) -> np.ndarray:
    """Values ``v(S)`` of many (row, coalition) pairs.

    Parameters
    ----------
    game : Game
    X : ndarray (r, d)
        The rows.
    masks : ndarray of bool (n_items, d)
        Coalition of each item (True = the feature takes the row's value).
    row_of : ndarray of int (n_items,)
        Row of ``X`` each item belongs to.

    Returns
    -------
    ndarray (n_items, n_outputs)
    """
    n_items, d = masks.shape
    m = game.n_background
    call_bytes = min(game.max_memory, COMPILED_CALL_BYTES) if game.compiled else game.max_memory
    items_per_call = int(max(1, min(n_items, call_bytes // (m * d * 8))))
    buffer = np.empty((items_per_call, m, d))
    X = np.ascontiguousarray(X, dtype=np.float64)
    masks = np.ascontiguousarray(masks, dtype=np.bool_)
    row_of = np.ascontiguousarray(row_of, dtype=np.int64)
    out: np.ndarray | None = None
    for start in range(0, n_items, items_per_call):
        stop = min(n_items, start + items_per_call)
        batch = buffer[: stop - start]
        _fill_masked(X, game.background, masks[start:stop], row_of[start:stop], batch)
        f = game.predict(batch.reshape(-1, d))
        if out is None:
            out = np.empty((n_items, f.shape[1]))
        out[start:stop] = weighted_background_mean(np.ascontiguousarray(f), game.weights, m)
    if out is None:  # no items: the model was never called
        return np.empty((0, 0))
    return out


def predict_in_calls(
    game: Game, n_rows: int, d: int, fill: Callable[[int, np.ndarray], None]
) -> np.ndarray:
    """Model outputs (n_rows, k) of ``n_rows`` model rows that ``fill(start, out)`` writes into
    ``out`` (rows ``start .. start + len(out)``), built into one reused buffer and predicted in
    calls of at most ``max_memory`` bytes (``COMPILED_CALL_BYTES`` for compiled trees)."""
    call_bytes = min(game.max_memory, COMPILED_CALL_BYTES) if game.compiled else game.max_memory
    per_call = int(max(1, min(n_rows, call_bytes // (d * 8))))
    buffer = np.empty((per_call, d))
    out: np.ndarray | None = None
    for start in range(0, n_rows, per_call):
        stop = min(n_rows, start + per_call)
        batch = buffer[: stop - start]
        fill(start, batch)
        f = np.asarray(game.predict(batch), dtype=np.float64).reshape(stop - start, -1)
        if out is None:
            out = np.empty((n_rows, f.shape[1]))
        out[start:stop] = f
    if out is None:  # no rows: the model was never called
        return np.empty((0, 0))
    return out


# distinct_items: revisits are searched up to this many features (beyond, they are rare: the
# smallest sizes have C(d, 1) = d coalitions and more), in lookup tables of about this many
# entries (512 KiB, in cache: a larger table made the search cost more than it saved)
DISTINCT_MAX_FEATURES = 16
DISTINCT_TABLE_ENTRIES = 1 << 16
# CoalitionStore (across rounds): 2^d slots per game; at d = 14 filling the table cost more than
# the 1-13% of revisits it found (benchmarks/bench_revisits.py)
STORE_MAX_FEATURES = 12


@numba.njit(cache=True, nogil=True, inline="always")
def _mask_code(masks: np.ndarray, t: int) -> int:
    """Bit code of coalition ``masks[t]`` (bit j set where feature j takes the row's value)."""
    code = 0
    for j in range(masks.shape[1]):
        if masks[t, j]:
            code |= 1 << j
    return code


@numba.njit(cache=True, nogil=True)
def _distinct_pass(
    group: np.ndarray, masks: np.ndarray, window: int, first: np.ndarray, inverse: np.ndarray
) -> int:
    """One pass of :func:`distinct_items`; returns the number of distinct items. The table's
    slots are stamped with the window of games that wrote them, so it is never cleared."""
    n, d = masks.shape
    size = window << d
    slot_item = np.empty(size, dtype=np.int64)
    slot_window = np.full(size, -1, dtype=np.int64)
    found = 0
    for t in range(n):
        code = _mask_code(masks, t)
        w = group[t] // window
        slot = ((group[t] - w * window) << d) | code
        if slot_window[slot] == w:
            inverse[t] = slot_item[slot]
        else:
            slot_window[slot] = w
            slot_item[slot] = found
            first[found] = t
            inverse[t] = found
            found += 1
    return found


def distinct_items(
    group: np.ndarray, masks: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (game, coalition) items of a list, so each is evaluated once.

    Sampled walks and draws revisit coalitions when there are few of a size (at d = 10 a
    permutation pair visits 2 of the 10 one-feature coalitions; 16 pairs revisit about a
    quarter of their coalitions). ``group`` (n,) numbers the game of each item (a row, or a row
    and background row) in ``[0, n_groups)``, ``masks`` (n, d) its coalition. Returns
    ``first`` (indices of each distinct item's first occurrence, in order) and ``inverse``
    (n,), with ``values[first][inverse]`` the values of every item.

    One compiled pass through a table of ``2^d`` slots per game for a window of consecutive
    games (about ``DISTINCT_TABLE_ENTRIES`` slots, in cache). Games given in order (as the
    explainers give them) are fully de-duplicated; in another order some repeats may be kept
    (never a wrong value). Beyond ``DISTINCT_MAX_FEATURES`` features, where revisits are rare,
    every item is kept.

    >>> masks = np.array([[1, 0], [0, 1], [1, 0]], dtype=bool)
    >>> first, inverse = distinct_items(np.zeros(3, dtype=np.int64), masks, 1)
    >>> first.tolist(), inverse.tolist()
    ([0, 1], [0, 1, 0])
    """
    n, d = masks.shape
    if n == 0 or d > DISTINCT_MAX_FEATURES:
        every = np.arange(n, dtype=np.int64)
        return every, every
    window = max(1, min(n_groups, DISTINCT_TABLE_ENTRIES >> d))  # games per table
    first = np.empty(n, dtype=np.int64)
    inverse = np.empty(n, dtype=np.int64)
    found = _distinct_pass(
        np.ascontiguousarray(group, dtype=np.int64),
        np.ascontiguousarray(masks, dtype=np.bool_),
        window,
        first,
        inverse,
    )
    return first[:found], inverse


@numba.njit(cache=True, nogil=True)
def _store_pass(
    group: np.ndarray,
    masks: np.ndarray,
    slots: np.ndarray,
    size: int,
    new: np.ndarray,
    slot_of: np.ndarray,
) -> int:
    """One pass of :meth:`CoalitionStore.lookup`; returns the number of items not yet stored."""
    n, d = masks.shape
    found = 0
    for t in range(n):
        code = _mask_code(masks, t)
        s = (group[t] << d) | code
        if slots[s] < 0:
            slots[s] = size + found
            new[found] = t
            found += 1
        slot_of[t] = slots[s]
    return found


class CoalitionStore:
    """Model values of one batch's (game, coalition) items over several rounds (``tolerance``):
    a coalition a later round draws again is not evaluated again.

    A table of ``2^d`` slots per game (``n_games`` games: rows, or rows x background rows);
    :meth:`fits` keeps it no larger than the model input of the coalitions the batch was
    sized for (``rows_per_chunk``), so it stays within about ``max_memory``.
    """

    def __init__(self, n_games: int, d: int) -> None:
        self.slots = np.full(n_games << d, -1, dtype=np.int64)
        self._values: np.ndarray | None = None  # grown by doubling
        self.size = 0

    @staticmethod
    def fits(d: int, model_rows_per_game: int) -> bool:
        """Whether a game's ``2^d`` slots (8 bytes each) cost at most the model input of the
        ``model_rows_per_game`` rows its batch was sized for (``d`` values of 8 bytes each),
        up to ``STORE_MAX_FEATURES``: filling a larger table cost more than the few revisits
        it finds."""
        return d <= STORE_MAX_FEATURES and 2**d <= model_rows_per_game * d

    @property
    def values(self) -> np.ndarray | None:
        return None if self._values is None else self._values[: self.size]

    def lookup(self, group: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``new``: the items whose coalition is not stored yet (first occurrences, to be
        evaluated in this order and passed to :meth:`add`); ``slot_of``: every item's row of
        ``values`` once they are added."""
        n = masks.shape[0]
        new = np.empty(n, dtype=np.int64)
        slot_of = np.empty(n, dtype=np.int64)
        found = _store_pass(
            np.ascontiguousarray(group, dtype=np.int64),
            np.ascontiguousarray(masks, dtype=np.bool_),
            self.slots,
            self.size,
            new,
            slot_of,
        )
        return new[:found], slot_of

    def insert(self, group: np.ndarray, masks: np.ndarray, values: np.ndarray) -> None:
        """Store items already evaluated (``values`` (n, k)), e.g. an earlier round's."""
        new, _ = self.lookup(group, masks)
        if new.size:
            self.add(values[new])

    def add(self, values: np.ndarray) -> None:
        need = self.size + values.shape[0]
        if self._values is None or need > self._values.shape[0]:
            grown = np.empty((max(need, 2 * self.size), *values.shape[1:]), dtype=values.dtype)
            if self._values is not None:
                grown[: self.size] = self._values[: self.size]
            self._values = grown
        self._values[self.size : need] = values
        self.size = need


def evaluate_once(
    group: np.ndarray,
    masks: np.ndarray,
    n_groups: int,
    evaluate: Callable[[np.ndarray], np.ndarray],
    store: CoalitionStore | None = None,
    memo: list | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Values (n, k) of (game ``group``, coalition ``masks``) items, each distinct one evaluated
    once: within this call (:func:`distinct_items`) or, with a ``store``, across calls.
    ``evaluate(indices)`` returns the values of those items. Also returns the indices of the
    items evaluated now. Without a store, ``memo`` (a list) receives the distinct items
    ``(group, masks, values)``, to :meth:`CoalitionStore.insert` should a store be made later."""
    if store is None:
        first, inverse = distinct_items(group, masks, n_groups)
        values = evaluate(first)
        if memo is not None:
            memo.append((group[first], masks[first], values))
        return values[inverse], first
    new, slot_of = store.lookup(group, masks)
    if new.size:
        store.add(evaluate(new))
    if store.values is None:  # no items yet
        return np.empty((masks.shape[0], 0)), new
    return store.values[slot_of], new


def probe_rows(X: np.ndarray, bg: np.ndarray, n: int = 128) -> np.ndarray:
    """Rows like the ones :func:`coalition_values` builds, to check a compiled model against:
    up to ``n`` explained rows, ``n`` background rows and ``2 n`` random mixtures of the two
    (fixed seed, so the check is deterministic)."""
    rng = np.random.default_rng(0)
    mix = np.where(
        rng.random((2 * n, X.shape[1])) < 0.5,
        X[rng.integers(0, X.shape[0], 2 * n)],
        bg[rng.integers(0, bg.shape[0], 2 * n)],
    )
    return np.vstack([X[:n], bg[:n], mix])


@numba.njit(cache=True, nogil=True)
def _fill_masked(
    x: np.ndarray, bg: np.ndarray, masks: np.ndarray, rows: np.ndarray, out: np.ndarray
) -> None:
    """``out[t, b, j] = x[rows[t], j] if masks[t, j] else bg[b, j]`` (a copy, no arithmetic)."""
    n_items, d = masks.shape
    m = bg.shape[0]
    for t in range(n_items):
        i = rows[t]
        for b in range(m):
            for j in range(d):
                out[t, b, j] = x[i, j] if masks[t, j] else bg[b, j]


@numba.njit(cache=True, nogil=True)
def weighted_background_mean(f: np.ndarray, w: np.ndarray, m: int) -> np.ndarray:
    """Rows of ``f`` come in consecutive groups of ``m`` (one per background row); returns
    ``sum_b w[b] * f[g * m + b]`` per group, summed in background order (so a value does not
    depend on how rows were batched)."""
    n_groups = f.shape[0] // m
    k = f.shape[1]
    out = np.empty((n_groups, k))
    for g in range(n_groups):
        for kk in range(k):
            acc = 0.0
            for b in range(m):
                acc += w[b] * f[g * m + b, kk]
            out[g, kk] = acc
    return out


def random_subsets(rng: np.random.Generator, sizes: np.ndarray, d: int) -> np.ndarray:
    """One uniformly random subset of each given size, as a bool array (len(sizes), d)."""
    keys = rng.random((sizes.shape[0], d))
    if sizes.size == 0:
        return np.zeros((0, d), dtype=bool)
    # the ``s`` smallest keys of each row (one sort; distinct keys, so the same subsets as
    # ranking the keys would give)
    kth = np.sort(keys, axis=1)[np.arange(sizes.shape[0]), np.maximum(sizes, 1) - 1]
    return (keys <= kth[:, None]) & (sizes[:, None] > 0)


class SamplingExplainer(BaseExplainer):
    """Common constructor of the sampling explainers: weighted background, executor options and
    the model evaluator (``fast_trees``)."""

    def __init__(
        self,
        model: Any,
        *,
        background: Any = None,
        background_weights: Any = None,
        output_space: str | None = None,
        n_jobs: int | None = None,
        client: Any = None,
        max_memory: int = DEFAULT_MAX_MEMORY,
        fast_trees: bool = True,
        progress: bool = False,
    ) -> None:
        if not isinstance(fast_trees, bool | np.bool_):
            msg = f"fast_trees must be True or False; got {fast_trees!r}."
            raise InvalidInputError(msg)
        background, background_weights = resolve_background(background, background_weights)
        super().__init__(
            model,
            background=background,
            output_space=output_space,
            max_memory=max_memory,
            progress=progress,
        )
        self._set_background_weights(background_weights)
        if self.background is not None:
            warn_large_background(self.background.shape[0], explainer=type(self).__name__)
        self.n_jobs, self.client = check_executor(n_jobs, client)
        self.fast_trees = bool(fast_trees)

    def _game(self, X: np.ndarray, seed: int | None) -> tuple[Game, str]:
        bg, note = self._background_for(X, seed)
        bg = np.ascontiguousarray(bg)
        predict, evaluation = self._model_evaluator(probe_rows(X, bg), fast_trees=self.fast_trees)
        game = Game(
            predict, bg, self._weights_for(bg), self.max_memory, evaluation == "compiled trees"
        )
        return game, note

    def _map_rows(
        self, fn: Any, X: np.ndarray, chunk: int, shared: Any, desc: str, keys: tuple[str, ...]
    ) -> dict[str, np.ndarray]:
        """Run ``fn(shared, (idx, X[idx]))`` on batches of ``chunk`` rows (locally, on worker
        processes or on the cluster) and concatenate the results' ``keys`` over the rows."""
        batches = [(idx + self._row_offset, X[idx]) for idx in row_chunks(X.shape[0], chunk)]
        results = run_batches(
            fn,
            batches,
            shared=shared,
            n_jobs=self.n_jobs,
            client=self.client,
            progress=self.progress,
            desc=desc,
        )
        return {key: np.concatenate([res[key] for res in results]) for key in keys}

    def _background_params(self, game: Game, note: str) -> dict[str, Any]:
        return {
            "background": note,
            "n_background": game.n_background,
            "weighted_background": self.background_weights is not None,
            "n_jobs": self.n_jobs,
            "distributed": self.client is not None,
            "max_memory": self.max_memory,
            "model_evaluation": "compiled trees" if game.compiled else "model",
        }


def base_value(game: Game) -> np.ndarray:
    """``E_w f(b)``: the value of the empty coalition, shape (n_outputs,)."""
    f = game.predict(game.background)
    return weighted_background_mean(np.ascontiguousarray(f), game.weights, game.n_background)[0]
