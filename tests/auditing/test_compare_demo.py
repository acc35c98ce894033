"""``assay compare --demo``: the demo model against a version fitted without creatinine, and the
command's other exit paths (usage errors, Ctrl-C); a multiclass comparison."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from click.testing import CliRunner
from sklearn.linear_model import LogisticRegression

import assay
import assay.auditing as auditing
from assay._cli_compare import DEMO_DROPPED, demo_models
from assay.cli import cli


def test_demo_names_what_changed():
    """The demo's variant drops creatinine: the comparison says creatinine is no longer used
    and confirms a regression in a high-creatinine subgroup."""
    new, baseline, X, y, sens, what = demo_models(0, n_samples=6000)
    assert DEMO_DROPPED in what
    res = assay.compare(new, baseline, X, y, sensitive=sens, n_explain=50, seed=0)
    assert res.sections["attributions"]["data"]["no_longer_used"] == [DEMO_DROPPED]
    regressions = res.sections["regressions"]["data"]["regressions"]
    assert regressions and regressions[0]["description"].startswith(f"{DEMO_DROPPED} >=")
    # income, a planted proxy of race, gains attribution share once creatinine is gone
    proxies = res.sections["fairness"]["data"]["new_proxies"]
    assert [(p["feature"], p["attribute"]) for p in proxies] == [("income", "race")]
    assert res.findings[0] == {
        "section": "regressions",
        "title": "Regressions by subgroup",
        "status": "alert",
        "message": res.sections["regressions"]["verdict"],
    }


def test_demo_usage_errors_and_interrupt(tmp_path, monkeypatch):
    runner = CliRunner()
    res = runner.invoke(cli, ["compare", "--demo", "--data", "x.csv", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "--demo cannot be combined" in res.output
    res = runner.invoke(cli, ["compare", "--demo", "--out", str(tmp_path), "--fail-on", "bad"])
    assert res.exit_code == 2

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    import assay._cli_compare as cli_compare

    sens = pd.DataFrame({"race": ["A"]})
    monkeypatch.setattr(cli_compare, "demo_models", lambda seed: (0, 0, [0], 0, sens, "x"))
    monkeypatch.setattr(auditing, "compare", interrupted)
    res = runner.invoke(cli, ["compare", "--demo", "--out", str(tmp_path / "o"), "--quiet"])
    assert res.exit_code == 130, res.output


def test_multiclass_comparison_counts():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(900, 3)), columns=["a", "b", "c"])
    y = np.digitize(X["a"] + X["b"] + rng.normal(scale=0.5, size=900), [-0.7, 0.7])
    tr, te = slice(0, 450), slice(450, None)
    old = LogisticRegression().fit(X[tr][["a"]], y[tr])
    new = LogisticRegression().fit(X[tr], y[tr])
    res = assay.compare(new, old, X[te], y[te], n_explain=20, seed=0)
    perf = {m["metric"]: m for m in res.sections["performance"]["data"]["metrics"]}
    acc_new = np.mean(new.predict(X[te]) == y[te])
    acc_old = np.mean(old.predict(X[te][["a"]]) == y[te])
    assert abs(perf["accuracy"]["estimate"] - (acc_new - acc_old)) < 1e-12
    assert perf["accuracy"]["ci_low"] > 0  # b carries real signal
    onehot = np.eye(3)[y[te]]
    brier = np.mean(((new.predict_proba(X[te]) - onehot) ** 2).sum(axis=1)) - np.mean(
        ((old.predict_proba(X[te][["a"]]) - onehot) ** 2).sum(axis=1)
    )
    assert abs(perf["Brier score"]["estimate"] - brier) < 1e-12
    flips = res.sections["flips"]["data"]
    assert flips["n_flipped"] == int(np.sum(new.predict(X[te]) != old.predict(X[te][["a"]])))
    json.dumps(res.to_dict(), allow_nan=False)


def test_identical_models_change_nothing():
    """A model compared with itself: every difference is exactly 0 and nothing is flagged."""
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(500, 3)), columns=["a", "b", "c"])
    y = (X["a"] + rng.normal(size=500) > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    res = assay.compare(model, model, X, y, sensitive=X["c"] > 0, n_explain=20, seed=0)
    assert res.status == "ok" and res.findings == []
    assert all(m["estimate"] == 0 for m in res.sections["performance"]["data"]["metrics"])
    assert res.sections["flips"]["data"]["n_flipped"] == 0
    assert all(f["change"] == 0 for f in res.sections["attributions"]["data"]["features"])


def test_classifier_without_probabilities_is_refused():
    from sklearn.svm import LinearSVC

    from assay.errors import InvalidInputError

    rng = np.random.default_rng(2)
    X = rng.normal(size=(100, 2))
    y = (X[:, 0] > 0).astype(int)
    svm, lr = LinearSVC().fit(X, y), LogisticRegression().fit(X, y)
    try:
        assay.compare(svm, lr, X, y)
    except InvalidInputError as exc:
        assert "without predict_proba" in str(exc) and "LinearSVC" in str(exc)
    else:
        raise AssertionError("a classifier without probabilities was accepted")


def test_report_command_rebuilds_a_comparison_report(tmp_path):
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(300, 2)), columns=["a", "b"])
    y = (X["a"] + rng.normal(size=300) > 0).astype(int)
    old, new = LogisticRegression().fit(X[["a"]], y), LogisticRegression().fit(X, y)
    res = assay.compare(new, old, X, y, n_explain=10, seed=0)
    path = res.save(tmp_path / "results.json")
    assert assay.ComparisonResult.load(path).to_dict() == json.loads(path.read_text())
    out = CliRunner().invoke(cli, ["report", str(path), "--out", str(tmp_path / "r.html")])
    assert out.exit_code == 0, out.output
    assert 'id="key-changes"' in (tmp_path / "r.html").read_text()
