"""Permutation sampling of Shapley values with antithetic (forward + reverse) permutations.

For a random order ``pi`` of the features, adding them one by one to the empty coalition
gives each feature a marginal contribution ``v(pre_i ∪ {i}) - v(pre_i)``; its expectation over
uniform orders is the Shapley value. Each draw is used twice: forward, and reversed. The
reversed walk visits the complements of the forward coalitions, which makes the two estimates
negatively correlated (antithetic sampling; Mitchell et al. 2022). Per pair the contributions
telescope to ``f(x) - v(∅)``, so efficiency holds exactly for any number of permutations.

A pair costs at most ``2 (d - 1)`` coalition evaluations (the empty and the full coalition are
shared, and a coalition that several walks of a game visit is evaluated once).
Standard errors: the standard deviation of the ``n_pairs`` independent pair estimates divided by
``sqrt(n_pairs)``.

Two schemes: ``"shared"`` walks the row's game averaged over the background (here, as arrays);
``"per_background"`` walks each background row's own game (compiled, in
:mod:`._permutation_walks`, where features equal in the row and the background row cost no
model rows).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from assay._validation import check_int
from assay.attribution._base import DEFAULT_MAX_MEMORY
from assay.attribution._explanation import Explanation
from assay.attribution.shapley._permutation_walks import BackgroundWalks
from assay.attribution.shapley._sampling import (
    CoalitionStore,
    Game,
    SamplingExplainer,
    coalition_values,
    evaluate_once,
    rows_per_chunk,
    weighted_background_mean,
)
from assay.errors import AssayWarning, InvalidInputError
from assay.parallel import row_rng, seed_entropy

__all__ = ["PermutationShap"]

COALITIONS = ("auto", "shared", "per_background")
PILOT_PAIRS = 8  # first round of forward + reverse pairs per row with ``tolerance``
# per background row (coalitions="per_background"): the variance sums the strata's sample
# variances, so the pilot needs this many degrees of freedom in all (and 2 pairs per stratum)
PILOT_DEGREES_OF_FREEDOM = 32


# fewer degrees of freedom behind the standard errors than this and +-1.96 stderr under-covers:
# on a diabetes HGB, 95% intervals covered 0.68-0.88 at 1-10 and 0.90-0.95 from 14 up
# (benchmarks/study_stderr_dof.py: 1-10 background rows, 4-32 permutations, 60 seeds x 10 rows)
MIN_STDERR_DOF = 14


def stderr_degrees_of_freedom(n_pairs: int, weights: np.ndarray, per_background: bool) -> float:
    """Degrees of freedom of the design behind the standard errors: ``pairs - 1`` for shared
    walks; per background row ``(pairs - 1)`` times the background's effective size
    ``1 / sum w_b^2`` (an upper bound when the rows' games differ much in variance)."""
    w = np.asarray(weights, dtype=float)
    rows = 1.0 / float(np.sum((w / w.sum()) ** 2)) if per_background else 1.0
    return round(float((n_pairs - 1) * rows), 9)


def check_n_permutations(value: Any, *, minimum: int) -> int:
    """``n_permutations`` as an int: at least ``minimum`` and even (forward and reverse walks
    come in pairs); else :class:`InvalidInputError` saying what to use."""
    value = check_int(value, name="n_permutations", minimum=minimum, maximum=1_000_000)
    if value % 2:
        msg = (
            f"n_permutations must be even (forward and reverse walks come in pairs); got "
            f"{value}. Use {value + 1}."
        )
        raise InvalidInputError(msg)
    return value


def pilot_pairs_per_background(n_background: int) -> int:
    """Pairs per background row in the first round with ``tolerance``: at least 2, and enough
    that the strata's variances have ``PILOT_DEGREES_OF_FREEDOM`` degrees of freedom in all."""
    return int(max(2, 1 + -(-PILOT_DEGREES_OF_FREEDOM // max(1, n_background))))


def _pair_masks(rng: np.random.Generator, d: int, n_pairs: int) -> tuple[np.ndarray, np.ndarray]:
    """Orders (n_pairs, d) and the forward prefixes of lengths 1..d-1, (n_pairs, d - 1, d)."""
    orders = np.argsort(rng.random((n_pairs, d)), axis=1, kind="stable")
    # rank[p, j] = position of feature j in order p; prefix of length L holds ranks < L
    rank = np.argsort(orders, axis=1, kind="stable")
    lengths = np.arange(1, d)
    masks = rank[:, None, :] < lengths[None, :, None]
    return orders, masks


def _pair_coalition_values(
    game: Game,
    X: np.ndarray,
    rngs: list,
    n_pairs: int,
    games: np.ndarray,
    store: CoalitionStore | None = None,
    memo: list | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``n_pairs`` antithetic pairs per row from ``rngs`` and evaluate their coalitions:
    orders (r, n_pairs, d), coalitions (r, n_pairs, 2, d - 1, d) (forward prefixes, then the
    reverse walk's: their complements), values (r, n_pairs, 2, d - 1, k) and the model rows
    each row evaluated (r,): a coalition the walks revisit is evaluated once (with a ``store``,
    also across rounds). ``games`` (r,) numbers the rows' games in the batch."""
    r, d = X.shape
    orders = np.empty((r, n_pairs, d), dtype=np.int64)
    masks = np.empty((r, n_pairs, 2, d - 1, d), dtype=bool)
    for t, rng in enumerate(rngs):
        o, fwd = _pair_masks(rng, d, n_pairs)
        orders[t] = o
        masks[t, :, 0] = fwd
        masks[t, :, 1] = ~fwd  # reverse walk: prefix of length L = complement of d - L forward
    per_row = n_pairs * 2 * (d - 1)
    flat, row_of = masks.reshape(-1, d), np.repeat(np.arange(r), per_row)
    v, done = evaluate_once(
        games[row_of],
        flat,
        int(games.max()) + 1,
        lambda idx: coalition_values(game, X, flat[idx], row_of[idx]),
        store,
        memo,
    )
    v = v.reshape(r, n_pairs, 2, d - 1, v.shape[-1])
    evaluated = np.bincount(row_of[done], minlength=r) * game.n_background
    return orders, masks, v, evaluated


def walk_pair_estimates(
    orders: np.ndarray, v: np.ndarray, start: np.ndarray, end: np.ndarray
) -> np.ndarray:
    """Antithetic pair estimates (r, n_pairs, d, k) of a game from its values on the walks'
    coalitions ``v`` (r, n_pairs, 2, d - 1, k) (as :func:`_pair_coalition_values` orders
    them), its empty-coalition value ``start`` and its full-coalition value ``end``, each
    broadcastable to (r, n_pairs, k). Each pair's estimates sum to ``end - start``."""
    r, n_pairs, d = orders.shape
    k = v.shape[-1]
    start = np.broadcast_to(start, (r, n_pairs, k))[:, :, None]
    end = np.broadcast_to(end, (r, n_pairs, k))[:, :, None]
    # forward chain: v(∅), v(prefix 1), ..., v(prefix d-1), f(x)
    fwd_chain = np.concatenate([start, v[:, :, 0], end], axis=2)  # (r, P, d + 1, k)
    # reverse walk adds features in order reversed(pi): its prefix of length L is the
    # complement of the forward prefix of length d - L, i.e. v[:, :, 1, d - L - 1]
    rev_chain = np.concatenate([start, v[:, :, 1, ::-1], end], axis=2)
    fwd_delta = np.diff(fwd_chain, axis=2)  # contribution of orders[..., j]
    rev_delta = np.diff(rev_chain, axis=2)  # contribution of orders[..., d - 1 - j]
    est = np.zeros((r, n_pairs, d, k))
    np.put_along_axis(est, orders[..., None], fwd_delta, axis=2)
    rev = np.zeros((r, n_pairs, d, k))
    np.put_along_axis(rev, orders[:, :, ::-1, None], rev_delta, axis=2)
    return 0.5 * (est + rev)


def _pair_estimates(
    game: Game,
    X: np.ndarray,
    fx: np.ndarray,
    v0: np.ndarray,
    rngs: list,
    n_pairs: int,
    games: np.ndarray,
    store: CoalitionStore | None = None,
    memo: list | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``n_pairs`` antithetic pair estimates per row, (r, n_pairs, d, k), drawn from ``rngs``,
    and the model rows each row evaluated (r,): a coalition the walks revisit is evaluated once
    (with a ``store``, also across rounds). ``games`` (r,) numbers the rows' games in the
    batch."""
    orders, _, v, evaluated = _pair_coalition_values(game, X, rngs, n_pairs, games, store, memo)
    return walk_pair_estimates(orders, v, v0, fx[:, None, :]), evaluated


def _mean_and_se(pair_est: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n_pairs = pair_est.shape[1]
    phi = pair_est.mean(axis=1)
    se = pair_est.std(axis=1, ddof=1) / np.sqrt(n_pairs) if n_pairs > 1 else np.nan * phi
    return phi, se


class _SharedWalks:
    """Pairs of walks on each row's averaged game (``coalitions="shared"``), over one or more
    rounds; the same ``draw`` / ``read`` interface as :class:`BackgroundWalks`."""

    def __init__(
        self, game: Game, X: np.ndarray, v0: np.ndarray, rngs: list, n_pairs: int, store_fits: bool
    ) -> None:
        self.game, self.X, self.v0, self.rngs = game, X, v0, rngs
        self.fx = game.predict(X)
        r, d = X.shape
        self.est = np.empty((r, n_pairs, d, self.fx.shape[1]))
        self.have = np.zeros(r, dtype=np.int64)
        # from the second round, a coalition drawn again is looked up (where the table is
        # small; made only once a row needs more than the pilot, then given the pilot's)
        self.store: CoalitionStore | None = None
        self.memo: list | None = [] if store_fits else None

    def draw(self, rows: np.ndarray, n_pairs: int) -> np.ndarray:
        if self.have.any() and self.store is None and self.memo is not None:
            self.store = CoalitionStore(self.X.shape[0], self.X.shape[1])
            for group, masks, values in self.memo:
                self.store.insert(group, masks, values)
            self.memo = None
        new, evaluated = _pair_estimates(
            self.game,
            self.X[rows],
            self.fx[rows],
            self.v0,
            [self.rngs[i] for i in rows],
            n_pairs,
            rows,
            self.store,
            self.memo,
        )
        have = int(self.have[rows[0]])  # rounds are synchronous: every active row has as many
        self.est[rows, have : have + n_pairs] = new
        self.have[rows] += n_pairs
        return evaluated

    def read(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _mean_and_se(self.est[rows, : int(self.have[rows[0]])])


def _permutation_batch(
    shared: tuple[Game, np.ndarray, int, int, float | None, np.ndarray | None],
    batch: tuple[np.ndarray, np.ndarray],
) -> dict:
    """Explain one batch of rows (runs on a worker).

    Without a tolerance every row draws its ``n_pairs`` pairs at once. With one, rows draw a
    pilot (``PILOT_PAIRS`` pairs, or per background row :func:`pilot_pairs_per_background`),
    then double their pairs each round until the row's largest standard error is at most the
    tolerance or ``n_pairs`` (the cap) is reached.
    """
    game, v0, n_pairs, entropy, tolerance, fb = shared
    idx, X = batch
    r, d = X.shape
    used = np.full(r, n_pairs, dtype=np.int64)
    converged = np.ones(r, dtype=bool)
    model_rows = np.zeros(r, dtype=np.int64)  # coalition rows, revisits evaluated once
    out = {"n_pairs": used, "converged": converged, "model_rows": model_rows}
    if d == 1:
        phi = (game.predict(X) - v0)[:, None, :]
        return {"phi": phi, "se": np.zeros_like(phi), **out}
    rngs = [row_rng(entropy, int(i)) for i in idx]
    # per game, the model rows the batch was sized for (shared: each coalition on every
    # background row); a table across rounds only where it is no larger
    per_game = n_pairs * 2 * (d - 1) * (game.n_background if fb is None else 1)
    store_fits = tolerance is not None and CoalitionStore.fits(d, per_game)
    walks: BackgroundWalks | _SharedWalks
    if fb is not None:  # coalitions="per_background": strata of the background rows
        walks = BackgroundWalks(game, X, fb, rngs, keep_table=store_fits)
        pilot = pilot_pairs_per_background(game.n_background)
    else:
        walks = _SharedWalks(game, X, v0, rngs, n_pairs, store_fits)
        pilot = PILOT_PAIRS
    if tolerance is None:
        model_rows[:] = walks.draw(np.arange(r), n_pairs)
        phi, se = walks.read(np.arange(r))
        return {"phi": phi, "se": se, **out}
    phi = se = None
    active = np.arange(r)
    step = min(pilot, n_pairs)
    have = 0
    while active.size:
        model_rows[active] += walks.draw(active, step)
        have += step
        p, s = walks.read(active)
        if phi is None:
            phi, se = np.zeros((r, *p.shape[1:])), np.zeros((r, *p.shape[1:]))
        phi[active], se[active], used[active] = p, s, have
        done = s.max(axis=(1, 2)) <= tolerance
        converged[active] = done
        active = active[~done & (have < n_pairs)]
        # double the pairs each round: a schedule that depends only on the row, so batching
        # does not change where a row stops (overshoot at most 2x in pairs)
        step = int(min(n_pairs - have, have))
    return {"phi": phi, "se": se, **out}


class PermutationShap(SamplingExplainer):
    """Shapley values by antithetic permutation sampling, with standard errors.

    Parameters
    ----------
    model : model or ModelAdapter
        Anything :func:`assay.model.wrap` accepts.
    background : array-like (n_background, n_features) or BackgroundSummary, optional
        Reference rows. When None, up to 100 rows of ``X`` are sampled (seeded).
    background_weights : array-like (n_background,), optional
        Weights of the background rows; normalized to sum to 1.
    n_permutations : int, default 32
        Permutations per row, counting each forward and reverse walk (must be even, at least
        4). They cost ``(d - 1) n_permutations`` coalitions per row. With ``tolerance`` it is
        the cap.
    tolerance : float, optional
        Target standard error, in the units of the explained output: draw permutations in
        rounds (a pilot of 16, or per background row enough for 32 degrees of freedom in
        all; then doubling) until every row's largest standard error is at most
        ``tolerance`` or ``n_permutations`` are spent. ``params["converged"]`` says which
        rows made it, ``params["n_permutations_used"]``
        how many permutations each row used.
    coalitions : {"auto", "shared", "per_background"}, default "auto"
        ``"shared"``: each permutation's coalitions are evaluated on every background row.
        ``"per_background"``: every background row gets its own ``n_permutations`` (the same
        model evaluations), its own walks on the game ``f(x_S, b_{-S})``; the values are the
        weighted mean over background rows and the variance ``sum_b w_b^2 var_b / n``. The
        walks' errors are then independent across background rows instead of repeated in all
        of them (see :class:`KernelShap` and ``benchmarks/RESULTS.md``). ``"auto"``:
        ``"per_background"`` with more than one background row (lower error at equal model
        evaluations on every real model measured), else ``"shared"``. Either way the
        intervals need several pairs in all: the variance has ``pairs - 1`` degrees of
        freedom, times the background's effective size per background row
        (``params["stderr_dof"]``). 95% intervals covered 0.93 with 50 x 3 but 0.72-0.90
        with 2-5 background rows at 4-8 permutations; below ``MIN_STDERR_DOF`` (14) explain
        warns and says how many permutations suffice.
    n_jobs : int, optional
        Local worker processes (``-1``: all cores).
    client : dask.distributed.Client, optional
        Spread the rows over a Dask cluster; the values are identical to a local run.
    output_space : str, optional
        ``"probability"``, ``"log_odds"`` or ``"raw"``.
    max_memory : int, default 256 MiB
        Largest model input, in bytes, built for one model call.
    fast_trees : bool, default True
        For tree ensembles with numerical splits and at most 64 leaves per tree
        (HistGradientBoosting with default settings, forests on small data), evaluate the
        masked rows with assay's compiled copy of the trees instead of the library (several
        times faster; the values are the same: it is used only after matching the model to
        1e-9 on probe rows, one model call). ``params["model_evaluation"]`` says which was
        used. False always calls the model.
    progress : bool, default False
        Progress bar over batches of rows (local serial runs).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 4))
    >>> model = LinearRegression().fit(X, X @ [1.0, -2.0, 0.5, 0.0])
    >>> exp = PermutationShap(model, background=X, n_permutations=8).explain(X[:3], seed=0)
    >>> np.allclose(exp.values[..., 0], (X[:3] - X.mean(0)) * model.coef_)  # additive model
    True
    """

    method = "permutation"

    def __init__(
        self,
        model: Any,
        *,
        background: Any = None,
        background_weights: Any = None,
        n_permutations: int = 32,
        tolerance: float | None = None,
        coalitions: str = "auto",
        n_jobs: int | None = None,
        client: Any = None,
        output_space: str | None = None,
        max_memory: int = DEFAULT_MAX_MEMORY,
        fast_trees: bool = True,
        progress: bool = False,
    ) -> None:
        super().__init__(
            model,
            background=background,
            background_weights=background_weights,
            output_space=output_space,
            n_jobs=n_jobs,
            client=client,
            max_memory=max_memory,
            fast_trees=fast_trees,
            progress=progress,
        )
        self.n_permutations = check_n_permutations(n_permutations, minimum=4)
        if coalitions not in COALITIONS:
            msg = (
                f"coalitions must be one of {COALITIONS} (the same permutations for every "
                f"background row, or independent permutations per background row); got "
                f"{coalitions!r}."
            )
            raise InvalidInputError(msg)
        self.coalitions = coalitions
        if tolerance is not None:
            number = isinstance(tolerance, (int, float, np.floating))
            if isinstance(tolerance, bool) or not number or not 0 < float(tolerance) < np.inf:
                msg = (
                    f"tolerance must be a positive number (a target standard error in the "
                    f"output's units, e.g. 0.01) or None; got {tolerance!r}."
                )
                raise InvalidInputError(msg)
            tolerance = float(tolerance)
        self.tolerance = tolerance

    def explain(self, X: Any, *, seed: int | None = None) -> Explanation:
        """Permutation-sampled Shapley values and standard errors for every row of ``X``.

        Parameters
        ----------
        X : array-like (n_samples, n_features)
        seed : int, optional
            Seed of the permutations (and of the background drawn from ``X`` when none was
            given). Each row's permutations depend only on the seed and the row's position.

        Returns
        -------
        Explanation
            ``values.sum(axis=1) + base_values`` equals the model output exactly (to rounding).
            ``params["model_evaluation"]`` says whether the model or its compiled trees
            (``fast_trees``) evaluated the coalitions.
        """
        Xv, names, seed = self._prepare(X, seed)
        n, d = Xv.shape
        game, note = self._game(Xv, seed)
        fb_all = game.predict(game.background)
        v0 = weighted_background_mean(
            np.ascontiguousarray(fb_all), game.weights, game.n_background
        )[0]
        n_pairs = self.n_permutations // 2
        entropy = seed_entropy(seed)
        per_row = n_pairs * 2 * max(1, d - 1)
        chunk = rows_per_chunk(n, per_row, game.n_background, d, self.max_memory)
        coalitions = "per_background" if self.coalitions == "auto" else self.coalitions
        per_background = coalitions == "per_background" and game.n_background > 1 and d > 1
        coalitions = "per_background" if per_background else "shared"
        fb = fb_all if per_background else None
        shared = (game, v0, n_pairs, entropy, self.tolerance, fb)
        keys = ("phi", "se", "n_pairs", "converged", "model_rows")
        dof = stderr_degrees_of_freedom(n_pairs, game.weights, per_background)
        if self.tolerance is None and d > 1 and dof < MIN_STDERR_DOF:
            rows_eff = dof / max(1, n_pairs - 1)
            need = 2 * (1 + int(np.ceil(MIN_STDERR_DOF / max(rows_eff, 1e-12))))
            warnings.warn(
                f"PermutationShap: the standard errors rest on {dof:.0f} degrees of freedom "
                f"({n_pairs} forward/reverse pairs"
                + (f" per background row x {rows_eff:.1f} effective rows" if per_background else "")
                + f"), so +-1.96 stderr covers less than 95% (0.68-0.88 measured below 10). "
                f"Use n_permutations >= {need} for {MIN_STDERR_DOF} or more.",
                AssayWarning,
                stacklevel=2,
            )
        res = self._map_rows(_permutation_batch, Xv, chunk, shared, "permutation SHAP", keys)
        phi, se = res["phi"], res["se"]
        k = phi.shape[2]
        n_coal = n_pairs * 2 * (d - 1)
        params = {
            **self._background_params(game, note),
            "seed": seed,
            "seed_entropy": entropy,
            "n_permutations": self.n_permutations,
            "coalitions": coalitions,
            "n_coalitions": n_coal,
            "stderr_dof": dof,
            "tolerance": self.tolerance,
            "n_permutations_used": (2 * res["n_pairs"]).tolist(),
            "converged": res["converged"].tolist() if self.tolerance is not None else None,
            "model_rows_evaluated": int(res["model_rows"].sum() + n + game.n_background),
        }
        base = np.broadcast_to(v0, (n, k)).copy()
        return self._result(Xv, names, phi, base, stderr=se, params=params)
