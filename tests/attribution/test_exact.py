"""Exact interventional Shapley values: the axioms, closed forms, an oracle and shap itself.

Tolerances: the values are finite sums of at most 2^6 * 8 model outputs of magnitude up to
~1e3 in float64, so rounding error is below ~1e-12 relative; 1e-10 leaves room without hiding a
wrong weight (any weight error is at least 1/(d * C(d-1, s)) >= 1/60 relative for d <= 6).
"""

from __future__ import annotations

import itertools
from math import factorial

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LinearRegression, LogisticRegression

import assay
from assay.attribution import ExactShapley
from assay.attribution.shapley._exact import (
    MAX_EXACT_FEATURES,
    coalition_masks,
    shapley_weight_matrix,
)
from assay.errors import InvalidInputError

AXIOMS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
RTOL = 1e-10

# ---------------------------------------------------------------------------------------------
# random small models: sums of terms, each a nonlinear function of a random subset of features
# ---------------------------------------------------------------------------------------------
KINDS = ("prod", "max", "min", "poly", "sin", "step", "abs")


def _term(kind: str, feats: tuple[int, ...], power: int):
    def term(X: np.ndarray) -> np.ndarray:
        Z = X[:, list(feats)]
        if kind == "prod":
            return Z.prod(axis=1)
        if kind == "max":
            return Z.max(axis=1)
        if kind == "min":
            return Z.min(axis=1)
        if kind == "poly":
            return Z.sum(axis=1) ** power
        if kind == "sin":
            return np.sin(Z.sum(axis=1))
        if kind == "step":
            return (Z.sum(axis=1) > 0.3).astype(np.float64)
        return np.abs(Z[:, 0] - Z[:, -1])

    return term


def build_model(spec, n_outputs: int = 1):
    """A callable f(X) -> (n, n_outputs) from a spec of (output, coef, kind, feats, power)."""
    terms = [(k % n_outputs, c, _term(kind, feats, p)) for k, c, kind, feats, p in spec]

    def f(X: np.ndarray) -> np.ndarray:
        out = np.zeros((X.shape[0], n_outputs))
        for k, c, t in terms:
            out[:, k] += c * t(X)
        return out

    return f


@st.composite
def model_specs(draw, features: list[int], n_outputs: int = 1, max_terms: int = 4):
    n_terms = draw(st.integers(1, max_terms))
    spec = []
    for _ in range(n_terms):
        kind = draw(st.sampled_from(KINDS))
        size = draw(st.integers(1, min(3, len(features))))
        feats = tuple(draw(st.permutations(features))[:size])
        coef = draw(st.floats(-3, 3, allow_nan=False).filter(lambda c: abs(c) > 1e-3))
        power = draw(st.integers(1, 3))
        out = draw(st.integers(0, n_outputs - 1))
        spec.append((out, coef, kind, feats, power))
    return spec


@st.composite
def problems(draw, min_d: int = 1, max_d: int = 6):
    """(d, explained rows, background rows) drawn from a hypothesis-chosen seed."""
    d = draw(st.integers(min_d, max_d))
    n = draw(st.integers(1, 4))
    m = draw(st.integers(1, 8))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    # mix continuous values with repeated ones (ties with the background are common in practice)
    X = np.round(rng.normal(size=(n, d)), draw(st.sampled_from([1, 8])))
    bg = np.round(rng.normal(size=(m, d)), 1)
    return d, X, bg


def _scale(*arrays: np.ndarray) -> float:
    return max(1.0, *(float(np.abs(a).max()) for a in arrays))


