"""Bad input gets one of our exceptions and a message that says what was wrong and the fix.

Each case is checked at the validation layer and through the public ``assay.explain``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression

import assay
from assay._validation import (
    align_columns,
    as_matrix,
    as_vector,
    check_fitted,
    check_int,
    check_seed,
    import_optional,
)
from assay.errors import (
    AssayError,
    InvalidInputError,
    MissingDependencyError,
    ModelError,
    NotFittedError,
)


@pytest.fixture(scope="module")
def frame_model():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(80, 3)), columns=["age", "dose", "zip_region"])
    model = LinearRegression().fit(X, X["age"] - 2 * X["dose"] + 0.5 * X["zip_region"])
    return X, model


@pytest.fixture(scope="module")
def array_model():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 3))
    return X, LinearRegression().fit(X, X @ [1.0, 2.0, 3.0])


# -- the exception hierarchy ----------------------------------------------------------------------
def test_errors_are_assay_errors_and_builtin_kinds():
    assert issubclass(InvalidInputError, AssayError) and issubclass(InvalidInputError, ValueError)
    assert issubclass(NotFittedError, AssayError)
    assert issubclass(ModelError, AssayError)
    assert issubclass(MissingDependencyError, ImportError)


# -- NaN and inf ----------------------------------------------------------------------------------
def test_nan_is_refused_with_column_and_fix():
    X = np.ones((5, 3))
    X[2, 1] = np.nan
    with pytest.raises(
        InvalidInputError, match=r"1 NaN value\(s\) in column\(s\) \['x1'\].*Impute"
    ):
        as_matrix(X)
    values, _ = as_matrix(X, allow_nan=True)
    assert np.isnan(values[2, 1])


def test_nan_names_dataframe_columns():
    X = pd.DataFrame({"a": [1.0, 2.0], "b": [np.nan, 1.0]})
    with pytest.raises(InvalidInputError, match=r"column\(s\) \['b'\]"):
        as_matrix(X)


def test_inf_is_always_refused():
    X = np.ones((4, 2))
    X[0, 0] = np.inf
    with pytest.raises(InvalidInputError, match=r"infinite value\(s\) in column\(s\) \['x0'\]"):
        as_matrix(X, allow_nan=True)
    X[0, 0] = -np.inf
    with pytest.raises(InvalidInputError, match=r"infinite"):
        as_matrix(X)


def test_nan_through_explain(array_model):
    X, model = array_model
    Xbad = X[:5].copy()
    Xbad[0, 0] = np.nan
    with pytest.raises(InvalidInputError, match=r"NaN.*SimpleImputer"):
        assay.explain(model, Xbad, method="exact", background=X)
    with pytest.raises(InvalidInputError, match=r"background contains .*NaN"):
        assay.explain(model, X[:5], method="exact", background=Xbad)


def test_nan_accepted_for_models_with_native_missing_values():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(100, 2))
    model = HistGradientBoostingRegressor(max_iter=5).fit(X, X[:, 0])
    Xe = X[:3].copy()
    Xe[0, 1] = np.nan
    exp = assay.explain(model, Xe, method="exact", background=X[:10])
    assert np.isnan(exp.data[0, 1])
    Xe[0, 1] = np.inf
    with pytest.raises(InvalidInputError, match=r"infinite"):
        assay.explain(model, Xe, method="exact", background=X[:10])


# -- empty, 1-D, higher-D, wrong types ---------------------------------------------------------
def test_zero_rows():
    with pytest.raises(InvalidInputError, match=r"X has 0 rows; at least 1 is needed"):
        as_matrix(np.empty((0, 3)))
    with pytest.raises(InvalidInputError, match=r"0 rows"):
        as_matrix(pd.DataFrame({"a": []}, dtype=float))


def test_zero_rows_through_explain(array_model):
    X, model = array_model
    with pytest.raises(InvalidInputError, match=r"0 rows"):
        assay.explain(model, X[:0], method="exact", background=X)


def test_zero_columns():
    with pytest.raises(InvalidInputError, match=r"0 columns"):
        as_matrix(np.empty((3, 0)))


def test_one_dimensional_X_explains_the_reshape():
    with pytest.raises(InvalidInputError, match=r"1-D with shape \(3,\).*reshape\(1, -1\)"):
        as_matrix(np.array([1.0, 2.0, 3.0]))
    with pytest.raises(InvalidInputError, match=r"1-D"):
        as_matrix(pd.Series([1.0, 2.0]))


def test_one_dimensional_X_through_explain(array_model):
    X, model = array_model
    with pytest.raises(InvalidInputError, match=r"1-D.*reshape"):
        assay.explain(model, X[0], method="exact", background=X)


def test_three_dimensional_X():
    with pytest.raises(InvalidInputError, match=r"must be 2-D .*3-D shape \(2, 2, 2\)"):
        as_matrix(np.zeros((2, 2, 2)))


@pytest.mark.parametrize("bad", ["data.csv", b"bytes", 3.5, 7])
def test_scalar_or_string_X(bad):
    with pytest.raises(InvalidInputError, match=r"must be a 2-D array or DataFrame"):
        as_matrix(bad)


def test_string_X_through_explain(array_model):
    _, model = array_model
    with pytest.raises(InvalidInputError, match=r"2-D array or DataFrame, got str"):
        assay.explain(model, "data.csv", method="exact")


def test_none_X():
    with pytest.raises(InvalidInputError, match=r"X is None"):
        as_matrix(None)


def test_complex_dtype():
    with pytest.raises(InvalidInputError, match=r"unsupported dtype complex"):
        as_matrix(np.ones((2, 2), dtype=complex))


def test_ragged_list():
    with pytest.raises(InvalidInputError, match=r"X"):
        as_matrix([[1.0, 2.0], [3.0]])


def test_lists_and_bools_are_converted():
    values, names = as_matrix([[1, 2], [3, 4]])
    assert values.dtype == np.float64 and names == ["x0", "x1"]
    values, names = as_matrix(pd.DataFrame({"flag": [True, False], "n": [1, 2]}))
    assert names == ["flag", "n"]
    np.testing.assert_array_equal(values, [[1.0, 1.0], [0.0, 2.0]])
    values, names = as_matrix(np.ones((2, 2)), feature_names=["u", "v"])
    assert names == ["u", "v"]
    with pytest.raises(InvalidInputError, match=r"2 columns but 3 feature names"):
        as_matrix(np.ones((2, 2)), feature_names=["u", "v", "w"])


# -- non-numeric columns ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [object, "string", "category"])
def test_non_numeric_dataframe_column(dtype):
    X = pd.DataFrame({"age": [30.0, 40.0], "city": pd.Series(["Oslo", "Lima"], dtype=dtype)})
    with pytest.raises(
        InvalidInputError, match=r"non-numeric columns without an encoding: city .*DataFrame"
    ):
        as_matrix(X)


def test_non_numeric_numpy_array():
    with pytest.raises(InvalidInputError, match=r"non-numeric values .*encode"):
        as_matrix(np.array([["a", "b"], ["c", "d"]]))
    values, _ = as_matrix(np.array([["1.5", "2"]]))  # numeric strings are numbers
    np.testing.assert_array_equal(values, [[1.5, 2.0]])


def test_text_through_explain_reaches_a_frame_model_as_its_labels(frame_model):
    X, model = frame_model
    Xs = X.head(3).astype({"zip_region": str})  # numbers as text: the model parses them
    exp = assay.explain(model, Xs, method="exact", background=X.astype({"zip_region": str}))
    ref = assay.explain(model, X.head(3), method="exact", background=X)
    np.testing.assert_allclose(exp.values, ref.values, atol=1e-9)
    numeric = LinearRegression().fit(X.to_numpy(), X["age"])  # fitted on an array
    with pytest.raises(InvalidInputError, match=r"text columns \['zip_region'\]"):
        assay.explain(numeric, Xs, method="exact", background=X)


def test_duplicate_column_names():
    X = pd.DataFrame(np.ones((2, 2)), columns=["a", "a"])
    with pytest.raises(InvalidInputError, match=r"duplicate column names \['a'\]"):
        as_matrix(X)


# -- columns versus the model ---------------------------------------------------------------------
def test_wrong_column_count(array_model):
    X, model = array_model
    with pytest.raises(
        InvalidInputError, match=r"X has 2 columns but the model was fitted on 3; pass the same"
    ):
        assay.explain(model, X[:4, :2], method="exact", background=X)


def test_missing_column_named(frame_model):
    X, model = frame_model
    with pytest.raises(
        InvalidInputError,
        match=r"X has 2 columns but the model was fitted on 3; missing: \['zip_region'\]",
    ):
        assay.explain(model, X[["age", "dose"]].head(4), method="exact", background=X)


def test_unknown_column_named(frame_model):
    X, model = frame_model
    renamed = X.head(4).rename(columns={"dose": "dosage"})
    with pytest.raises(InvalidInputError, match=r"missing: \['dose'\]; unknown: \['dosage'\]"):
        assay.explain(model, renamed, method="exact", background=X)


def test_permuted_columns_are_reordered(frame_model):
    X, model = frame_model
    permuted = X[["zip_region", "age", "dose"]].head(6)
    exp = assay.explain(model, permuted, method="exact", background=X.head(20))
    ref = assay.explain(model, X.head(6), method="exact", background=X.head(20))
    assert exp.feature_names == ["age", "dose", "zip_region"]
    np.testing.assert_array_equal(exp.values, ref.values)
    np.testing.assert_array_equal(exp.data, X.head(6).to_numpy())
    total = exp.values.sum(axis=1)[:, 0] + exp.base_values[:, 0]
    np.testing.assert_allclose(total, model.predict(X.head(6)), atol=1e-12)


def test_align_columns_directly():
    values = np.arange(6.0).reshape(2, 3)
    out = align_columns(values, ["c", "a", "b"], ["a", "b", "c"], 3, from_frame=True)
    np.testing.assert_array_equal(out, values[:, [1, 2, 0]])
    # names that were not given by the data (plain arrays) are not matched, only counted
    out = align_columns(values, ["x0", "x1", "x2"], ["a", "b", "c"], 3, from_frame=False)
    np.testing.assert_array_equal(out, values)
    with pytest.raises(InvalidInputError, match=r"fitted on 4"):
        align_columns(values, ["x0", "x1", "x2"], None, 4, from_frame=False)


# -- unfitted models ------------------------------------------------------------------------------
def test_unfitted_sklearn_model():
    with pytest.raises(NotFittedError, match=r"LogisticRegression\) is not fitted yet.*\.fit"):
        assay.explain(LogisticRegression(), np.ones((2, 2)), method="exact")
    with pytest.raises(NotFittedError, match=r"not fitted"):
        check_fitted(LinearRegression())
    check_fitted(lambda X: X)  # not an estimator: nothing to check


def test_unfitted_xgboost_model():
    xgb = pytest.importorskip("xgboost")
    with pytest.raises(NotFittedError, match=r"XGBClassifier is not fitted yet.*\.fit"):
        assay.explain(xgb.XGBClassifier(), np.ones((2, 2)), method="exact")


def test_unfitted_lightgbm_model():
    lgb = pytest.importorskip("lightgbm")
    with pytest.raises(NotFittedError, match=r"LGBMRegressor is not fitted yet.*\.fit"):
        assay.explain(lgb.LGBMRegressor(), np.ones((2, 2)), method="exact")


# -- argument types -----------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [1.5, 2.0, "7", True])
def test_seed_must_be_an_integer(seed, array_model):
    with pytest.raises(InvalidInputError, match=r"seed must be an integer"):
        check_seed(seed)
    X, model = array_model
    with pytest.raises(InvalidInputError, match=r"seed must be an integer"):
        assay.explain(model, X[:3], method="exact", seed=seed)


def test_seed_must_be_non_negative():
    with pytest.raises(InvalidInputError, match=r"seed must be at least 0; got -1"):
        check_seed(-1)
    assert check_seed(None) is None and check_seed(np.int64(4)) == 4


def test_check_int_bounds():
    assert check_int(5, name="k", minimum=1, maximum=9) == 5
    with pytest.raises(InvalidInputError, match=r"k must be at most 9; got 10"):
        check_int(10, name="k", maximum=9)
    with pytest.raises(InvalidInputError, match=r"k must be an integer; got float 1.0"):
        check_int(1.0, name="k")


def test_unknown_method_and_output_space(array_model):
    X, model = array_model
    with pytest.raises(InvalidInputError, match=r"method must be one of .*'exact'.*got 'shapley'"):
        assay.explain(model, X[:2], method="shapley")
    with pytest.raises(InvalidInputError, match=r"output_space must be one of"):
        assay.explain(model, X[:2], method="exact", output_space="logit")


def test_unknown_option_is_a_type_error(array_model):
    X, model = array_model
    with pytest.raises(TypeError, match=r"n_samples"):
        assay.explain(model, X[:2], method="exact", n_samples=10)


# -- vectors and optional dependencies ------------------------------------------------------------
def test_as_vector_errors():
    np.testing.assert_array_equal(as_vector([1, 0, 1], n_rows=3), [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(as_vector(np.ones((3, 1))), np.ones(3))
    with pytest.raises(InvalidInputError, match=r"y has 2 values but X has 3 rows"):
        as_vector([1, 2], n_rows=3)
    with pytest.raises(InvalidInputError, match=r"y is empty"):
        as_vector([])
    with pytest.raises(InvalidInputError, match=r"y must be 1-D"):
        as_vector(np.ones((2, 2)))
    with pytest.raises(InvalidInputError, match=r"NaN/inf"):
        as_vector([1.0, np.nan])
    with pytest.raises(InvalidInputError, match=r"must be numeric.*Encode"):
        as_vector(["yes", "no"])
    with pytest.raises(InvalidInputError, match=r"y is None"):
        as_vector(None)


def test_missing_optional_dependency_names_the_extra():
    with pytest.raises(
        MissingDependencyError, match=r"'surely_not_installed_pkg'.*pip install \"assay\[all\]\""
    ):
        import_optional("surely_not_installed_pkg", purpose="testing")


# -- polars ----------------------------------------------------------------------------------------
def test_polars_dataframe(frame_model):
    pl = pytest.importorskip("polars")
    X, model = frame_model
    Xpl = pl.from_pandas(X[["dose", "zip_region", "age"]].head(5))
    _, names = as_matrix(Xpl)
    assert names == ["dose", "zip_region", "age"]
    exp = assay.explain(model, Xpl, method="exact", background=X.head(20))
    ref = assay.explain(model, X.head(5), method="exact", background=X.head(20))
    np.testing.assert_array_equal(exp.values, ref.values)
    bad = pl.DataFrame({"a": ["x", "y"]})
    with pytest.raises(InvalidInputError, match=r"non-numeric"):
        as_matrix(bad)
