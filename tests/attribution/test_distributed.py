"""assay.explain on a Dask DataFrame: same values as in memory, row for row, from the workers."""

from __future__ import annotations

import json
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
pytest.importorskip("pyarrow")

import assay  # noqa: E402
from assay.attribution import _distributed  # noqa: E402
from assay.errors import InvalidInputError, MissingDependencyError  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(403, 6)), columns=[f"x{j}" for j in range(6)])
    X.loc[::17, "x2"] = np.nan  # missing values route like the model says
    y = (X["x0"] + X["x1"] ** 2 - X["x3"] * X["x4"] > 0.5).astype(int)
    return X, y


@pytest.fixture(scope="module")
def xgb_model(data):
    xgb = pytest.importorskip("xgboost")
    X, y = data
    return xgb.XGBClassifier(n_estimators=30, max_depth=4, random_state=0, n_jobs=1).fit(X, y)


def _ddf(X, n=5):
    return dd.from_pandas(X, npartitions=n, sort=False)


def test_treeshap_equals_in_memory_row_for_row(client, data, xgb_model):
    X, _ = data
    lazy = assay.explain(xgb_model, _ddf(X), method="tree", client=client)
    assert isinstance(lazy, _distributed.DistributedExplanation)
    ref = assay.explain(xgb_model, X, method="tree")
    values = lazy.values
    assert values.shape == ref.values.shape
    assert values.chunks[0] == lazy.partition_lengths  # one block per partition
    v, b = client.compute([values, lazy.base_values], sync=True)
    np.testing.assert_allclose(v, ref.values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(b, ref.base_values, rtol=0, atol=1e-12)
    # the independent oracle: XGBoost's own contributions
    contribs = xgb_model.get_booster().predict(__import__("xgboost").DMatrix(X), pred_contribs=True)
    np.testing.assert_allclose(v[:, :, 0], contribs[:, :-1], atol=1e-5)
    exp = lazy.compute()
    np.testing.assert_allclose(exp.values, ref.values, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(exp.data, ref.data)
    # built once per worker process (both threads-workers share this process)
    builds = client.run(lambda: dict(_distributed.BUILD_COUNTS))
    token = [t for t in next(iter(builds.values())) if t.startswith(lazy.params["model_token"])]
    assert all(b[token[0]] == 1 for b in builds.values())


def test_sklearn_interventional_and_sampling_methods_match(client, data):
    from sklearn.ensemble import GradientBoostingRegressor

    X, _ = data
    Xf = X.fillna(0.0)
    model = GradientBoostingRegressor(n_estimators=15, max_depth=3, random_state=0)
    model = model.fit(Xf, Xf["x0"] - 2 * Xf["x1"] * Xf["x5"])
    bg = Xf.sample(30, random_state=1)
    ddf = _ddf(Xf, 4)
    cases = [
        ("tree", {"mode": "interventional"}),
        ("exact", {}),
        ("kernel", {}),
        ("permutation", {"n_permutations": 6}),
        ("lime", {"n_samples": 200}),
    ]
    for method, opts in cases:
        lazy = assay.explain(model, ddf, method=method, background=bg, seed=11, **opts)
        got = lazy.compute()
        ref = assay.explain(model, Xf, method=method, background=bg, seed=11, **opts)
        # same row-keyed random draws as one in-memory call, whatever the partitioning
        np.testing.assert_allclose(got.values, ref.values, rtol=0, atol=1e-12, err_msg=method)
        np.testing.assert_allclose(got.base_values, ref.base_values, rtol=0, atol=1e-12)
        if ref.stderr is None:
            assert lazy.stderr is None
        else:
            np.testing.assert_allclose(got.stderr, ref.stderr, rtol=0, atol=1e-12)


def test_seed_none_draws_one_seed_for_all_partitions(client, data):
    from sklearn.tree import DecisionTreeRegressor

    X, _ = data
    Xf = X.fillna(0.0)
    model = DecisionTreeRegressor(max_depth=5, random_state=0).fit(Xf, Xf["x0"] * Xf["x1"])
    lazy = assay.explain(model, _ddf(Xf, 3), method="permutation", background=Xf[:20])
    seed = lazy.params["seed"]
    assert isinstance(seed, int)
    got = lazy.compute()
    assert got.params["seed"] == seed
    ref = assay.explain(model, Xf, method="permutation", background=Xf[:20], seed=seed)
    np.testing.assert_allclose(got.values, ref.values, rtol=0, atol=1e-12)
    other = assay.explain(model, Xf, method="permutation", background=Xf[:20], seed=seed + 1)
    assert np.abs(other.values - ref.values).max() > 1e-6  # the seed matters for this model


def test_wide_parquet_round_trips(client, data, xgb_model, tmp_path):
    X, _ = data
    lazy = assay.explain(xgb_model, _ddf(X), method="tree")
    out = lazy.to_parquet(tmp_path / "wide")
    parts = sorted(p.name for p in out.glob("*.parquet"))
    assert len(parts) == lazy.npartitions  # written by the partitions' tasks, not gathered
    back = pd.read_parquet(out).sort_values("row_id", ignore_index=True)
    ref = assay.explain(xgb_model, X, method="tree")
    np.testing.assert_array_equal(back["row_id"].to_numpy(), np.arange(len(X)))
    feats = ref.feature_names
    got = back[[f"attr:{f}:{ref.output_names[0]}" for f in feats]].to_numpy()
    np.testing.assert_array_equal(got, ref.values[:, :, 0])
    np.testing.assert_array_equal(back[f"base:{ref.output_names[0]}"], ref.base_values[:, 0])
    meta = json.loads((out / _distributed.METADATA_FILE).read_text())
    assert meta["feature_names"] == feats and meta["method"] == "tree"
    assert meta["n_samples"] == len(X) and meta["layout"] == "wide"


def test_reason_codes_are_each_rows_largest(client, data, xgb_model, tmp_path):
    X, _ = data
    lazy = assay.explain(xgb_model, _ddf(X), method="tree")
    out = lazy.to_parquet(tmp_path / "codes", top_k=3)
    codes = pd.read_parquet(out).sort_values(["row_id", "rank"], ignore_index=True)
    assert len(codes) == 3 * len(X)
    ref = assay.explain(xgb_model, X, method="tree").values[:, :, 0]
    order = np.argsort(-np.abs(ref), axis=1, kind="stable")[:, :3]
    names = np.array(X.columns)
    np.testing.assert_array_equal(codes["feature"].astype(str), names[order].ravel())
    np.testing.assert_array_equal(codes["attribution"], np.take_along_axis(ref, order, 1).ravel())
    vals = X.to_numpy()[np.arange(len(X))[:, None], order].ravel()
    np.testing.assert_array_equal(codes["value"], vals)  # NaN where the row is missing
    np.testing.assert_array_equal(codes["rank"], np.tile([1, 2, 3], len(X)))


def test_multiclass_and_stderr_columns(client, data, tmp_path):
    from sklearn.ensemble import RandomForestClassifier

    X, _ = data
    Xf = X.fillna(0.0)
    y = np.digitize(Xf["x0"] + Xf["x1"], [-0.5, 0.5])  # three classes
    model = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0).fit(Xf, y)
    lazy = assay.explain(model, _ddf(Xf, 3), method="tree")
    ref = assay.explain(model, Xf, method="tree")
    assert lazy.values.shape == ref.values.shape == (len(Xf), 6, 3)
    wide = pd.read_parquet(lazy.to_parquet(tmp_path / "mc")).sort_values("row_id")
    for j, o in enumerate(ref.output_names):
        cols = [f"attr:{f}:{o}" for f in ref.feature_names]
        np.testing.assert_allclose(wide[cols].to_numpy(), ref.values[:, :, j], atol=1e-12)
    codes = lazy.reason_codes(2).compute()
    assert len(codes) == 2 * 3 * len(Xf)  # k codes per row and output
    assert set(codes["output"].astype(str)) == set(ref.output_names)
    # a sampling method writes its standard errors beside the values
    kern = assay.explain(model, _ddf(Xf, 3), method="permutation", background=Xf[:15], seed=0)
    frame = kern.to_frame().compute().sort_values("row_id")
    mem = assay.explain(model, Xf, method="permutation", background=Xf[:15], seed=0)
    o = mem.output_names[1]
    se = frame[[f"stderr:{f}:{o}" for f in mem.feature_names]].to_numpy()
    np.testing.assert_allclose(se, mem.stderr[:, :, 1], rtol=0, atol=1e-12)
    assert (se > 0).any()


def test_global_importance_is_exact_over_all_rows(client, data, xgb_model):
    X, _ = data
    lazy = assay.explain(xgb_model, _ddf(X), method="tree")
    table = lazy.global_importance()
    ref = np.abs(assay.explain(xgb_model, X, method="tree").values[:, :, 0]).mean(axis=0)
    got = table.set_index("feature").loc[list(X.columns), "mean_abs"].to_numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0)
    assert table["mean_abs"].is_monotonic_decreasing
    assert table["feature"].iloc[0] in ("x0", "x1", "x3", "x4")  # the planted features