# ---------------------------------------------------------------------------------------------
# Shapley axioms
# ---------------------------------------------------------------------------------------------
@AXIOMS
@given(data=st.data(), problem=problems(), n_outputs=st.integers(1, 2))
def test_efficiency(data, problem, n_outputs):
    d, X, bg = problem
    f = build_model(data.draw(model_specs(list(range(d)), n_outputs)), n_outputs)
    exp = ExactShapley(f, background=bg).explain(X)
    fx = f(X)
    assert exp.values.shape == (X.shape[0], d, n_outputs)
    assert exp.stderr is None
    total = exp.values.sum(axis=1) + exp.base_values
    scale = _scale(fx, exp.base_values, exp.values)
    # every row and every output, not "any element close"
    np.testing.assert_allclose(total, fx, rtol=0, atol=RTOL * scale)
    # the base value is the background mean of the model output
    np.testing.assert_allclose(
        exp.base_values, np.broadcast_to(f(bg).mean(axis=0), fx.shape), rtol=0, atol=RTOL * scale
    )


@AXIOMS
@given(data=st.data(), problem=problems(min_d=2))
def test_symmetry(data, problem):
    d, X, bg = problem
    i, j = sorted(data.draw(st.permutations(range(d)))[:2])
    g = build_model(data.draw(model_specs(list(range(d)))))
    swap = np.arange(d)
    swap[[i, j]] = [j, i]

    def f(A):  # symmetric in features i and j
        return g(A) + g(A[:, swap])

    bg_sym = np.vstack([bg, bg[:, swap]])  # the background is symmetric under the swap
    X = X.copy()
    X[:, j] = X[:, i]  # and so is each explained row
    exp = ExactShapley(f, background=bg_sym).explain(X)
    scale = _scale(exp.values, f(X))
    np.testing.assert_allclose(exp.values[:, i], exp.values[:, j], rtol=0, atol=RTOL * scale)


@AXIOMS
@given(data=st.data(), problem=problems(min_d=2), n_outputs=st.integers(1, 2))
def test_dummy_feature_gets_exactly_zero(data, problem, n_outputs):
    d, X, bg = problem
    dummy = data.draw(st.integers(0, d - 1))
    used = [k for k in range(d) if k != dummy]
    f = build_model(data.draw(model_specs(used, n_outputs)), n_outputs)
    exp = ExactShapley(f, background=bg).explain(X)
    assert np.all(exp.values[:, dummy, :] == 0.0)


@AXIOMS
@given(
    data=st.data(),
    problem=problems(),
    a=st.floats(-4, 4, allow_nan=False),
    b=st.floats(-4, 4, allow_nan=False),
)
def test_linearity(data, problem, a, b):
    d, X, bg = problem
    f = build_model(data.draw(model_specs(list(range(d)))))
    g = build_model(data.draw(model_specs(list(range(d)))))

    def h(A):
        return a * f(A) + b * g(A)

    ef = ExactShapley(f, background=bg).explain(X)
    eg = ExactShapley(g, background=bg).explain(X)
    eh = ExactShapley(h, background=bg).explain(X)
    scale = _scale(a * ef.values, b * eg.values, h(X), f(X), g(X)) * max(1.0, abs(a), abs(b))
    np.testing.assert_allclose(eh.values, a * ef.values + b * eg.values, rtol=0, atol=RTOL * scale)
    np.testing.assert_allclose(
        eh.base_values, a * ef.base_values + b * eg.base_values, rtol=0, atol=RTOL * scale
    )


# ---------------------------------------------------------------------------------------------
# closed forms and an independent oracle
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def linear_data():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(300, 5)) * [1.0, 2.0, 0.5, 3.0, 1.0] + [0.0, 1.0, -2.0, 0.5, 4.0]
    return X, rng


