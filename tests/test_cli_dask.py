"""``assay explain --dask``: partitions explained on a cluster and written as a Parquet dataset."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

pytest.importorskip("dask.dataframe")
pytest.importorskip("distributed")
pytest.importorskip("pyarrow")
xgb = pytest.importorskip("xgboost")

import assay  # noqa: E402
from assay.attribution import read_explanation_parquet  # noqa: E402
from assay.cli import cli  # noqa: E402


@pytest.fixture(scope="module")
def address():
    """An in-process cluster the command connects to by address (no worker processes)."""
    import distributed

    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def run(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("scale")
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(90, 4)), columns=["a", "b", "c", "d"])
    y = (X["a"] - X["b"] * X["c"] > 0).astype(int)
    model = xgb.XGBClassifier(n_estimators=10, max_depth=3, random_state=0, n_jobs=1).fit(X, y)
    model.save_model(root / "model.json")
    (root / "data").mkdir()
    for i in range(3):  # three files, one partition each
        part = X.iloc[30 * i : 30 * (i + 1)].assign(target=y.iloc[30 * i : 30 * (i + 1)])
        part.to_parquet(root / "data" / f"part{i}.parquet", index=False)
    loaded = xgb.XGBClassifier()
    loaded.load_model(root / "model.json")
    return root, X, loaded


def test_dask_local_writes_every_rows_attributions_and_reason_codes(files, address, tmp_path):
    root, X, model = files
    data = str(root / "data" / "*.parquet")
    base = ["explain", "--data", data, "--model", str(root / "model.json"), "--target",
            "target", "--rows", "all", "--quiet"]  # fmt: skip
    # 'local' starts worker processes here (the model travels pickled to them)
    result = run([*base, "--dask", "local", "--out", str(tmp_path / "wide")])
    assert result.exit_code == 0, result.output
    wide = pd.read_parquet(tmp_path / "wide").sort_values("row_id", ignore_index=True)
    ref = assay.explain(model, X, method="tree")
    out = ref.output_names[0]
    np.testing.assert_array_equal(wide["row_id"], np.arange(90))
    got = wide[[f"attr:{f}:{out}" for f in "abcd"]].to_numpy()
    np.testing.assert_allclose(got, ref.values[:, :, 0], rtol=0, atol=1e-12)
    assert (tmp_path / "wide" / "_assay_explanation.json").exists()
    back = read_explanation_parquet(tmp_path / "wide")  # the command's output reads back whole
    np.testing.assert_allclose(back.values, ref.values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(back.base_values, ref.base_values, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(back.data, ref.data)

    result = run([*base, "--dask", address, "--top-k", "2", "--out", str(tmp_path / "codes")])
    assert result.exit_code == 0, result.output
    codes = pd.read_parquet(tmp_path / "codes").sort_values(["row_id", "rank"])
    assert list(codes.columns) == ["row_id", "output", "rank", "feature", "value", "attribution"]
    assert len(codes) == 2 * 90
    order = np.argsort(-np.abs(ref.values[:, :, 0]), axis=1, kind="stable")[:, :2]
    names = np.array(list("abcd"))[order].ravel()
    np.testing.assert_array_equal(codes["feature"].astype(str), names)


def test_rows_n_and_in_memory_top_k(files, address, tmp_path):
    root, X, model = files
    data = str(root / "data" / "*.parquet")
    args = ["explain", "--data", data, "--model", str(root / "model.json"), "--target",
            "target", "--rows", "40", "--dask", address, "--quiet",
            "--out", str(tmp_path / "first")]  # fmt: skip
    result = run(args)
    assert result.exit_code == 0, result.output
    wide = pd.read_parquet(tmp_path / "first")
    assert sorted(wide["row_id"]) == list(range(40))  # rows 0..39 cross a partition boundary
    one = root / "data" / "part0.parquet"
    result = run(["explain", "--data", str(one), "--model", str(root / "model.json"),
                  "--target", "target", "--rows", "all", "--top-k", "1", "--quiet",
                  "--out", str(tmp_path / "codes.parquet")])  # fmt: skip
    assert result.exit_code == 0, result.output
    codes = pd.read_parquet(tmp_path / "codes.parquet")
    ref = assay.explain(model, X.iloc[:30], method="tree").values[:, :, 0]
    top = np.take_along_axis(ref, np.abs(ref).argmax(axis=1)[:, None], 1)[:, 0]
    np.testing.assert_allclose(codes.sort_values("row_id")["attribution"], top, atol=1e-12)


@pytest.mark.parametrize(
    "case", ["no_match", "not_empty", "bad_rows", "bad_top_k", "bad_column", "no_scheduler"]
)
def test_dask_bad_inputs_give_one_line_error(files, tmp_path, case):
    root, _, _ = files
    data, out = str(root / "data" / "*.parquet"), tmp_path / "out"
    extra = ["--target", "target"]
    if case == "no_match":
        data = str(root / "nothing" / "*.parquet")
    elif case == "not_empty":
        out.mkdir()
        (out / "old.txt").write_text("x")
    elif case == "bad_rows":
        extra += ["--rows", "some"]
    elif case == "bad_top_k":
        extra += ["--top-k", "0"]
    elif case == "bad_column":
        extra = ["--target", "nope"]
    # every other case fails before connecting to the (absent) scheduler at tcp://127.0.0.1:1
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        result = run(["explain", "--data", data, "--model", str(root / "model.json"), *extra,
                      "--dask", "tcp://127.0.0.1:1", "--quiet", "--out", str(out)])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1
