"""Scale benchmark: reason codes for every row of a partitioned table on a Dask LocalCluster.

XGBoost, 100 trees of depth 6, 20 features; the rows are written as a Parquet dataset, read
lazily by Dask, explained by ``assay.explain(model, ddf, method="tree")`` and written back as
a wide Parquet dataset from the workers. Measured: rows per second, the peak resident memory
of each worker process and of the client (psutil, sampled every 0.1 s), and the speedup from
1 to 2 worker processes (1 thread each). The anchor is what people write by hand:
``shap.TreeExplainer`` inside ``ddf.map_partitions`` (one explainer per partition), written
to Parquet the same way.

Run::

    .venv/bin/python benchmarks/bench_scale.py                       # 1 M rows
    .venv/bin/python benchmarks/bench_scale.py --rows 10000000       # the issue's 10 M
    .venv/bin/python benchmarks/bench_scale.py --rows 200000 --shap-rows 20000   # quick

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

D = 20


class Sampler:
    """Peak RSS of a set of processes, sampled every ``interval`` seconds in a thread."""

    def __init__(self, pids: dict[str, int], interval: float = 0.1) -> None:
        import psutil

        self.procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.peak = {name: p.memory_info().rss for name, p in self.procs.items()}
        self.start = dict(self.peak)
        self.cpu0 = {name: sum(p.cpu_times()[:2]) for name, p in self.procs.items()}
        self.cpu: dict[str, float] = {}
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, p in self.procs.items():
                try:
                    self.peak[name] = max(self.peak[name], p.memory_info().rss)
                except Exception:  # a process that ended
                    pass
            self._stop.wait(self.interval)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        # CPU seconds (user + system) each process spent during the run
        self.cpu = {n: sum(p.cpu_times()[:2]) - self.cpu0[n] for n, p in self.procs.items()}


def make_model(seed: int = 0):
    import xgboost as xgb

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(20_000, D))
    logit = X[:, 0] + X[:, 1] * X[:, 2] - X[:, 3] ** 2 + 0.5 * np.sin(3 * X[:, 4])
    y = (logit + rng.normal(size=len(X)) > 0).astype(int)
    return xgb.XGBClassifier(n_estimators=100, max_depth=6, random_state=0, n_jobs=1).fit(X, y)


def write_data(root: Path, n_rows: int, rows_per_file: int, seed: int = 1) -> None:
    """``n_rows`` rows of 20 normal features as Parquet files of ``rows_per_file`` rows."""
    import pandas as pd

    root.mkdir(parents=True)
    cols = [f"f{j:02d}" for j in range(D)]
    for i, start in enumerate(range(0, n_rows, rows_per_file)):
        n = min(rows_per_file, n_rows - start)
        rng = np.random.default_rng([seed, i])
        pd.DataFrame(rng.normal(size=(n, D)), columns=cols).to_parquet(
            root / f"part{i:05d}.parquet", index=False
        )


def _shap_partition(frame, model):
    import pandas as pd
    import shap

    values = shap.TreeExplainer(model).shap_values(frame)
    out = pd.DataFrame(values, columns=[f"attr:{c}" for c in frame.columns])
    out.insert(0, "base", 0.0)
    return out


def run_once(
    engine: str, data: Path, out: Path, model, n_workers: int, max_rows: int | None
) -> dict:
    import dask.dataframe as dd
    import distributed

    import assay

    with (
        distributed.LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        pids = {f"worker{i}": pid for i, pid in enumerate(client.run(os.getpid).values())}
        pids["client"] = os.getpid()
        files = sorted(data.glob("*.parquet"))
        if max_rows is not None:  # the anchor runs on the first files only
            import pyarrow.parquet as pq

            per_file = pq.ParquetFile(files[0]).metadata.num_rows
            files = files[: max(1, max_rows // per_file)]
        ddf = dd.read_parquet([str(f) for f in files])
        # warm-up outside the clock: numba compiles (or loads its cache) in each worker
        if engine == "assay":
            client.run(_warm_assay, model)
        with Sampler(pids) as sampler:
            t0 = time.perf_counter()
            if engine == "assay":
                lazy = assay.explain(model, ddf, method="tree", client=client)
                lazy.to_parquet(out, include_data=False)
                n = lazy.n_samples
            else:
                import pandas as pd

                cols = ["base", *[f"attr:{c}" for c in ddf.columns]]
                meta = pd.DataFrame({c: pd.Series([], dtype=float) for c in cols})
                wide = ddf.map_partitions(_shap_partition, model, meta=meta)
                client.compute(wide.to_parquet(str(out), compute=False), sync=True)
                n = int(sum(client.compute(ddf.map_partitions(len), sync=True)))
            wall = time.perf_counter() - t0
    mb = 2**20
    return {
        "engine": engine,
        "workers": n_workers,
        "rows": n,
        "wall_s": wall,
        "rows_per_s": n / wall,
        "worker_cpu_s": sum(v for k, v in sampler.cpu.items() if k != "client"),
        "rows_per_cpu_s": n / max(1e-9, sum(v for k, v in sampler.cpu.items() if k != "client")),
        "worker_peak_mb": max(v for k, v in sampler.peak.items() if k != "client") / mb,
        "client_peak_mb": sampler.peak["client"] / mb,
        "client_growth_mb": (sampler.peak["client"] - sampler.start["client"]) / mb,
    }


def _warm_assay(model) -> None:
    import assay

    assay.explain(model, np.zeros((4, D)), method="tree", n_jobs=1)


def check_output(out: Path, data: Path, model) -> float:
    """Largest difference between the written values of the first file and in-memory TreeSHAP."""
    import pandas as pd

    import assay

    first = pd.read_parquet(sorted(data.glob("*.parquet"))[0])
    ref = assay.explain(model, first, method="tree").values[:, :, 0]
    # only the rows compared are read, so the check does not grow the client's memory
    wide = pd.read_parquet(out, filters=[("row_id", "<", len(first))]).sort_values("row_id")
    got = wide[[c for c in wide.columns if c.startswith("attr:")]].to_numpy()
    return float(np.abs(got - ref).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rows-per-file", type=int, default=50_000)
    parser.add_argument("--shap-rows", type=int, default=100_000,
                        help="rows the shap anchor explains (it is much slower)")  # fmt: skip
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--tmp", default=None, help="folder for the data (default: a temp dir)")
    args = parser.parse_args()
    tmp = Path(args.tmp or tempfile.mkdtemp(prefix="assay-scale-"))
    data = tmp / "data"
    try:
        t = time.perf_counter()
        model = make_model()
        write_data(data, args.rows, args.rows_per_file)
        print(f"data: {args.rows:,} rows x {D} in {data} ({time.perf_counter() - t:.0f} s)")
        rows = []
        for w in [int(x) for x in args.workers.split(",")]:
            out = tmp / f"assay_{w}"
            rows.append(run_once("assay", data, out, model, w, None))
            rows[-1]["max_abs_diff"] = check_output(out, data, model)
            print(rows[-1], flush=True)
            shutil.rmtree(out)
        w = max(int(x) for x in args.workers.split(","))
        rows.append(run_once("shap", data, tmp / "shap", model, w, args.shap_rows))
        print(rows[-1], flush=True)
        print()
        print("| engine | workers | rows | wall s | rows/s | worker CPU s | rows per worker "
              "CPU s | peak RSS per worker (MB) | client peak RSS (MB) "
              "| client growth (MB) |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(
                f"| {r['engine']} | {r['workers']} | {r['rows']:,} | {r['wall_s']:.1f} | "
                f"{r['rows_per_s']:,.0f} | {r['worker_cpu_s']:.1f} | "
                f"{r['rows_per_cpu_s']:,.0f} | {r['worker_peak_mb']:.0f} | "
                f"{r['client_peak_mb']:.0f} | {r['client_growth_mb']:.0f} |"
            )
        one = [r for r in rows if r["engine"] == "assay" and r["workers"] == 1]
        two = [r for r in rows if r["engine"] == "assay" and r["workers"] == 2]
        if one and two:
            print(f"\nspeedup 1 -> 2 workers: {two[0]['rows_per_s'] / one[0]['rows_per_s']:.2f}x")
        print(f"max |assay on Dask - assay in memory| (first file): "
              f"{max(r.get('max_abs_diff', 0.0) for r in rows):.2e}")  # fmt: skip
    finally:
        if args.tmp is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