def test_linear_regression_closed_form(linear_data):
    X, rng = linear_data
    y = X @ [1.5, -2.0, 0.0, 0.7, 3.0] + rng.normal(size=len(X))
    model = LinearRegression().fit(X, y)
    bg = X[:80]
    exp = ExactShapley(model, background=bg).explain(X[100:130])
    expected = model.coef_ * (X[100:130] - bg.mean(axis=0))
    np.testing.assert_allclose(exp.values[..., 0], expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(exp.base_values[:, 0], model.predict(bg).mean(), atol=1e-12)
    assert exp.output_space == "raw" and exp.output_names == ["prediction"]


def test_linear_closed_form_with_weighted_background(linear_data):
    X, rng = linear_data
    model = LinearRegression().fit(X, X @ [1.0, 2.0, -1.0, 0.5, 0.0])
    bg = X[:20]
    w = rng.uniform(0.1, 3.0, size=20)
    exp = ExactShapley(model, background=bg, background_weights=w).explain(X[50:60])
    mean_w = (w / w.sum()) @ bg
    np.testing.assert_allclose(
        exp.values[..., 0], model.coef_ * (X[50:60] - mean_w), rtol=0, atol=1e-12
    )
    assert exp.params["weighted_background"] is True


def test_logistic_regression_log_odds_closed_form(linear_data):
    X, rng = linear_data
    logits = X @ [1.0, -0.5, 0.8, 0.0, 0.3] - 1.0
    y = (rng.uniform(size=len(X)) < 1 / (1 + np.exp(-logits))).astype(int)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    bg = X[:60]
    exp = ExactShapley(model, background=bg, output_space="log_odds").explain(X[200:230])
    assert exp.values.shape == (30, 5, 1)
    assert exp.output_space == "log_odds"
    expected = model.coef_[0] * (X[200:230] - bg.mean(axis=0))
    np.testing.assert_allclose(exp.values[..., 0], expected, rtol=0, atol=1e-12)
    total = exp.values.sum(axis=1)[:, 0] + exp.base_values[:, 0]
    np.testing.assert_allclose(total, model.decision_function(X[200:230]), rtol=0, atol=1e-12)


def test_multiclass_logistic_log_odds_closed_form(linear_data):
    X, _ = linear_data
    y = np.digitize(X[:, 0] + X[:, 1] * 0.3, [-0.5, 0.5])
    model = LogisticRegression(max_iter=2000).fit(X, y)
    bg = X[:40]
    exp = ExactShapley(model, background=bg, output_space="log_odds").explain(X[:7])
    assert exp.values.shape == (7, 5, 3)
    expected = (X[:7] - bg.mean(axis=0))[:, :, None] * model.coef_.T[None, :, :]
    np.testing.assert_allclose(exp.values, expected, rtol=0, atol=1e-12)


def _oracle_shapley(f, x: np.ndarray, bg: np.ndarray) -> list[float]:
    """Shapley values by the permutation definition, in plain Python, one model row at a time."""
    d = len(x)
    cache: dict[frozenset[int], float] = {}

    def v(S: frozenset[int]) -> float:
        if S not in cache:
            total = 0.0
            for b in bg:
                z = [float(x[j]) if j in S else float(b[j]) for j in range(d)]
                total += float(f(np.array([z]))[0, 0])
            cache[S] = total / len(bg)
        return cache[S]

    phi = [0.0] * d
    perms = list(itertools.permutations(range(d)))
    for perm in perms:
        S: set[int] = set()
        for j in perm:
            before = v(frozenset(S))
            S.add(j)
            phi[j] += v(frozenset(S)) - before
    return [p / len(perms) for p in phi]


def test_agrees_with_brute_force_permutation_oracle():
    rng = np.random.default_rng(3)
    d = 4
    X = rng.normal(size=(5, d))
    bg = rng.normal(size=(9, d))

    def f(A):
        return (
            A[:, 0] * A[:, 1] * A[:, 2]
            + np.maximum(A[:, 1], A[:, 3]) ** 2
            + np.sin(3 * A[:, 0])
            + (A[:, 2] > 0.2) * A[:, 3]
        )[:, None]

    exp = ExactShapley(f, background=bg).explain(X)
    for r in range(X.shape[0]):
        oracle = _oracle_shapley(f, X[r], bg)
        np.testing.assert_allclose(exp.values[r, :, 0], oracle, rtol=0, atol=1e-12)


def test_weight_matrix_is_the_subset_formula():
    """W[i, S] from the module equals the textbook subset formula, written out independently."""
    d = 5
    W = shapley_weight_matrix(d)
    masks = coalition_masks(d)
    assert masks.shape == (2**d, d)
    for c, mask in enumerate(masks):
        s = int(mask.sum())
        for i in range(d):
            if mask[i]:
                expected = factorial(s - 1) * factorial(d - s) / factorial(d)
            else:
                expected = -factorial(s) * factorial(d - s - 1) / factorial(d)
            assert W[i, c] == pytest.approx(expected, rel=1e-15)


def test_agrees_with_shap_exact_explainer():
    shap = pytest.importorskip("shap")
    rng = np.random.default_rng(11)
    d = 10
    X = rng.normal(size=(53, d))
    bg, rows = X[:50], X[50:53]

    def f(A):
        return (
            A[:, 0] * A[:, 1]
            + np.sin(A[:, 2] + A[:, 3])
            + np.maximum(A[:, 4], A[:, 5]) * A[:, 6]
            + (A[:, 7] > 0) * A[:, 8]
            - 0.5 * A[:, 9] ** 2
        )

    masker = shap.maskers.Independent(bg, max_samples=50)
    assert masker.data.shape == (50, d) and np.array_equal(masker.data, bg)  # no subsampling
    sv = shap.explainers.Exact(f, masker)(rows, silent=True)
    exp = ExactShapley(f, background=bg).explain(rows)
    assert np.abs(exp.values[..., 0] - sv.values).max() < 1e-9
    assert np.abs(exp.base_values[:, 0] - sv.base_values).max() < 1e-9


# ---------------------------------------------------------------------------------------------
# background weights, chunking, limits, multiclass, the dispatcher
# ---------------------------------------------------------------------------------------------
def _nonlinear(A):
    return np.stack(
        [A[:, 0] * A[:, 1] + np.sin(A[:, 2]), np.maximum(A[:, -1], A[:, 0]) * A[:, 1]], axis=1
    )


def test_weighted_background_equals_duplicated_rows():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(6, 4))
    bg = rng.normal(size=(7, 4))
    counts = np.array([1, 3, 2, 1, 5, 1, 2])
    weighted = ExactShapley(_nonlinear, background=bg, background_weights=counts).explain(X)
    duplicated = ExactShapley(_nonlinear, background=np.repeat(bg, counts, axis=0)).explain(X)
    np.testing.assert_allclose(weighted.values, duplicated.values, rtol=0, atol=1e-13)
    np.testing.assert_allclose(weighted.base_values, duplicated.base_values, rtol=0, atol=1e-13)


