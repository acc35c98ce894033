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
drawn either independently (assay) or as orthogonal codes; error = mean squared error against
the exact values over ``--reps`` draws per row.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/study_permutation_codes.py [--reps 40]
"""

from __future__ import annotations

import argparse
from math import comb

import numpy as np
from scipy.stats import special_ortho_group
from study_proxy import D, MASKS, setup

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


def independent_pairs(rng: np.random.Generator, pairs: int) -> list:
    orders = [rng.permutation(D) for _ in range(pairs)]
    return [o for p in orders for o in (p, p[::-1])]


def orthogonal_pairs(rng: np.random.Generator, pairs: int) -> list:
    out: list = []
    while len(out) < 2 * pairs:
        directions = BASIS @ special_ortho_group.rvs(D - 1, random_state=rng)
        for j in range(min(D - 1, pairs - len(out) // 2)):
            p = np.argsort(directions[:, j])
            out += [p, p[::-1]]
    return out


def estimate(V: np.ndarray, rng: np.random.Generator, pairs: int, draw) -> np.ndarray:
    return np.mean([np.mean([walk(vb, o) for o in draw(rng, pairs)], axis=0) for vb in V], axis=0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=40)
    args = parser.parse_args()
    bg, rows, models = setup()
    print("| model | pairs per background row | MSE independent | MSE orthogonal | ratio |")
    print("|---|---:|---:|---:|---:|")
    for name, model in models.items():
        tables = [per_background_tables(model.predict, x, bg) for x in rows[:10]]
        exact = [exact_values(V) for V in tables]
        for pairs in (2, 3, 4):
            mse = {}
            for label, draw in (("independent", independent_pairs), ("orthogonal", orthogonal_pairs)):
                rng = np.random.default_rng(1)
                errs = [
                    np.mean((estimate(V, rng, pairs, draw) - e) ** 2)
                    for V, e in zip(tables, exact)
                    for _ in range(args.reps)
                ]
                mse[label] = (np.mean(errs), np.std(errs) / np.sqrt(len(errs)))
            (a, sa), (b, sb) = mse["independent"], mse["orthogonal"]
            print(f"| {name} | {pairs} | {a:.4f} +- {sa:.4f} | {b:.4f} +- {sb:.4f} | {a / b:.2f}x |")


if __name__ == "__main__":
    main()
