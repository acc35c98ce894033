"""``assay.compare`` and ``assay compare``: a planted upgrade regression is found and gates the
pipeline; the sections agree with direct counts (the false-alarm rates are in
test_compare_null.py)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from click.testing import CliRunner
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

import assay
from assay.cli import cli
from assay.errors import InvalidInputError


def _cohort(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"g": rng.integers(0, 4, n), "a": rng.normal(size=n), "b": rng.normal(size=n)})
    p = 1 / (1 + np.exp(-(1.5 * X["a"] - 1.5 * X["b"])))
    return X, (rng.random(n) < p.to_numpy()).astype(int)


@pytest.fixture(scope="module")
def planted():
    """Baseline: a logistic model that misses feature b (worse overall). New: boosting on all
    features, fitted where group g = 3 has scrambled labels, so it is better overall but worse
    than the baseline for g = 3."""
    X, y = _cohort(4000, 0)
    tr, te = slice(0, 2000), slice(2000, None)
    baseline = LogisticRegression().fit(X[tr][["g", "a"]], y[tr])
    y_bad = y[tr].copy()
    g3 = (X[tr]["g"] == 3).to_numpy()
    y_bad[g3] = np.random.default_rng(1).permutation(y_bad[g3])
    new = HistGradientBoostingClassifier(max_iter=60, random_state=0).fit(X[tr], y_bad)
    Xte, yte = X[te].reset_index(drop=True), y[te]
    sens = pd.Series(np.where(Xte["g"] == 3, "g3", "other"), name="group")
    return new, baseline, Xte, yte, sens


@pytest.fixture(scope="module")
def planted_result(planted):
    new, baseline, X, y, sens = planted
    return assay.compare(new, baseline, X, y, sensitive=sens, n_explain=60, seed=0)


def test_planted_upgrade_better_overall_but_regression_found(planted_result):
    res = planted_result
    perf = {m["metric"]: m for m in res.sections["performance"]["data"]["metrics"]}
    assert perf["Brier score"]["ci_high"] < 0  # new better overall, significantly
    assert perf["AUC"]["ci_low"] > 0
    reg = res.sections["regressions"]
    assert reg["status"] == "alert"
    top = reg["data"]["regressions"][0]
    assert top["description"] == "g = 3"
    assert 0.2 < top["share"] < 0.3
    assert top["loss_new"] > top["loss_baseline"]
    assert top["ci_low_one_sided"] > top["margin"] > 0
    assert res.status == "alert"
    assert res.findings[0]["status"] == "alert"
    assert any(f["section"] == "regressions" for f in res.findings)
    assert res.key_changes[0]["status"] == "alert"
    # the sensitive group holding the planted rows is worse off, the others better off
    groups = {g["group"]: g for g in res.sections["fairness"]["data"]["groups"]}
    assert groups["g3"]["change"] == "worse off beyond the margin"
    assert groups["other"]["change"] == "better off"
    # new proxies: b (newly relied on, independent of the group) is not one; g defines it
    proxies = res.sections["fairness"]["data"]["new_proxies"]
    assert {p["feature"] for p in proxies} <= {"g"}


def test_result_round_trips_and_displays(planted_result):
    d = json.loads(json.dumps(planted_result.to_dict(), allow_nan=False))
    assert d["kind"] == "ComparisonResult" and d["schema_version"] == 1
    assert [f["section"] for f in d["findings"]] == [f["section"] for f in planted_result.findings]
    back = assay.ComparisonResult.from_dict(d)
    assert back.status == planted_result.status
    assert back.sections.keys() == planted_result.sections.keys()
    assert "<table>" in back._repr_html_()
    with pytest.raises(InvalidInputError, match="not an assay comparison result"):
        assay.ComparisonResult.from_dict({"kind": "AuditResult"})


def test_regression_tables_list_each_entry_in_column_order(planted_result):
    reg = planted_result.sections["regressions"]
    tables = {t["title"]: t for t in reg["tables"]}
    keys = ["description", "support", "share", "loss_new", "loss_baseline", "loss_difference"]
    keys += ["ci_low_one_sided", "p_worse"]
    for title, entries in (
        ("Confirmed regressions", reg["data"]["regressions"]),
        ("Worse than the other rows, not confirmed as regressions", reg["data"]["not_regressions"]),
    ):
        if not entries:
            assert title not in tables
            continue
        t = tables[title]
        assert t["columns"][:3] == ["subgroup", "rows", "share"] and len(t["columns"]) == 8
        assert t["rows"] == [[e[k] for k in keys] for e in entries]
    assert "Confirmed regressions" in tables  # the planted regression is listed


def test_sections_agree_with_direct_counts(planted, planted_result):
    new, baseline, X, y, _ = planted
    p_new = new.predict_proba(X)[:, 1]
    p_base = baseline.predict_proba(X[["g", "a"]])[:, 1]
    flips = planted_result.sections["flips"]["data"]
    d_new, d_base = (p_new >= 0.5).astype(int), (p_base >= 0.5).astype(int)
    assert flips["n_flipped"] == int(np.sum(d_new != d_base))
    assert flips["fixed"] == int(np.sum((d_new != d_base) & (d_new == y)))
    assert flips["broken"] == int(np.sum((d_new != d_base) & (d_base == y)))
    perf = {m["metric"]: m for m in planted_result.sections["performance"]["data"]["metrics"]}
    brier = np.mean((p_new - y) ** 2) - np.mean((p_base - y) ** 2)
    assert perf["Brier score"]["estimate"] == pytest.approx(brier, abs=1e-12)
    # the baseline does not take b: its share is 0, and the new model relies on it
    feats = {f["feature"]: f for f in planted_result.sections["attributions"]["data"]["features"]}
    assert feats["b"]["share_baseline"] == 0 and not feats["b"]["in_baseline"]
    assert "b" in planted_result.sections["attributions"]["data"]["newly_relied_on"]


def test_cli_compare_gate_and_report(planted, tmp_path):
    new, baseline, X, y, sens = planted
    X.assign(target=y, group=sens.to_numpy()).to_csv(tmp_path / "data.csv", index=False)
    sio.dump(new, tmp_path / "new.skops")
    sio.dump(baseline, tmp_path / "old.skops")
    trusted = ",".join(sio.get_untrusted_types(file=tmp_path / "new.skops"))
    args = ["compare", "--data", str(tmp_path / "data.csv"), "--target", "target", "--model",
            str(tmp_path / "new.skops"), "--baseline", str(tmp_path / "old.skops"),
            "--sensitive", "group", "--trust-types", trusted, "--quiet"]  # fmt: skip
    res = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "a"), "--fail-on", "alert"])
    assert res.exit_code == 1, res.output
    assert "--fail-on alert" in res.output
    data = json.loads((tmp_path / "a" / "results.json").read_text())
    assert any(f["section"] == "regressions" and f["status"] == "alert" for f in data["findings"])
    html = (tmp_path / "a" / "report.html").read_text()
    assert html.index('id="key-changes"') < html.index('<section id="regressions"')
    assert "g = 3" in html
    res = CliRunner().invoke(cli, [*args[:7], "--out", str(tmp_path / "c")])
    assert res.exit_code == 2 and "--baseline" in res.output


def test_report_escapes_user_strings(planted):
    new, baseline, X, y, _ = planted
    sens = pd.Series(["<script>x</script>"] * 1000 + ["b"] * 1000, name="s")
    res = assay.compare(new, baseline, X, y, sensitive=sens, n_explain=10, seed=0)
    from assay.report import render_comparison_html

    html = render_comparison_html(res)
    assert "<script>x" not in html and "&lt;script&gt;x" in html


def test_regressors_and_bad_inputs():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(400, 3)), columns=["a", "b", "c"])
    y = X["a"] * 2 + X["b"] + rng.normal(scale=0.3, size=400)
    old, new = LinearRegression().fit(X[["a"]], y), Ridge().fit(X, y)
    res = assay.compare(new, old, X, y, n_explain=20)
    perf = {m["metric"]: m for m in res.sections["performance"]["data"]["metrics"]}
    assert perf["R²"]["estimate"] > 0 and perf["mean absolute error"]["ci_high"] < 0
    assert "flips" not in res.sections and "regressor" in res.meta["skipped"]["flips"]
    clf = LogisticRegression().fit(X, (y > 0).astype(int))
    with pytest.raises(InvalidInputError, match="do not answer the same question"):
        assay.compare(clf, old, X, y)
    with pytest.raises(InvalidInputError, match="sensitive has 3 rows"):
        assay.compare(new, old, X, y, sensitive=["a", "b", "c"])
    with pytest.raises(InvalidInputError, match="tolerance"):
        assay.compare(new, old, X, y, tolerance=-1)


def test_readme_compare_example_runs():
    """The README's compare snippet runs after the module tour's set-up block, and finds what
    the README says: creatinine no longer used."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    tour = text[text.index("## What each module does") :]
    setup = re.findall(r"```python\n(.*?)```", tour, re.S)[0]
    start = tour.index("### A new version against the one in use")
    block = re.findall(r"```python\n(.*?)```", tour[start:], re.S)[0]
    namespace: dict = {}
    exec(compile(setup + block, "README.md", "exec"), namespace)
    change = namespace["change"]
    assert change.sections["attributions"]["data"]["no_longer_used"] == ["creatinine"]
    assert all(f["status"] in ("warning", "alert") for f in change.findings)