@pytest.mark.parametrize(
    ("d", "m", "n", "path"),
    [(3, 20, 50, "rows per call"), (8, 40, 3, "coalitions per call")],
)
def test_tiny_max_memory_gives_identical_values(d, m, n, path):
    rng = np.random.default_rng(d)
    X = rng.normal(size=(n, d))
    bg = rng.normal(size=(m, d))
    default = ExactShapley(_nonlinear, background=bg)
    tiny = ExactShapley(_nonlinear, background=bg, max_memory=2**16)
    a, b = default.explain(X), tiny.explain(X)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.base_values, b.base_values)
    # the default sends everything in one call; the tiny budget really chunked the work
    assert default.adapter.n_calls == 1
    per_row = 2**d * m
    assert tiny.adapter.n_calls > 1
    assert tiny.adapter.n_rows_evaluated == default.adapter.n_rows_evaluated == n * per_row
    if path == "rows per call":
        assert tiny.adapter.n_calls < n  # several rows per call
    else:
        assert tiny.adapter.n_calls > n  # several calls per row
    assert a.params["model_rows_evaluated"] == n * per_row


def test_max_memory_below_minimum_is_refused():
    with pytest.raises(InvalidInputError, match=r"max_memory must be at least"):
        ExactShapley(_nonlinear, max_memory=1000)


def test_more_than_twenty_features_is_refused():
    X = np.zeros((3, MAX_EXACT_FEATURES + 1))
    with pytest.raises(InvalidInputError, match=r"d=21.*kernel.*permutation"):
        ExactShapley(lambda A: A.sum(axis=1)).explain(X)


