"""Audit at scale: ``assay.auditing.audit_dask`` on a Parquet glob, on a LocalCluster.

Writes ``--rows`` rows x 10 features in 10 Parquet files, fits a small gradient-boosting
model, and audits them with 2 worker processes: wall time per step (from the progress
messages) and the client's peak resident memory during the audit (sampled every 50 ms).

    python benchmarks/bench_audit_dask.py --rows 1000000 --sample 5000
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=5_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    import dask.dataframe as dd
    import psutil
    from distributed import Client, LocalCluster
    from sklearn.ensemble import HistGradientBoostingClassifier

    from assay.auditing import audit_dask

    rng = np.random.default_rng(0)
    root = Path(tempfile.mkdtemp())
    per = args.rows // 10
    for i in range(10):
        X = pd.DataFrame(rng.normal(size=(per, 10)), columns=[f"x{j}" for j in range(10)])
        logit = X["x0"] - X["x1"] + 0.5 * X["x2"] * X["x3"]
        X["target"] = (rng.random(per) < 1 / (1 + np.exp(-logit))).astype(int)
        X["grp"] = np.where(rng.random(per) < 0.3, "f", "m")
        X.to_parquet(root / f"part{i}.parquet", index=False)
        if i == 0:
            fit = X.iloc[:20_000]
    model = HistGradientBoostingClassifier(max_iter=50, random_state=0)
    model.fit(fit.drop(columns=["target", "grp"]), fit["target"])
    del X, fit

    proc = psutil.Process()
    peak = [proc.memory_info().rss]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.05)

    marks: list[tuple[str, float]] = []
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:  # fmt: skip
        ddf = dd.read_parquet(str(root / "*.parquet"))
        base = proc.memory_info().rss
        threading.Thread(target=watch, daemon=True).start()
        t0 = time.perf_counter()
        result = audit_dask(
            model, ddf, "target", sensitive="grp", client=client, sample_rows=args.sample,
            n_explain=50, progress=lambda m: marks.append((m, time.perf_counter())),
        )  # fmt: skip
        total = time.perf_counter() - t0
        done.set()
    print(f"rows {args.rows:,}, sample {args.sample:,}, workers {args.workers}")
    print(f"total {total:.1f} s; client RSS before {base / 2**20:.0f} MiB, "
          f"peak during audit {peak[0] / 2**20:.0f} MiB")  # fmt: skip
    prev = t0
    for (msg, t), nxt in zip(marks, [*marks[1:], ("end", t0 + total)], strict=True):
        print(f"  {nxt[1] - t:7.1f} s  {msg}")
        prev = t
    del prev
    print("AUC", result.sections["performance"]["data"]["audited"]["AUC"],
          "bound", result.sections["performance"]["data"]["auc_error_bound"])  # fmt: skip
    print({k: v["data"]["rows_used"]["n_rows"] for k, v in result.sections.items()})


if __name__ == "__main__":
    main()