def test_local_scheduler_without_a_client(data, xgb_model, monkeypatch):
    import dask

    X, _ = data
    # as if no distributed client existed: the graph carries the model, dask's scheduler runs it
    monkeypatch.setattr(_distributed, "_current_client", lambda client: None)
    with dask.config.set(scheduler="synchronous"):
        lazy = _distributed.explain_dask(xgb_model, _ddf(X, 3), method="tree")
        assert lazy._client is None
        ref = assay.explain(xgb_model, X, method="tree")
        np.testing.assert_allclose(lazy.compute().values, ref.values, rtol=0, atol=1e-12)


def test_bad_inputs_are_rejected(client, data, xgb_model):
    X, _ = data
    ddf = _ddf(X)
    with pytest.raises(InvalidInputError, match="explicit background"):
        assay.explain(xgb_model, ddf, method="kernel")
    with pytest.raises(InvalidInputError, match="in memory"):
        assay.explain(xgb_model, ddf, method="tree", mode="interventional", background=ddf)
    with pytest.raises(InvalidInputError, match="does not run on a Dask"):
        assay.explain(xgb_model, ddf, method="saliency")
    with pytest.raises(InvalidInputError, match=r"dask\.distributed\.Client"):
        assay.explain(xgb_model, ddf, method="tree", client=object())
    with pytest.raises(InvalidInputError, match="n_jobs"):
        assay.explain(xgb_model, ddf, method="kernel", background=X[:20], n_jobs=2)
    with pytest.raises(InvalidInputError, match="x5"):  # a missing column fails on the client
        assay.explain(xgb_model, _ddf(X.drop(columns="x5")), method="tree")
    with pytest.raises(InvalidInputError, match="no rows"):
        assay.explain(xgb_model, _ddf(X.iloc[:0], 1), method="tree")
    lazy = assay.explain(xgb_model, ddf, method="tree")
    for k in (0, -1, 1.5, True):
        with pytest.raises(InvalidInputError, match="positive integer"):
            lazy.reason_codes(k)