def test_multiclass_classifier_probabilities():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 4))
    y = np.digitize(X[:, 0] - X[:, 2], [-0.7, 0.7])
    model = LogisticRegression(max_iter=1000).fit(X, y)
    exp = ExactShapley(model, background=X[:30]).explain(X[100:110])
    assert exp.values.shape == (10, 4, 3)
    assert exp.base_values.shape == (10, 3)
    assert exp.output_names == ["0", "1", "2"]
    assert exp.output_space == "probability"
    total = exp.values.sum(axis=1) + exp.base_values
    np.testing.assert_allclose(total, model.predict_proba(X[100:110]), rtol=0, atol=1e-12)
    # probabilities sum to one, so attributions sum to zero across classes
    np.testing.assert_allclose(exp.values.sum(axis=2), 0.0, atol=1e-12)


def test_explain_dispatcher_equals_the_class():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(60, 5))
    model = LinearRegression().fit(X, X[:, 0] * 2 - X[:, 3])
    direct = ExactShapley(model, background=X[:25]).explain(X[40:45], seed=3)
    via = assay.explain(model, X[40:45], method="exact", background=X[:25], seed=3)
    np.testing.assert_array_equal(direct.values, via.values)
    np.testing.assert_array_equal(direct.base_values, via.base_values)
    assert via.method == "exact" and via.stderr is None
    assert via.params == direct.params
    assert via.feature_names == direct.feature_names


def test_default_background_is_a_seeded_sample_of_X():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(150, 3))
    model = LinearRegression().fit(X, X @ [1.0, 2.0, 3.0])
    a = ExactShapley(model).explain(X, seed=1)
    b = ExactShapley(model).explain(X, seed=1)
    np.testing.assert_array_equal(a.values, b.values)
    assert a.params["n_background"] == 100 and a.params["seed"] == 1
    small = ExactShapley(model).explain(X[:30])
    assert small.params["n_background"] == 30
    np.testing.assert_allclose(
        small.values[..., 0], model.coef_ * (X[:30] - X[:30].mean(axis=0)), atol=1e-12
    )


def test_dataframe_input_keeps_feature_names_and_missing_values():
    pd = pytest.importorskip("pandas")
    from sklearn.ensemble import HistGradientBoostingRegressor

    rng = np.random.default_rng(9)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["age", "dose", "bmi"])
    model = HistGradientBoostingRegressor(max_iter=10).fit(X, X["age"] * X["dose"])
    Xe = X.iloc[:5].copy()
    Xe.iloc[0, 1] = np.nan  # the model handles missing values natively
    exp = ExactShapley(model, background=X.iloc[:20]).explain(Xe)
    assert exp.feature_names == ["age", "dose", "bmi"]
    total = exp.values.sum(axis=1)[:, 0] + exp.base_values[:, 0]
    np.testing.assert_allclose(total, model.predict(Xe), rtol=0, atol=1e-10)
    assert np.isnan(exp.data[0, 1])


def test_bad_background_weights_are_refused():
    bg = np.zeros((4, 2))
    f = _nonlinear
    with pytest.raises(InvalidInputError, match=r"without a background"):
        ExactShapley(f, background_weights=[1, 1, 1, 1])
    with pytest.raises(InvalidInputError, match=r"non-negative"):
        ExactShapley(f, background=bg, background_weights=[1, -1, 1, 1])
    with pytest.raises(InvalidInputError, match=r"one per background row"):
        ExactShapley(f, background=bg, background_weights=[1, 1])
    with pytest.raises(InvalidInputError, match=r"sum to zero"):
        ExactShapley(f, background=bg, background_weights=[0, 0, 0, 0])


def test_background_with_other_columns_is_refused():
    f = _nonlinear
    # the background fixes the column count of a callable model
    with pytest.raises(InvalidInputError, match=r"X has 4 columns but .* 3"):
        ExactShapley(f, background=np.zeros((5, 3))).explain(np.zeros((2, 4)))


