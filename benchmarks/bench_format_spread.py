"""Coverage of ``format_spread``'s interval for the spread (best minus worst format accuracy).

The toy task of tests/evals/test_format_spread.py: a model whose accuracy is planted per
descriptor/value separator (0.9, 0.75, 0.6, 0.3), 12 formats sampled from a grammar with
those 4 separators (so several formats tie at the best and at the worst accuracy), 400
examples. Each seed samples other formats, hence other prompts and other coin flips. For each
seed the script checks whether the interval covers the planted spread, for

- "before": the previous intervals, recomputed from the same data — a basic (reflected)
  paired bootstrap of max - min (exhaustive), a Welch interval of the two selected formats
  (Thompson search);
- "after": what ``format_spread`` returns now (moment-selection bootstrap of the extremes).

It also reports the coverage of the per-format t-intervals and of the std interval.

    python benchmarks/bench_format_spread.py [--seeds 1000] [--n-bootstrap 1000]
"""

from __future__ import annotations

import argparse
import hashlib
import time

import numpy as np
from scipy import stats

from assay.evals import FormatGrammar, format_spread

PLANTED = {":": 0.9, " -": 0.75, " =": 0.6, " ||": 0.3}
GRAMMAR = FormatGrammar(separators=tuple(PLANTED))
EXAMPLES = [
    {"Question": f"What is {i} plus {i % 7}?", "Options": [str(i + i % 7), str(i)], "Answer": ""}
    for i in range(400)
]


def separator_of(prompt: str) -> str:
    rest = prompt[len("question") :]
    return max((s for s in PLANTED if rest.startswith(s)), key=len)


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def toy_score(prompts: list[str]) -> np.ndarray:
    """Correct with the planted probability of the prompt's separator; the coin is a hash of the
    text, so repeated calls agree. (A CRC would not do: it is linear, so prompts that differ in
    a few characters get dependent coins and the examples are no longer independent draws.)"""
    u = np.array([_hash(p) for p in prompts]) / 2**64
    return (u < np.array([PLANTED[separator_of(p)] for p in prompts])).astype(float)


def basic_bootstrap(S: np.ndarray, n_boot: int, level: float, rng) -> tuple[float, float]:
    """The previous exhaustive interval: reflected percentiles of resampled max - min."""
    n = S.shape[1]
    spreads = np.empty(n_boot)
    for b in range(n_boot):
        m = S[:, rng.integers(0, n, n)].mean(1)
        spreads[b] = m.max() - m.min()
    a = (1 - level) / 2
    spread = S.mean(1).max() - S.mean(1).min()
    lo, hi = np.quantile(spreads, [a, 1 - a])
    return max(0.0, 2 * spread - hi), 2 * spread - lo


def welch(res, level: float) -> tuple[float, float]:
    """The previous Thompson interval, rebuilt from the per-format t-intervals."""
    b, w = res.best[0], res.worst[0]
    n = res.n_evaluated[0]
    se = (res.ci_high[0] - res.accuracy[0]) / stats.t.ppf(0.5 + level / 2, np.maximum(n - 1, 1))
    h = stats.norm.ppf(0.5 + level / 2) * np.hypot(se[b], se[w])
    d = res.spread[0]
    return d - h, d + h


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=1000)
    ap.add_argument("--n-bootstrap", type=int, default=1000)
    ap.add_argument("--budget", type=int, default=1500)
    args = ap.parse_args()
    level = 0.95
    rows = {k: [] for k in ("ex_before", "ex_after", "th_before", "th_after", "fmt", "std")}
    t0 = time.perf_counter()
    for seed in range(args.seeds):
        fmts = GRAMMAR.sample(12, seed=seed)
        truth = np.array([PLANTED[f.separator] for f in fmts])
        planted = truth.max() - truth.min()
        res = format_spread(
            toy_score, EXAMPLES, formats=fmts, seed=seed, n_bootstrap=args.n_bootstrap
        )
        S = np.stack([toy_score([f.render(e) for e in EXAMPLES]) for f in fmts])
        rng = np.random.default_rng(10_000 + seed)
        for key, (lo, hi) in (
            ("ex_before", basic_bootstrap(S, args.n_bootstrap, level, rng)),
            ("ex_after", (res.spread_ci_low[0], res.spread_ci_high[0])),
        ):
            rows[key].append((lo <= planted <= hi, lo > planted, hi - lo))
        covered = (res.ci_low[0] <= truth) & (truth <= res.ci_high[0])
        rows["fmt"].append((covered.mean(), 0.0, 0.0))
        sd = truth.std(ddof=1)
        rows["std"].append((res.std_ci_low[0] <= sd <= res.std_ci_high[0], 0.0, 0.0))
        th = format_spread(
            toy_score,
            EXAMPLES,
            formats=fmts,
            budget=args.budget,
            batch_size=20,
            seed=seed,
            n_bootstrap=args.n_bootstrap,
        )
        for key, (lo, hi) in (
            ("th_before", welch(th, level)),
            ("th_after", (th.spread_ci_low[0], th.spread_ci_high[0])),
        ):
            rows[key].append((lo <= planted <= hi, lo > planted, hi - lo))
    wall = time.perf_counter() - t0
    se = np.sqrt(level * (1 - level) / args.seeds)
    print(f"{args.seeds} seeds, nominal {level:.2f} (binomial sd {se:.3f}), {wall:.0f} s")
    print("| interval | coverage | misses above (lower bound > planted) | mean width |")
    print("|---|---|---|---|")
    names = {
        "ex_before": "spread, exhaustive, before (basic bootstrap)",
        "ex_after": "spread, exhaustive, after (moment-selection bootstrap)",
        "th_before": f"spread, Thompson budget {args.budget}, before (Welch)",
        "th_after": f"spread, Thompson budget {args.budget}, after (moment selection)",
        "fmt": "per-format t-interval (unchanged)",
        "std": "std across formats, basic bootstrap (unchanged)",
    }
    for key, name in names.items():
        v = np.array(rows[key], dtype=float)
        if key in ("fmt", "std"):
            print(f"| {name} | {v[:, 0].mean():.3f} | - | - |")
        else:
            print(
                f"| {name} | {v[:, 0].mean():.3f} | {v[:, 1].mean():.3f} | {v[:, 2].mean():.3f} |"
            )


if __name__ == "__main__":
    main()
