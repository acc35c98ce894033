"""The steps both modes of ``find_slices`` share (error slices and fairness slices).

Both pipelines split the rows into a discovery and a confirmation part (:func:`split_rows`),
size the minimum support on the discovery part (:func:`min_support_rows`), search, test on the
confirmation part, and drop nested slices that add nothing (:func:`remove_redundant`). The
mode modules (``_find`` and ``_fairness``) import from here and never from each other.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from assay._validation import as_vector
from assay.errors import InvalidInputError
from assay.slices._binning import Binned
from assay.slices._result import Slice

__all__ = ["binary_01", "describe", "min_support_rows", "remove_redundant", "split_rows"]


def split_rows(
    n: int, strata: np.ndarray, fraction: float, seed: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split, stratified by ``strata`` (each stratum split in the same proportion)."""
    rng = np.random.default_rng(seed)
    disc = np.zeros(n, dtype=bool)
    for value in np.unique(strata):
        idx = np.flatnonzero(strata == value)
        idx = idx[rng.permutation(idx.size)]
        disc[idx[: round(fraction * idx.size)]] = True
    return np.flatnonzero(disc), np.flatnonzero(~disc)


def binary_01(v: Any, *, name: str, n: int) -> np.ndarray:
    arr = as_vector(v, name=name, n_rows=n, numeric=False)
    try:
        arr = arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        msg = f"{name} must hold 0/1 labels in fairness mode; got dtype {arr.dtype}."
        raise InvalidInputError(msg) from exc
    if not np.isin(arr, (0.0, 1.0)).all():
        msg = (
            f"{name} must hold 0/1 labels in fairness mode; got values "
            f"{np.unique(arr)[:10].tolist()}. Threshold probabilities first."
        )
        raise InvalidInputError(msg)
    return arr


def min_support_rows(min_support: Any, n_disc: int) -> int:
    if isinstance(min_support, bool) or not isinstance(min_support, numbers.Real):
        msg = f"min_support must be a count or a share below 1; got {min_support!r}."
        raise InvalidInputError(msg)
    if not math.isfinite(min_support) or min_support <= 0:
        msg = f"min_support must be positive; got {min_support!r}. Use e.g. 0.01 (1% of rows)."
        raise InvalidInputError(msg)
    if min_support < 1:
        return max(10, math.ceil(min_support * n_disc))
    if min_support > n_disc:
        msg = (
            f"min_support={min_support!r} rows is more than the {n_disc} rows a slice can be "
            "found on; pass a count below that or a share below 1 (e.g. 0.01)."
        )
        raise InvalidInputError(msg)
    return max(10, math.ceil(min_support))


def describe(binned: Binned, items: tuple[int, ...]) -> str:
    return " AND ".join(binned.labels[i] for i in items) if items else "all rows"


def remove_redundant(
    slices: list[Slice],
    worse_p: Callable[[np.ndarray, np.ndarray, Slice], float],
    *,
    alpha: float,
    drop: bool,
    order: Callable[[Slice], Any] | None = None,
) -> tuple[list[Slice], list[Slice]]:
    """Remove nested confirmed slices that add nothing over a better one.

    For a nested pair (``inner`` rows a subset of ``outer`` rows), on the confirmation rows:

    * if ``inner`` does not do significantly worse than the rest of ``outer`` (one-sided test
      at ``alpha``), the extra predicate of ``inner`` separates nothing: ``inner`` is
      redundant (``contained_in`` names ``outer``), whichever of the two has the smaller
      p-value (the larger slice has more power, not more truth);
    * otherwise, if the rest of ``outer`` does not do significantly worse than the rows
      outside ``outer``, ``outer`` is only bad because it contains ``inner``: ``outer`` is
      redundant (``details["explained_by"]``).

    Slices are visited best (smallest p-value) first; a visited slice may displace a kept one.
    Kept slices are annotated with their smallest kept container and returned sorted by
    ``order`` (default: smallest p-value first).
    ``worse_p(inside, reference, c)`` returns the p-value that rows ``inside`` do worse than
    rows ``reference`` (``c`` is the slice whose rows are ``inside``).
    """
    key = lambda s: (s.p_value, -s.discovery_score, s.level)  # noqa: E731
    kept: list[Slice] = []
    redundant: list[Slice] = []

    def verdict(inner: Slice, outer: Slice) -> tuple[str, Slice] | None:
        """Which of a nested pair is redundant, and its annotated copy (None: neither)."""
        rest = outer.rows & ~inner.rows
        if inner.support == outer.support or worse_p(inner.rows, rest, inner) > alpha:
            return "inner", dataclasses.replace(inner, contained_in=outer.description)
        if worse_p(rest, ~outer.rows, outer) > alpha:
            details = {**outer.details, "explained_by": inner.description}
            return "outer", dataclasses.replace(outer, details=details)
        return None

    for c in sorted(slices, key=key):
        dropped = None
        for i, s in enumerate(kept):
            if not np.any(c.rows & ~s.rows):  # c inside s
                v = verdict(c, s)
                loser = None if v is None else ("c" if v[0] == "inner" else "s")
            elif not np.any(s.rows & ~c.rows):  # s inside c
                v = verdict(s, c)
                loser = None if v is None else ("s" if v[0] == "inner" else "c")
            else:
                continue
            if v is None or not drop:
                continue
            if loser == "c":
                dropped = v[1]
                break
            kept[i] = None  # type: ignore[call-overload]  # displaced by c
            redundant.append(v[1])
        kept = [s for s in kept if s is not None]
        if dropped is not None:
            redundant.append(dropped)
        else:
            kept.append(c)
    kept.sort(key=order or key)
    out = []
    for c in kept:
        containers = [s for s in kept if s is not c and not np.any(c.rows & ~s.rows)]
        if containers:
            smallest = min(containers, key=lambda s: s.support)
            c = dataclasses.replace(c, contained_in=smallest.description)
        out.append(c)
    return out, redundant
