"""Benchmark of ``assay.audit`` at scale (issue 28): wall time and peak memory per section.

The demo cohort (:func:`assay.datasets.load_clinical`): a HistGradientBoosting classifier is
fitted on a separate sample of 20,000 rows (seed 1), which is also passed as the training rows;
``n`` fresh rows (seed 2) are audited, with ``zip_region`` categorical, sensitive ``race`` and
the cohort's expected directions (as ``assay audit --demo`` does).

Each size runs in its own subprocess. Peak memory is the process's resident set size (RSS),
sampled every 20 ms by a thread (tracemalloc is too slow at this scale); per section it is the
peak RSS seen while that section ran, and "data" is the RSS after the data were generated and
the model fitted, before the audit began. The machine load (``os.getloadavg``) is reported
with each row because the benchmark machine is shared.

Run: OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_audit_scale.py [--sizes 1e4 1e5 1e6]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time


class RssSampler(threading.Thread):
    """Samples this process's RSS; keeps the peak overall and per named phase."""

    def __init__(self, interval: float = 0.02, limit: float = float("inf")) -> None:
        super().__init__(daemon=True)
        import psutil

        self.proc = psutil.Process()
        self.interval = interval
        self.limit = limit
        self.phase = "setup"
        self.peaks: dict[str, int] = {}
        self.stop = threading.Event()

    def mark(self, phase: str) -> None:
        self.sample()
        self.phase = phase
        self.sample()

    def sample(self) -> None:
        rss = self.proc.memory_info().rss
        if rss > self.limit:  # a shared machine: stop before it runs out of memory
            print(f"RSS {rss / 2**30:.1f} GB above --max-rss-gb in {self.phase}", flush=True)
            os._exit(3)
        if rss > self.peaks.get(self.phase, 0):
            self.peaks[self.phase] = rss

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            time.sleep(self.interval)


def one_size(n: int, seed: int, max_rss_gb: float) -> dict:
    """Generate, fit and audit ``n`` rows in this process; returns the measurements."""
    sampler = RssSampler(limit=max_rss_gb * 2**30)
    sampler.start()
    t0 = time.perf_counter()
    from sklearn.ensemble import HistGradientBoostingClassifier

    import assay
    from assay.auditing import STEP_KEYS
    from assay.auditing._registry import STEPS
    from assay.datasets import load_clinical

    train = load_clinical(n_samples=20000, seed=1)
    model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, random_state=seed)
    model.fit(train.X, train.y)
    data = load_clinical(n_samples=n, seed=2)
    setup_s = time.perf_counter() - t0
    sampler.mark("data")
    messages = {step.message: step.key for step in STEPS}
    result = assay.audit(
        model,
        data.X,
        data.y,
        sensitive=data.sensitive[["race"]],
        X_train=train.X,
        y_train=train.y,
        expected_directions=dict(data.truth["expected_directions"]),
        categorical_features=["zip_region"],
        seed=seed,
        progress=lambda msg: sampler.mark(messages.get(msg, msg)),
    )
    sampler.mark("done")
    sampler.stop.set()
    meta = result.meta
    rows_used = {
        k: s["data"].get("rows_used", {}).get("n_rows") for k, s in result.sections.items()
    }
    mb = 2**20
    return {
        "n": n,
        "setup_s": round(setup_s, 1),
        "audit_s": meta["seconds"],
        "section_s": meta["section_seconds"],
        "section_cpu_s": meta["section_cpu_seconds"],
        "audit_cpu_s": round(sum(meta["section_cpu_seconds"].values()), 1),
        "peak_mb": round(max(sampler.peaks.values()) / mb),
        "data_mb": round(sampler.peaks["data"] / mb),
        "section_peak_mb": {
            k: round(sampler.peaks[k] / mb) for k in STEP_KEYS if k in sampler.peaks
        },
        "rows_used": rows_used,
        "skipped": meta["skipped"],
        "load": [round(x, 2) for x in os.getloadavg()],
        "findings": findings(result),
    }


def findings(result) -> dict:
    """The demo's planted findings as the audit reports them."""
    sections = result.sections
    out: dict = {}
    glass = sections.get("glassbox", {}).get("data", {})
    anomalies = glass.get("anomalies", {}).get("anomalies", [])
    creat = [a for a in anomalies if a["feature"] == "creatinine" and a["kind"] == "discontinuity"]
    out["creatinine_drop"] = (
        None if not creat else [round(creat[0]["location"], 3), round(creat[0]["effect"], 3)]
    )
    out["proxies"] = list(sections.get("fairness", {}).get("data", {}).get("proxies", []))
    slices = sections.get("slices", {}).get("data", {}).get("slices", [])
    out["slices"] = [s["description"] for s in slices[:3]]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e4, 1e5, 1e6])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-rss-gb", type=float, default=float("inf"),
                        help="stop a size whose resident memory passes this (shared machines)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one_size(args.one, args.seed, args.max_rss_gb)))
        return
    rows = []
    for size in args.sizes:
        n = int(size)
        proc = subprocess.run(
            [sys.executable, __file__, "--one", str(n), "--seed", str(args.seed),
             "--max-rss-gb", str(args.max_rss_gb)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            print(f"n = {n:,}: failed ({proc.returncode})\n{proc.stdout[-500:]}"
                  f"{proc.stderr[-3000:]}", flush=True)  # fmt: skip
            continue
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(json.dumps(row), flush=True)
    print("\n| audited rows | audit wall s | audit CPU s | peak RSS MB (data) | slowest sections "
          "(wall s) | largest section peak MB | load 1 min |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        slow = sorted(r["section_s"].items(), key=lambda kv: -kv[1])[:3]
        big = sorted(r["section_peak_mb"].items(), key=lambda kv: -kv[1])[:2]
        print(
            f"| {r['n']:,} | {r['audit_s']:.1f} | {r['audit_cpu_s']:.1f} | "
            f"{r['peak_mb']:,} ({r['data_mb']:,}) | "
            + ", ".join(f"{k} {v:.1f}" for k, v in slow)
            + " | "
            + ", ".join(f"{k} {v:,}" for k, v in big)
            + f" | {r['load'][0]} |"
        )


if __name__ == "__main__":
    main()
