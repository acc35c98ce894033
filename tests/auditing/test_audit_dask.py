"""The audit on a Dask DataFrame: exact sections equal the in-memory ones on the same rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import dask.dataframe as dd  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.linear_model import LinearRegression  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

import assay  # noqa: E402
from assay.auditing import audit_dask  # noqa: E402
from assay.auditing._dask_stats import (  # noqa: E402
    auc_from_table,
    merge_stats,
    quantile_from_table,
)
from assay.auditing._fairness import group_gap_tests  # noqa: E402
from assay.auditing._performance import performance_section  # noqa: E402
from assay.errors import InvalidInputError  # noqa: E402
from assay.model import wrap  # noqa: E402

TOL = 1e-9


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as c:  # fmt: skip
        yield c


def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["a", "b", "c", "d"])
    group = np.where(rng.random(n) < 0.3, "f", "m")
    logit = 1.2 * X["a"] - 0.8 * X["b"] + 0.6 * (group == "f")
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y, group


@pytest.fixture(scope="module")
def binary():
    X, y, group = _data(21_000)  # above EXACT_ROWS: the calibration test from bin sums
    model = HistGradientBoostingClassifier(max_iter=8, random_state=0).fit(X[:1000], y[:1000])
    return model, X, y, group


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=TOL, atol=TOL)


def _compare_groups(section, adapter, X, y, group, alpha=0.05):
    _, cmp, _, _ = group_gap_tests(
        adapter, X.to_numpy(), y, pd.DataFrame({"grp": group}), alpha=alpha, seed=0,
        n_permutations=9,
    )  # fmt: skip
    ref = cmp.groups.sort_values(["metric", "group"], ignore_index=True)
    got = pd.DataFrame(section["data"]["groups"])
    got = got[got["metric"].isin(set(ref["metric"]))].sort_values(["metric", "group"])
    assert list(got["metric"]) == list(ref["metric"]) and list(got["group"]) == list(ref["group"])
    for col in ("n", "value", "ci_low", "ci_high"):
        _close(got[col].to_numpy(dtype=float), ref[col].to_numpy(dtype=float))
    pairs = pd.DataFrame(section["data"]["pairs"])
    pairs = pairs[pairs["metric"].isin(set(ref["metric"]))].sort_values("metric", ignore_index=True)
    rp = cmp.pairs.sort_values("metric", ignore_index=True)
    cols = ["estimate", "ci_low", "ci_high", "value_a", "value_b"]
    if (rp["kind"] == "rate").all():
        cols += ["ratio", "ratio_ci_low", "ratio_ci_high"]
    for col in cols:
        _close(pairs[col].to_numpy(dtype=float), rp[col].to_numpy(dtype=float))


def test_binary_exact_sections_equal_in_memory_and_sample_is_reported(client, binary):
    model, X, y, group = binary
    frame = X.assign(outcome=y, grp=group)
    result = audit_dask(
        model, dd.from_pandas(frame, npartitions=7), "outcome", sensitive="grp", client=client,
        sample_rows=250, n_explain=5, seed=3,
    )  # fmt: skip
    adapter = wrap(model)
    ref = performance_section(adapter, X.to_numpy(), y, alpha=0.05, seed=3)
    got = result.sections["performance"]
    for key, value in ref["data"]["audited"].items():
        _close(got["data"]["audited"][key], value)
    for key in ("gap", "p_value", "null_median_gap", "observed", "predicted", "counts"):
        _close(got["data"]["calibration"][key], ref["data"]["calibration"][key])
    assert got["data"]["auc_error_bound"] == 0.0
    _compare_groups(result.sections["group_metrics"], adapter, X, y, group)

    # global attributions: exact TreeSHAP on every row, averaged on the cluster
    exp = assay.explain(model, X, method="tree")
    imp = pd.DataFrame(result.sections["global_attributions"]["data"]["importance"])
    last = imp[imp["output"] == exp.output_names[-1]].set_index("feature")
    _close(last.loc[list(X.columns), "mean_abs"], np.abs(exp.values[:, :, -1]).mean(axis=0))

    # which sections ran on every row and which on the sample, and how many rows
    n = len(X)
    assert result.meta["n_rows"] == n and result.meta["sample_rows"] == 250
    for key, sec in result.sections.items():
        used = sec["data"]["rows_used"]
        assert used["n_total"] == n
        if key in ("performance", "group_metrics", "global_attributions"):
            assert used["scope"] == "all rows" and used["n_rows"] == n, key
        elif key == "slices" and "all_rows" in sec["data"]:  # slices found: counted on all rows
            assert used["n_rows"] == n and used["scope"].startswith("sample search")
        else:
            assert used["scope"] == "sample" and used["n_rows"] == 250, key
        assert result.meta["section_rows_used"][key] == used["n_rows"]
    assert {"glassbox", "fairness", "slices"} <= set(result.meta["dask"]["sample_sections"])
    # the sampled fairness section really ran on the sample's rows
    assert sum(result.sections["fairness"]["data"]["group_sizes"].values()) == 250
    assert assay.AuditResult.from_dict(result.to_dict()).sections.keys() == result.sections.keys()


def test_small_data_and_regression_equal_in_memory(client):
    X, y, group = _data(3000, seed=1)
    model = HistGradientBoostingClassifier(max_iter=5, random_state=0).fit(X, y)
    frame = X.assign(outcome=y, grp=group)
    result = audit_dask(
        model, dd.from_pandas(frame, npartitions=3), "outcome", sensitive=["grp"],
        client=client, sample_rows=200, n_explain=5,
    )  # fmt: skip
    ref = performance_section(wrap(model), X.to_numpy(), y, seed=0)
    got = result.sections["performance"]["data"]
    for key in ("gap", "p_value", "observed", "counts"):  # row-level simulation, as in memory
        _close(got["calibration"][key], ref["data"]["calibration"][key])
    _close(got["audited"]["AUC"], ref["data"]["audited"]["AUC"])

    target = X["a"] * 2.0 + np.where(group == "f", 1.0, 0.0) + 100.0
    reg = LinearRegression().fit(X, target - X["c"])
    frame = X.assign(target=target, grp=group)
    result = audit_dask(
        reg, dd.from_pandas(frame, npartitions=4), "target", sensitive="grp", client=client,
        sample_rows=200, n_explain=5,
    )  # fmt: skip
    ref = performance_section(wrap(reg), X.to_numpy(), target.to_numpy(), seed=0)
    for key, value in ref["data"]["audited"].items():
        _close(result.sections["performance"]["data"]["audited"][key], value)
    _compare_groups(result.sections["group_metrics"], wrap(reg), X, target.to_numpy(), group)
    assert "global_attributions" in result.meta["skipped"]  # no trees: said, not faked


def test_auc_table_exact_merge_and_coarse_bound():
    rng = np.random.default_rng(0)
    for trial in range(20):
        n = int(rng.integers(50, 400))
        p = np.round(rng.random(n), int(rng.integers(1, 4)))  # ties
        labels = (rng.random(n) < p).astype(int)
        labels[:2] = [0, 1]
        parts = np.array_split(np.arange(n), 4)

        def stats(rows, p=p, labels=labels):
            keys, inv = np.unique(p[rows], return_inverse=True)
            table = (keys, np.bincount(inv, weights=labels[rows], minlength=keys.size),
                     np.bincount(inv, minlength=keys.size).astype(float))  # fmt: skip
            return {"n": rows.size, "task": "binary", "coarse": False, "table": table,
                    "sums": {"pos": 0.0}, "groups": {}}  # fmt: skip

        merged = stats(parts[0])
        for rows in parts[1:]:
            merged = merge_stats(merged, stats(rows), 10**6)
        auc, bound = auc_from_table(merged["table"], merged["coarse"])
        assert bound == 0.0
        assert abs(auc - roc_auc_score(labels, p)) < 1e-12, trial
        q = np.linspace(0, 1, 11)
        np.testing.assert_array_equal(quantile_from_table(merged["table"], q), np.quantile(p, q))
    # coarsened: scores packed into a few grid cells (width 2^-24); the AUC is within its
    # stated bound of the exact one
    p = 0.5 + rng.random(5000) * 1e-6
    labels = (rng.random(5000) < p).astype(int)
    a = {"n": 2500, "task": "binary", "coarse": False, "sums": {}, "groups": {}}
    tables = []
    for rows in (slice(0, 2500), slice(2500, 5000)):
        keys, inv = np.unique(p[rows], return_inverse=True)
        tables.append((keys, np.bincount(inv, weights=labels[rows]),
                       np.bincount(inv).astype(float)))  # fmt: skip
    merged = merge_stats({**a, "table": tables[0]}, {**a, "table": tables[1]}, 100)
    assert merged["coarse"]
    auc, bound = auc_from_table(merged["table"], True)
    assert 0 < bound < 0.5
    assert abs(auc - roc_auc_score(labels, p)) <= bound


def test_bad_input_is_explained(client, binary):
    model, X, y, _ = binary
    ddf = dd.from_pandas(X.iloc[:100].assign(outcome=y[:100]), npartitions=2)
    with pytest.raises(InvalidInputError, match="not in the Dask DataFrame"):
        audit_dask(model, ddf, "label", client=client)
    with pytest.raises(InvalidInputError, match="not in the Dask DataFrame"):
        assay.audit(model, ddf, "outcome", sensitive=["sex"])  # dispatched to audit_dask
    with pytest.raises(InvalidInputError, match="name of its target column"):
        audit_dask(model, ddf, y[:100], client=client)
    with pytest.raises(InvalidInputError, match=r"dask\.dataframe\.DataFrame"):
        audit_dask(model, X, "outcome", client=client)


def test_partition_lengths_match_the_partitions_of_a_projected_parquet_glob(tmp_path):
    """Dask fuses small Parquet partitions in map_partitions after a column projection but
    not in to_delayed; the row counts must be those of the partitions that are computed."""
    pytest.importorskip("pyarrow")
    from assay.attribution._distributed import _partition_lengths

    rng = np.random.default_rng(0)
    for i in range(3):
        frame = pd.DataFrame(rng.normal(size=(1000, 3)), columns=list("abc"))
        frame.assign(target=1, grp="f").to_parquet(tmp_path / f"p{i}.parquet", index=False)
    ddf = dd.read_parquet(sorted(str(p) for p in tmp_path.glob("*.parquet")))[list("abc")]
    lengths = _partition_lengths(ddf, None)
    assert lengths == [len(p.compute()) for p in ddf.to_delayed()]
    assert sum(lengths) == 3000


def test_numeric_group_labels_and_order_match_in_memory(client, binary):
    """Numeric labels (2 < 10 < 33, not "10" < "2" < "33") read, order and orient as in memory;
    the first tested rate's p-value (all rows, counts path in memory) is the in-memory one."""
    model, X, y, group = binary
    rng = np.random.default_rng(5)
    grp = np.where(group == "f", 10, np.where(rng.random(len(X)) < 0.5, 2, 33))
    frame = X.assign(outcome=y, grp=grp)
    result = audit_dask(
        model, dd.from_pandas(frame, npartitions=4), "outcome", sensitive="grp", client=client,
        sample_rows=100, n_explain=5, seed=4,
    )  # fmt: skip
    sec = result.sections["group_metrics"]
    _, cmp, _, _ = group_gap_tests(
        wrap(model), X.to_numpy(), y, pd.DataFrame({"grp": grp}), alpha=0.05, seed=4,
    )  # fmt: skip
    tested = list(cmp.tests["metric"])
    got = [(g["metric"], g["group"]) for g in sec["data"]["groups"] if g["metric"] in tested]
    ref = sorted(zip(cmp.groups["metric"], cmp.groups["group"], strict=True),
                 key=lambda t: tested.index(t[0]))  # fmt: skip
    assert got == ref and [g for m, g in got if m == tested[0]] == ["2", "10", "33"]
    pairs = [(p["metric"], p["group_a"], p["group_b"], p["estimate"])
             for p in sec["data"]["pairs"] if p["metric"] in tested]  # fmt: skip
    rp = cmp.pairs.sort_values("metric", key=lambda s: s.map(tested.index), kind="stable")
    assert [p[:3] for p in pairs] == list(zip(rp["metric"], rp["group_a"], rp["group_b"],
                                                strict=True))  # fmt: skip
    _close([p[3] for p in pairs], rp["estimate"].to_numpy(dtype=float))
    first = sec["data"]["tests"][0]
    assert first["metric"] == tested[0] == "selection_rate"
    assert first["p_value"] == cmp.tests["p_value"].iloc[0]
    assert set(sec["data"]["group_sizes"]) == set(result.sections["fairness"]["data"]
                                                  ["group_sizes"])  # fmt: skip


def test_missing_group_labels_skip_the_group_sections_as_in_memory(client):
    X, y, group = _data(400, seed=2)
    model = HistGradientBoostingClassifier(max_iter=3, random_state=0).fit(X, y)
    grp = pd.Series(group, dtype=object)
    grp[[7, 301]] = np.nan  # a rare missing label, likely outside any sample
    frame = X.assign(outcome=y, grp=grp)
    result = audit_dask(model, dd.from_pandas(frame, npartitions=3), "outcome", sensitive="grp",
                        client=client, sample_rows=50, n_explain=5)  # fmt: skip
    ref = assay.audit(model, X, y, sensitive=grp, n_explain=5)  # the in-memory rule
    for res in (result, ref):
        assert "fairness" not in res.sections and "group_metrics" not in res.sections
        assert "missing value(s)" in res.meta["skipped"]["fairness"]
    assert "'grp' has 2 missing value(s) over all rows" in result.meta["skipped"]["group_metrics"]
    assert "performance" in result.sections  # the rest of the audit runs
