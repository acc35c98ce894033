"""Can PermutationShap see that its intervals will under-cover? A lead, issue 25.

On a nearly additive ReLU MLP (diabetes as shipped, unscaled) the per-background permutation
intervals covered only 0.57-0.78 (benchmarks/study_permutation_coverage.py): most pairs give the
exact value and a few cross a kink with a large contribution. This script measures, per
(row, feature), the largest single pair's share of the estimated variance
``max_{b,p} w_b^2 dev_{bp}^2 / sum_{b,p} w_b^2 dev_{bp}^2`` (dev: the pair estimate minus its
background row's mean), next to the coverage of ``values +- 1.96 stderr`` against
ExactShapley, on the games of the coverage study (20 rows x 4 seeds, 50 background rows; 20
for the binary game). The pair estimates are computed here with plain numpy (the estimator of
``PermutationShap(coalitions="per_background")``, the same draws).

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/study_pair_dominance.py
"""

from __future__ import annotations

import warnings

import numpy as np

from assay.attribution import ExactShapley
from assay.parallel import row_rng, seed_entropy
from study_permutation_coverage import binary_game, diabetes_games  # same folder

warnings.filterwarnings("ignore")


def walk_contributions(f, x: np.ndarray, bg: np.ndarray, orders: np.ndarray) -> np.ndarray:
    """Each feature's contribution (B, P, d) when the features move from the background row to
    ``x`` one by one in ``orders`` (B, P, d)."""
    z = np.repeat(bg[:, None, :], orders.shape[1], axis=1)  # the walks' current inputs
    inputs = [z.copy()]
    for step in range(orders.shape[2]):
        j = orders[..., step]
        np.put_along_axis(z, j[..., None], x[j][..., None], axis=-1)
        inputs.append(z.copy())
    d = bg.shape[1]
    v = f(np.stack(inputs, axis=2).reshape(-1, d)).reshape(*orders.shape[:2], d + 1)
    out = np.zeros(orders.shape)
    np.put_along_axis(out, orders, np.diff(v, axis=2), axis=2)
    return out


def pair_estimates(f, x: np.ndarray, bg: np.ndarray, rng, n_pairs: int) -> np.ndarray:
    """Antithetic pair estimates (B, P, d) of one row's per-background games, from the keys
    PermutationShap draws for the row."""
    B, d = bg.shape
    orders = np.argsort(rng.random((B * n_pairs, d)), axis=1, kind="stable")
    orders = orders.reshape(B, n_pairs, d)
    forward = walk_contributions(f, x, bg, orders)
    return 0.5 * (forward + walk_contributions(f, x, bg, orders[..., ::-1]))


def games() -> list:
    """The coverage study's games (the same models, rows and background rows)."""
    return [*diabetes_games(), ("binary features (d=6)", *binary_game())]


def main() -> None:
    print(
        "| game | permutations | 95% coverage | median largest-pair share "
        "| cells with share > 0.25 | coverage there / elsewhere |"
    )
    print("|---|---:|---:|---:|---:|---|")
    for name, f, bg, rows in games():
        exact = ExactShapley(f, background=bg).explain(rows).values[..., 0]
        w2 = (1.0 / len(bg)) ** 2
        for n_pairs in (3, 8, 16):
            hit, share = [], []
            for seed in range(4):
                for t, x in enumerate(rows):
                    est = pair_estimates(f, x, bg, row_rng(seed_entropy(seed), t), n_pairs)
                    dev2 = (est - est.mean(axis=1, keepdims=True)) ** 2
                    c = w2 * dev2 / (n_pairs * (n_pairs - 1))
                    var = c.sum(axis=(0, 1))
                    err = np.abs(est.mean(axis=1).mean(axis=0) - exact[t])
                    live = (var > 1e-24) | (err > 1e-10)
                    hit.append((err <= 1.959964 * np.sqrt(var) + 1e-10)[live])
                    share.append((c.max(axis=(0, 1)) / np.maximum(var, 1e-300))[live])
            hit, share = np.concatenate(hit), np.concatenate(share)
            big = share > 0.25
            there = f"{hit[big].mean():.2f}" if big.any() else "-"
            print(
                f"| {name} | {2 * n_pairs} | {hit.mean():.3f} | {np.median(share):.2f} | "
                f"{big.mean():.2f} | {there} / {hit[~big].mean():.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
