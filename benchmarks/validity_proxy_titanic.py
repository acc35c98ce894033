"""Proxy-flag false-alarm rate on Titanic with the audit's ProxyAudit configuration.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/validity_proxy_titanic.py --start 5000 --runs 100
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/validity_proxy_titanic.py --start 6000 --runs 100

Each run shuffles `gender` over the held-out rows (nothing to find) and counts whether any
feature is flagged as its proxy; prints the running count. Two processes with the seed ranges
above make the 200 runs in RESULTS.md.
"""

from __future__ import annotations

import argparse

import numpy as np

import validity_fairness as vf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--start", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    X, _y, _decision, s = vf._real("titanic")
    hits = 0
    for k, seed in enumerate(range(args.start, args.start + args.runs), start=1):
        shuffled = np.random.default_rng(seed).permutation(s)
        hits += vf.proxy_flag(X, shuffled, 0.05, seed)
        print(f"{k} runs, {hits} flagged ({hits / k:.3f})", flush=True)


if __name__ == "__main__":
    main()
