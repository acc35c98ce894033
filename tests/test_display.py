"""Numbers for people, and notebook views of results (escaped, compact)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

import assay
from assay._display import fmt_number


def test_numbers_read_as_people_write_them():
    assert fmt_number(5.55e-17) == "0"
    assert fmt_number(-3e-13) == "0"
    assert fmt_number(1.6e3) == "1,600"
    assert fmt_number(1234567) == "1,234,567"
    assert fmt_number(0.0123456) == "0.0123"
    assert fmt_number(123.456) == "123.5"
    assert fmt_number(float("nan")) == "–"
    assert "e" not in fmt_number(0.5) and "e" not in fmt_number(2500.0)


def test_explanation_and_audit_have_escaped_notebook_views():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 2)), columns=["<b>bold</b>", "plain"])
    y = (X["plain"] > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    exp = assay.explain(model, X.iloc[:5], method="exact", background=X.iloc[:20])
    html = exp._repr_html_()
    assert "<table>" in html and "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold" not in html
    result = assay.audit(model, X, y, n_explain=5)
    view = result._repr_html_()
    assert "Performance" in view and "<table>" in view and "<b>bold" not in view
    assert "No training data was given" in view
    text = repr(result)
    assert text.startswith("AuditResult(LogisticRegression") and "performance=" in text


def test_result_objects_have_notebook_views():
    from assay.evals import judge_bias
    from assay.fairness import GroupMetrics
    from assay.slices import find_slices

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    pred = np.where(rng.random(400) < 0.8, y, 1 - y)
    groups = rng.choice(["<i>a</i>", "b"], 400)
    results = [
        GroupMetrics(metrics=["selection_rate"], y_true=y, y_pred=pred, sensitive_features=groups),
        find_slices(pd.DataFrame({"x": rng.normal(size=400)}), y, pred, seed=0),
        judge_bias(lambda q, a, b: "A", [{"question": "q", "answer_a": "x", "answer_b": "y"}] * 20,
                   checks=("position",), seed=0),
    ]  # fmt: skip
    for result in results:
        view = result._repr_html_()
        assert view.startswith("<p><strong>") and "<table>" in view, type(result)
        assert "<i>a</i>" not in view
