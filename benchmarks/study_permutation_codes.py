"""Would orthogonal permutations beat antithetic pairs at assay's budgets? Issue 25.

Mitchell et al. (2022, "Sampling permutations for Shapley value estimation") map permutations to
directions in the (d-1)-dimensional plane orthogonal to the ones vector: a direction's ranking
is a permutation, its negation the reversed permutation (an antithetic pair). Drawing the
directions of a pair batch as orthonormal columns of a random rotation (an *orthogonal
spherical code*) keeps every permutation uniform while making the pairs negatively
correlated. This script measures the gain on the exact per-background games of
bench_kernel.py's d=10 models (diabetes, 50 background rows): for each of 10 rows the table of
all 1024 coalitions x 50 background rows, then the per-background estimator of
``PermutationShap(coalitions="per_background")`` with 2, 3 and 4 pairs per background row
drawn independently (assay), as orthogonal codes within each background row, with the
directions of one rotation dealt across background rows, or as cyclic shifts of one order
across groups of d background rows (stratified by position); error = mean squared error against
the exact values over ``--reps`` draws per row.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/study_permutation_codes.py [--reps 40]
"""

from __future__ import annotations

import argparse
from math import comb

import numpy as np
from scipy.stats import special_ortho_group

from study_proxy import MASKS, D, setup

CODE = (MASKS * (1 << np.arange(D))).sum(axis=1)  # coalition -> bit code
ROW_OF_CODE = np.empty(2**D, dtype=np.int64)
ROW_OF_CODE[CODE] = np.arange(2**D)
# orthonormal basis of the plane orthogonal to the ones vector
BASIS = np.linalg.svd(np.eye(D) - 1.0 / D)[0][:, : D - 1]