def test_worker_without_the_models_library(client, tmp_path, monkeypatch):
    # a model class from a module the client has and the workers lack
    mod = tmp_path / "assay_only_here.py"
    mod.write_text(
        textwrap.dedent(
            """
            import numpy as np

            class Linear:
                def __call__(self, X):
                    return np.asarray(X, dtype=float) @ np.arange(1.0, 4.0)
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import assay_only_here

    X = pd.DataFrame(np.random.default_rng(1).normal(size=(40, 3)), columns=list("abc"))
    lazy = assay.explain(
        assay_only_here.Linear(), _ddf(X, 2), method="exact", background=X[:5], client=client
    )
    # the workers (threads of this process here) cannot import the module any more
    monkeypatch.delitem(sys.modules, "assay_only_here")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(tmp_path)])
    with pytest.raises(MissingDependencyError, match="assay_only_here"):
        lazy.compute()


def test_read_explanation_parquet_round_trips(client, data, xgb_model, tmp_path):
    from assay.attribution import read_explanation_parquet

    X, _ = data
    lazy = assay.explain(xgb_model, _ddf(X), method="tree", client=client)
    out = lazy.to_parquet(tmp_path / "wide")
    ref = assay.explain(xgb_model, X, method="tree")
    back = read_explanation_parquet(out)
    assert back.feature_names == ref.feature_names and back.output_names == ref.output_names
    assert back.method == "tree" and back.output_space == ref.output_space
    np.testing.assert_allclose(back.values, ref.values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(back.base_values, ref.base_values, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(back.data, ref.data)  # NaN where the input was missing
    assert back.stderr is None
    some = [400, 3, 17, 0]
    part = read_explanation_parquet(out, rows=some)
    np.testing.assert_allclose(part.values, ref.values[some], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(part.data, ref.data[some])
    sl = read_explanation_parquet(out, rows=slice(10, 20))
    np.testing.assert_allclose(sl.base_values, ref.base_values[10:20], rtol=0, atol=1e-12)


def test_read_explanation_parquet_with_stderr_and_without_data(client, data, tmp_path):
    from sklearn.ensemble import RandomForestClassifier

    from assay.attribution import read_explanation_parquet

    X, _ = data
    Xf = X.fillna(0.0)[:90]
    y = np.digitize(Xf["x0"] + Xf["x1"], [-0.5, 0.5])
    model = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(Xf, y)
    kw = {"method": "permutation", "background": Xf[:10], "seed": 0}
    lazy = assay.explain(model, _ddf(Xf, 3), **kw)
    mem = assay.explain(model, Xf, **kw)
    back = read_explanation_parquet(lazy.to_parquet(tmp_path / "se", include_data=False))
    np.testing.assert_allclose(back.values, mem.values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(back.stderr, mem.stderr, rtol=0, atol=1e-12)
    assert back.values.shape == (90, 6, 3) and np.isnan(back.data).all()


def test_read_explanation_parquet_rejects_damaged_datasets(client, data, xgb_model, tmp_path):
    from assay.attribution import read_explanation_parquet

    X, _ = data
    lazy = assay.explain(xgb_model, _ddf(X[:60], 3), method="tree")
    out = lazy.to_parquet(tmp_path / "wide")
    meta_file = out / _distributed.METADATA_FILE
    good = json.loads(meta_file.read_text())

    def bad(meta, match, rows=None):
        meta_file.write_text(meta if isinstance(meta, str) else json.dumps(meta))
        with pytest.raises(InvalidInputError, match=match):
            read_explanation_parquet(out, rows=rows)

    bad("{not json", "not valid JSON")
    bad([1, 2], "kind")
    bad({**good, "kind": "Explanation"}, "kind")
    bad({**good, "layout": "reason_codes"}, "wide layout")
    bad({**good, "feature_names": ["x0", 3]}, "feature_names")
    bad({**good, "feature_names": ["../../etc/passwd"] * 6}, "duplicate")
    bad({**good, "feature_names": [f"z{j}" for j in range(6)]}, "lacks the columns")
    bad({**good, "n_samples": 61}, "incomplete")
    bad({**good, "n_samples": -1}, "n_samples")
    bad({**good, "schema_version": 7}, "schema_version")
    bad({**good, "params": None}, "params")
    bad(good, "row ids in 0..59", rows=[0, 60])
    bad(good, "repeat", rows=[1, 1])
    bad(good, "integer row ids", rows=["a"])
    meta_file.unlink()
    with pytest.raises(InvalidInputError, match=r"no _assay_explanation\.json"):
        read_explanation_parquet(out)
    meta_file.mkdir()
    with pytest.raises(InvalidInputError, match="regular file"):
        read_explanation_parquet(out)
    meta_file.rmdir()
    meta_file.write_text(json.dumps(good))
    next(out.glob("*.parquet")).write_bytes(b"PAR1 damaged")
    with pytest.raises(InvalidInputError, match="could not be read"):
        read_explanation_parquet(out)
    with pytest.raises(InvalidInputError, match="not a folder"):
        read_explanation_parquet(tmp_path / "nowhere")


_ORIGINAL_PARTITION = _distributed._explain_partition


def _slow_partition(*args):
    import time

    time.sleep(0.5)  # long enough that the interrupt lands while tasks are still pending
    return _ORIGINAL_PARTITION(*args)


def _scheduler_tasks(client, keys):
    """(tasks of ``keys`` still on the scheduler, tasks processing on any worker)."""
    keys = [str(k) for k in keys]
    left = client.run_on_scheduler(
        lambda dask_scheduler: sum(str(k) in keys for k in dask_scheduler.tasks)
    )
    return left, sum(len(v) for v in client.processing().values())


@pytest.mark.parametrize("where", ["progress", "gather"])
def test_ctrl_c_cancels_the_calls_tasks(client, data, xgb_model, monkeypatch, tmp_path, where):
    import time

    X, _ = data
    monkeypatch.setattr(_distributed, "_explain_partition", _slow_partition)
    lazy = assay.explain(xgb_model, _ddf(X, 8), method="tree", client=client)
    seen = {}

    def interrupt(futures, *args, **kwargs):
        seen["futures"] = list(futures)
        seen["pending"] = sum(not f.done() for f in seen["futures"])
        raise KeyboardInterrupt

    if where == "progress":
        monkeypatch.setattr(distributed, "progress", interrupt)
        with pytest.raises(KeyboardInterrupt):
            lazy.global_importance(progress=True)
    else:
        monkeypatch.setattr(client, "gather", interrupt)
        with pytest.raises(KeyboardInterrupt):
            lazy.to_parquet(tmp_path / "out")
        assert not (tmp_path / "out" / _distributed.METADATA_FILE).exists()
    assert seen["pending"] >= 1  # interrupted while the call's tasks were still running
    keys = [f.key for f in seen["futures"]]
    for _ in range(200):  # the scheduler forgets cancelled tasks asynchronously
        left, processing = _scheduler_tasks(client, keys)
        if left == 0 and processing == 0:
            break
        time.sleep(0.05)
    assert all(f.cancelled() for f in seen["futures"])
    assert (left, processing) == (0, 0)  # no pending task of the call is left on the cluster