# ---------------------------------------------------------------------------------------------
# structure: tree ensembles and linear models give the enumeration's values without it
# ---------------------------------------------------------------------------------------------
# Structured and enumerated values are the same finite sums of leaf values (or linear terms)
# taken in a different order; both are exact up to float64 rounding (~1e-15 here), so 1e-9 (the
# issue's bound) leaves a wide margin while any wrong weight or route is off by O(0.01) or more.
STRUCT_ATOL = 1e-9


def _structured_data(d: int = 5, n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X[:, 0] * X[:, 1] + np.sin(2 * X[:, 2]) + (X[:, 3] > 0.2) * X[:, 4 % d] + 0.3 * X[:, -1]
    return X, y


def _both(model, bg, rows, **kw):
    fast = ExactShapley(model, background=bg, **kw).explain(rows)
    brute = ExactShapley(model, background=bg, structure="none", **kw).explain(rows)
    return fast, brute


def _assert_same(fast, brute):
    assert fast.values.shape == brute.values.shape
    np.testing.assert_allclose(fast.values, brute.values, rtol=0, atol=STRUCT_ATOL)
    np.testing.assert_allclose(fast.base_values, brute.base_values, rtol=0, atol=STRUCT_ATOL)
    assert brute.params["structure"] == "none"
    assert fast.params["model_rows_evaluated"] < brute.params["model_rows_evaluated"]


def _sk_models():
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )

    return {
        "rf_regressor": (RandomForestRegressor(n_estimators=8, max_depth=6, random_state=0), None),
        "rf_deep": (RandomForestRegressor(n_estimators=3, random_state=0), None),
        "gbm_regressor": (GradientBoostingRegressor(n_estimators=25, max_depth=3), None),
        "hgb_regressor": (HistGradientBoostingRegressor(max_iter=15, random_state=0), None),
        "rf_classifier_proba": (RandomForestClassifier(n_estimators=6, max_depth=5), "class"),
        "rf_multiclass_proba": (RandomForestClassifier(n_estimators=6, max_depth=5), "multi"),
        "gbm_multiclass_log_odds": (GradientBoostingClassifier(n_estimators=8), "multi"),
    }


@pytest.mark.parametrize("name", list(_sk_models()))
def test_tree_structure_equals_enumeration(name):
    model, task = _sk_models()[name]
    X, y = _structured_data(seed=1)
    if task == "class":
        y = (y > np.median(y)).astype(int)
    elif task == "multi":
        y = np.digitize(y, np.quantile(y, [0.33, 0.66]))
    model.fit(X[:250], y[:250])
    space = "log_odds" if "log_odds" in name else None
    fast, brute = _both(model, X[250:262], X[280:285], output_space=space)
    _assert_same(fast, brute)
    assert fast.params["structure"] == "tree"
    assert fast.params["model_rows_evaluated"] == 5 + 12  # the one checking call
    explainer = ExactShapley(model, background=X[250:262], output_space=space)
    explainer.explain(X[280:282])
    again = explainer.explain(X[280:285])  # checked once per explainer: no model call now
    assert again.params["model_rows_evaluated"] == 0
    np.testing.assert_array_equal(again.values, fast.values)
    # efficiency against the model itself, every row and output
    total = fast.values.sum(axis=1) + fast.base_values
    np.testing.assert_allclose(total, fast_model_output(model, X[280:285], space), atol=1e-10)


def fast_model_output(model, X, space):
    if space == "log_odds":
        out = model.decision_function(X)
    elif hasattr(model, "predict_proba"):
        out = model.predict_proba(X)
    else:
        out = model.predict(X)
    return out[:, None] if out.ndim == 1 else out


