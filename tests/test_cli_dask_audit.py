"""``assay audit --dask``: exact sections on every row of a Parquet glob, fits on a sample."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

pytest.importorskip("dask.dataframe")
pytest.importorskip("distributed")
pytest.importorskip("pyarrow")
xgb = pytest.importorskip("xgboost")

from sklearn.metrics import roc_auc_score  # noqa: E402

from assay.cli import cli  # noqa: E402


def test_audit_dask_local_on_a_parquet_glob(tmp_path):
    rng = np.random.default_rng(0)
    n = 3000
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    group = np.where(rng.random(n) < 0.4, "f", "m")
    y = (rng.random(n) < 1 / (1 + np.exp(-(X["a"] - X["b"])))).astype(int)
    model = xgb.XGBClassifier(n_estimators=5, max_depth=2, random_state=0, n_jobs=1)
    model.fit(X, y)
    model.save_model(tmp_path / "model.json")
    (tmp_path / "data").mkdir()
    for i in range(3):
        rows = slice(1000 * i, 1000 * (i + 1))
        part = X.iloc[rows].assign(target=y.iloc[rows], grp=group[rows])
        part.to_parquet(tmp_path / "data" / f"part{i}.parquet", index=False)
    out = tmp_path / "out"
    args = ["audit", "--data", str(tmp_path / "data" / "*.parquet"), "--target", "target",
            "--model", str(tmp_path / "model.json"), "--sensitive", "grp", "--sample", "200",
            "--dask", "local", "--out", str(out), "--quiet"]  # fmt: skip
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "results.json").read_text())
    assert (out / "report.html").exists()
    perf = saved["sections"]["performance"]
    loaded = xgb.XGBClassifier()
    loaded.load_model(tmp_path / "model.json")
    auc = roc_auc_score(y, loaded.predict_proba(X)[:, 1])
    assert abs(perf["data"]["audited"]["AUC"] - auc) < 1e-9
    assert perf["data"]["rows_used"] == {**perf["data"]["rows_used"], "n_rows": n, "n_total": n}
    assert saved["sections"]["glassbox"]["data"]["rows_used"]["n_rows"] == 200
    assert saved["meta"]["sample_rows"] == 200 and saved["meta"]["n_rows"] == n
    assert "group_metrics" in saved["sections"] and "global_attributions" in saved["sections"]


def test_audit_dask_needs_data_target_and_model(tmp_path):
    result = CliRunner().invoke(cli, ["audit", "--demo", "--dask", "local", "--out",
                                      str(tmp_path / "o")])  # fmt: skip
    assert result.exit_code == 2
    assert "--dask needs --data" in result.output