def per_background_tables(predict, x: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """v_b(S) for every background row b and coalition S, (B, 2^D)."""
    Z = np.where(MASKS[:, None, :], x[None, None, :], bg[None])
    return predict(Z.reshape(-1, D)).reshape(2**D, bg.shape[0]).T


def exact_values(V: np.ndarray) -> np.ndarray:
    v = V.mean(axis=0)
    sizes = MASKS.sum(axis=1)
    phi = np.zeros(D)
    for i in range(D):
        without = ~MASKS[:, i]
        w = np.array([1.0 / (D * comb(D - 1, int(s))) for s in sizes[without]])
        with_i = ROW_OF_CODE[CODE[without] | (1 << i)]
        phi[i] = (w * (v[with_i] - v[without])).sum()
    return phi


def walk(v: np.ndarray, order: np.ndarray) -> np.ndarray:
    codes = np.concatenate([[0], np.cumsum(1 << order)])
    est = np.zeros(D)
    est[order] = np.diff(v[ROW_OF_CODE[codes]])
    return est


def independent(rng: np.random.Generator, B: int, pairs: int) -> list:
    """assay's scheme: each background row draws its own forward orders (reversed too)."""
    return [[rng.permutation(D) for _ in range(pairs)] for _ in range(B)]


def _rotation_directions(rng: np.random.Generator, n: int) -> list:
    out: list = []
    while len(out) < n:
        Q = BASIS @ special_ortho_group.rvs(D - 1, random_state=rng)
        out += [Q[:, j] for j in range(D - 1)]
    return out[:n]


def orthogonal_within(rng: np.random.Generator, B: int, pairs: int) -> list:
    """Each background row ranks orthonormal directions of its own random rotation."""
    return [[np.argsort(u) for u in _rotation_directions(rng, pairs)] for _ in range(B)]


def orthogonal_across(rng: np.random.Generator, B: int, pairs: int) -> list:
    """The directions of one rotation are dealt to different background rows."""
    dirs = _rotation_directions(rng, B * pairs)
    order = rng.permutation(B * pairs)
    return [[np.argsort(dirs[order[b + B * k]]) for k in range(pairs)] for b in range(B)]


def latin_across(rng: np.random.Generator, B: int, pairs: int) -> list:
    """Groups of d background rows get the d cyclic shifts of one random order: every feature
    takes every position once per group (stratified by position across background rows)."""
    out: list = [[] for _ in range(B)]
    for _ in range(pairs):
        rows = rng.permutation(B)
        for g in range(0, B, D):
            sigma, shifts = rng.permutation(D), rng.permutation(D)
            for t, b in enumerate(rows[g : g + D]):
                out[b].append(np.roll(sigma, shifts[t]))
    return out


SCHEMES = {
    "independent": independent,
    "orthogonal within": orthogonal_within,
    "orthogonal across": orthogonal_across,
    "Latin across": latin_across,
}


def estimate(V: np.ndarray, orders: list) -> np.ndarray:
    """Per-background antithetic estimate: mean over background rows of each row's pairs."""
    return np.mean(
        [
            np.mean([(walk(vb, o) + walk(vb, o[::-1])) / 2 for o in ob], axis=0)
            for vb, ob in zip(V, orders, strict=True)
        ],
        axis=0,
    )


def pair_variance(v: np.ndarray, rng: np.random.Generator, n: int = 150) -> float:
    """Variance of one antithetic pair estimate on the game ``v``, summed over features."""
    orders = [rng.permutation(D) for _ in range(n)]
    return float(np.var([(walk(v, o) + walk(v, o[::-1])) / 2 for o in orders], axis=0).sum())


def allocation_gains(models: dict, bg: np.ndarray, rows: np.ndarray, rng) -> None:
    """Gain of allocating pairs across background rows in proportion to a predictor ``p_b`` of
    the pair estimate's spread ``sigma_b`` (Neyman: ``p = sigma``), against equal pairs:
    ``mean(sigma^2) / (mean(sigma^2 / p) mean(p))``, with ``sigma_b^2`` (summed over features)
    from 150 pairs of each exact game; the predictors are free (no model call)."""
    print(
        "\n| model | Neyman (oracle) | p = abs(f(x) - f(b)) | p = sqrt(abs(f(x) - f(b))) "
        "| p = norm(x - b) |"
    )
    print("|---|---:|---:|---:|---:|")
    fb = {name: model.predict(bg) for name, model in models.items()}
    for name, model in models.items():
        gains: dict = {"oracle": [], "abs": [], "sqrt": [], "norm": []}
        for x in rows[:10]:
            V = per_background_tables(model.predict, x, bg)
            gap = np.abs(model.predict(x[None])[0] - fb[name]) + 1e-12
            var = np.array([pair_variance(vb, rng) for vb in V])
            sigma = np.sqrt(var)
            gains["oracle"].append(var.mean() / sigma.mean() ** 2)
            for key, p in (
                ("abs", gap),
                ("sqrt", np.sqrt(gap)),
                ("norm", np.linalg.norm(x - bg, axis=1)),
            ):
                gains[key].append(var.mean() / ((var / p).mean() * p.mean()))
        cells = " | ".join(f"{np.mean(gains[k]):.2f}x" for k in ("oracle", "abs", "sqrt", "norm"))
        print(f"| {name} | {cells} |", flush=True)


def exact_end_positions(models: dict, bg: np.ndarray, rows: np.ndarray, reps: int) -> None:
    """A feature's contributions at the first and last position of a walk, ``v({i}) - v(0)``
    and ``f(x) - v(N \\ i)``, have known means after 2d evaluations per background row; taking
    them exact and sampling only the middle positions (walks then need d - 3 evaluations each)
    against plain pairs, as MSE x model evaluations per background row (lower is better)."""
    full = 2**D - 1
    print(
        "\n| model | pairs | plain: evaluations, MSE x evaluations "
        "| exact ends: evaluations, MSE x evaluations |"
    )
    print("|---|---:|---|---|")

    def ends(v: np.ndarray) -> np.ndarray:
        single = v[ROW_OF_CODE[1 << np.arange(D)]] - v[ROW_OF_CODE[0]]
        last = v[ROW_OF_CODE[full]] - v[ROW_OF_CODE[full ^ (1 << np.arange(D))]]
        return (single + last) / D

    def middle(v: np.ndarray, order: np.ndarray) -> np.ndarray:
        est = walk(v, order)
        est[[order[0], order[-1]]] = 0.0
        return est

    def with_ends(V: np.ndarray, orders: list) -> np.ndarray:
        return np.mean(
            [
                ends(vb) + np.mean([(middle(vb, o) + middle(vb, o[::-1])) / 2 for o in ob], axis=0)
                for vb, ob in zip(V, orders, strict=True)
            ],
            axis=0,
        )

    for name, model in models.items():
        tables = [per_background_tables(model.predict, x, bg) for x in rows[:10]]
        exact = [exact_values(V) for V in tables]
        for pairs in (2, 3, 4):
            cells = []
            for fn, cost in (
                (estimate, pairs * 2 * (D - 1)),
                (with_ends, 2 * D + pairs * 2 * (D - 3)),
            ):
                rng = np.random.default_rng(1)
                mse = np.mean(
                    [
                        np.mean((fn(V, independent(rng, len(bg), pairs)) - e) ** 2)
                        for V, e in zip(tables, exact, strict=True)
                        for _ in range(reps)
                    ]
                )
                cells.append(f"{cost}, {mse * cost:.2f}")
            print(f"| {name} | {pairs} | " + " | ".join(cells) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=40)
    args = parser.parse_args()
    bg, rows, models = setup()
    names = list(SCHEMES)
    print("| model | pairs per background row | " + " | ".join(f"MSE {n}" for n in names) + " |")
    print("|---|---:|" + "---:|" * len(names))
    for name, model in models.items():
        tables = [per_background_tables(model.predict, x, bg) for x in rows[:10]]
        exact = [exact_values(V) for V in tables]
        for pairs in (2, 3, 4):
            cells = []
            for label in names:
                rng = np.random.default_rng(1)
                errs = [
                    np.mean((estimate(V, SCHEMES[label](rng, len(bg), pairs)) - e) ** 2)
                    for V, e in zip(tables, exact, strict=True)
                    for _ in range(args.reps)
                ]
                cells.append(f"{np.mean(errs):.4f} +- {np.std(errs) / np.sqrt(len(errs)):.4f}")
            print(f"| {name} | {pairs} | " + " | ".join(cells) + " |", flush=True)
    allocation_gains(models, bg, rows, np.random.default_rng(0))
    exact_end_positions(models, bg, rows, max(10, args.reps // 4))


if __name__ == "__main__":
    main()