def test_tree_structure_with_missing_values_and_weights():
    from sklearn.ensemble import HistGradientBoostingRegressor

    X, y = _structured_data(seed=2)
    X[::7, 1] = np.nan  # learned default directions
    model = HistGradientBoostingRegressor(max_iter=20, random_state=0).fit(X[:250], y[:250])
    rows = X[270:276].copy()
    rows[0, 3] = np.nan
    w = np.r_[np.linspace(0.5, 2.0, 9), 0.0]  # a zero-weight row must not count
    fast, brute = _both(model, X[250:260], rows, background_weights=w)
    _assert_same(fast, brute)
    assert fast.params["structure"] == "tree"


@pytest.fixture
def leaf_games(monkeypatch):
    # the leaf-by-leaf sum, which trees over <= 12 features or with many leaves no longer take
    from assay.attribution.shapley import _exact_structured, _tree_pruned_table

    monkeypatch.setattr(_exact_structured, "DEEP_TREE_LEAVES", 10**9)
    monkeypatch.setattr(_tree_pruned_table, "MAX_TABLE_FEATURES", 0)


def test_deep_leaves_without_memo_equal_enumeration(leaf_games):
    """Leaves over more features than the memo table sum over patterns for every row."""
    from sklearn.tree import DecisionTreeRegressor

    X, y = _structured_data(d=7, n=600, seed=3)
    model = DecisionTreeRegressor(random_state=0).fit(X[:500], y[:500])  # unlimited depth
    explainer = ExactShapley(model, background=X[500:515])
    memo = explainer.explain(X[550:570])
    assert memo.params["tree_algorithm"] == "leaf games"
    explainer._structure.memo_features = 0
    direct = explainer.explain(X[550:570])
    assert explainer._structure.max_p == 7  # some leaf splits on every feature
    np.testing.assert_array_equal(memo.values, direct.values)
    brute = ExactShapley(model, background=X[500:515], structure="none").explain(X[550:570])
    _assert_same(direct, brute)


def test_tree_values_do_not_depend_on_row_chunks_or_leaf_blocks(monkeypatch, leaf_games):
    from sklearn.ensemble import RandomForestRegressor

    from assay.attribution.shapley import _exact_structured

    X, y = _structured_data(seed=4)
    model = RandomForestRegressor(n_estimators=5, max_depth=5, random_state=0).fit(X, y)
    whole = ExactShapley(model, background=X[:10]).explain(X[100:150])
    assert whole.params["tree_algorithm"] == "leaf games"
    monkeypatch.setattr(_exact_structured, "ROUTE_BYTES", 1)  # 16 rows per chunk
    monkeypatch.setattr(_exact_structured, "PATTERN_BYTES", 1)  # one leaf per block
    chunked = ExactShapley(model, background=X[:10]).explain(X[100:150])
    np.testing.assert_array_equal(whole.values, chunked.values)


def test_unused_feature_gets_exactly_zero_on_the_tree_path():
    from sklearn.ensemble import GradientBoostingRegressor

    X, y = _structured_data(seed=5)
    X[:, 2] = 0.0  # constant: no tree can split on it
    model = GradientBoostingRegressor(n_estimators=10, max_depth=3).fit(X, y)
    exp = ExactShapley(model, background=X[:10]).explain(X[200:210])
    assert exp.params["structure"] == "tree"
    assert np.all(exp.values[:, 2, :] == 0.0)


def test_xgboost_and_lightgbm_raw_equal_enumeration():
    xgb = pytest.importorskip("xgboost")
    lgb = pytest.importorskip("lightgbm")
    from assay.model import CallableAdapter
    from assay.model._tree_predict import predict_raw

    X, y = _structured_data(seed=6)
    X[::11, 0] = np.nan
    lg = lgb.LGBMRegressor(n_estimators=20, num_leaves=15, min_child_samples=5, verbose=-1)
    lg.fit(X[:250], y[:250])
    fast, brute = _both(lg, X[250:262], X[280:285])
    _assert_same(fast, brute)  # LightGBM predicts in float64
    assert fast.params["structure"] == "tree"

    xg = xgb.XGBRegressor(n_estimators=20, max_depth=4, n_jobs=1).fit(X[:250], y[:250])
    fast = ExactShapley(xg, background=X[250:262]).explain(X[280:285])
    assert fast.params["structure"] == "tree"
    # XGBoost rounds its predictions to float32, so enumeration through its own predict
    # carries ~1e-7 noise; enumerating the same trees summed in float64 is the exact reference
    ens = fast_structure_ensemble(xg)
    trees64 = CallableAdapter(lambda A: predict_raw(ens, A), output_space="raw",
                              feature_names=None, n_features=5, supports_missing=True)  # fmt: skip
    brute = ExactShapley(trees64, background=X[250:262]).explain(X[280:285])
    np.testing.assert_allclose(fast.values, brute.values, rtol=0, atol=STRUCT_ATOL)
    own = ExactShapley(xg, background=X[250:262], structure="none").explain(X[280:285])
    np.testing.assert_allclose(fast.base_values, brute.base_values, rtol=0, atol=STRUCT_ATOL)
    np.testing.assert_allclose(fast.values, own.values, rtol=0, atol=1e-5)
    np.testing.assert_allclose(fast.base_values, own.base_values, rtol=0, atol=1e-5)


def fast_structure_ensemble(model):
    from assay.model import wrap

    return wrap(model).tree_ensemble()


def test_boosted_classifier_probability_falls_back_to_enumeration():
    from sklearn.ensemble import GradientBoostingClassifier

    X, y = _structured_data(seed=7)
    model = GradientBoostingClassifier(n_estimators=10, max_depth=2).fit(X, y > 0)
    exp = ExactShapley(model, background=X[:8]).explain(X[100:103])
    assert exp.output_space == "probability"
    assert exp.params["structure"] == "none"
    assert "not additive" in exp.params["structure_note"]
    assert exp.params["model_rows_evaluated"] == 3 * 8 * 2**5
    forced = ExactShapley(model, background=X[:8], structure="none").explain(X[100:103])
    np.testing.assert_array_equal(exp.values, forced.values)
    # the margin of the same model is additive over trees
    margin = ExactShapley(model, background=X[:8], output_space="log_odds").explain(X[100:103])
    assert margin.params["structure"] == "tree"


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_linear_structure_equals_enumeration(linear_data, fit_intercept):
    X, rng = linear_data
    logits = X @ [1.0, -0.5, 0.8, 0.0, 0.3] - 1.0
    y = (rng.uniform(size=len(X)) < 1 / (1 + np.exp(-logits))).astype(int)
    model = LogisticRegression(max_iter=1000, fit_intercept=fit_intercept).fit(X, y)
    fast, brute = _both(model, X[:30], X[200:210], output_space="log_odds")
    _assert_same(fast, brute)
    assert fast.params["structure"] == "linear"
    ridge = pytest.importorskip("sklearn.linear_model").Ridge().fit(X, np.c_[y, logits])
    fast, brute = _both(ridge, X[:30], X[200:210])
    _assert_same(fast, brute)
    assert fast.values.shape == (10, 5, 2)


def test_nonlinear_model_with_coef_falls_back(linear_data):
    from sklearn.linear_model import PoissonRegressor

    X, rng = linear_data
    model = PoissonRegressor().fit(X, rng.poisson(np.exp(0.3 * X[:, 0] - 0.2 * X[:, 3])))
    exp = ExactShapley(model, background=X[:10]).explain(X[200:203])
    assert exp.params["structure"] == "none"
    assert "linear structure not used" in exp.params["structure_note"]
    forced = ExactShapley(model, background=X[:10], structure="none").explain(X[200:203])
    np.testing.assert_array_equal(exp.values, forced.values)


def test_black_box_and_bad_structure_option():
    exp = ExactShapley(_nonlinear, background=np.zeros((3, 4))).explain(np.ones((2, 4)))
    assert exp.params["structure"] == "none"
    assert "black-box" in exp.params["structure_note"]
    with pytest.raises(InvalidInputError, match=r"structure must be one of"):
        ExactShapley(_nonlinear, structure="trees")
