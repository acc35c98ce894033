"""skops files: reviewed scikit-learn internals load without flags; anything else is refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

from assay._io import REVIEWED_SKOPS_TYPES, read_model
from assay.errors import ModelError


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {"a": rng.normal(size=300), "b": rng.uniform(1, 5, 300),
         "kind": rng.choice(["red", "green", "blue"], 300)}
    )  # fmt: skip
    y = np.where(X["a"] + (X["kind"] == "red") > 0.5, "yes", "no")
    return X, y


def _roundtrip(model, tmp_path, **kw):
    path = tmp_path / "model.skops"
    sio.dump(model, path)
    return read_model(path, **kw)


@pytest.mark.parametrize(
    "make",
    [
        lambda: RandomForestClassifier(n_estimators=10, random_state=0),
        lambda: HistGradientBoostingClassifier(max_iter=20),
    ],
)
def test_tree_models_load_without_flags(data, tmp_path, make):
    X, y = data
    num = X[["a", "b"]]
    model = make().fit(num, y)
    loaded = _roundtrip(model, tmp_path)
    np.testing.assert_array_equal(loaded.predict_proba(num), model.predict_proba(num))


def test_one_hot_pipeline_on_text_columns_loads_without_flags(data, tmp_path):
    X, y = data
    pipe = Pipeline(
        [
            ("encode", ColumnTransformer(
                [("onehot", OneHotEncoder(handle_unknown="ignore"), ["kind"])],
                remainder="passthrough",
            )),
            ("model", HistGradientBoostingClassifier(max_iter=20)),
        ]
    ).fit(X, y)  # fmt: skip
    loaded = _roundtrip(pipe, tmp_path)
    np.testing.assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))


def test_unreviewed_types_are_refused_and_can_be_trusted_by_name(data, tmp_path):
    X, y = data
    model = make_pipeline(
        FunctionTransformer(np.clip, kw_args={"a_min": 0, "a_max": 4}), RandomForestClassifier(5)
    ).fit(X[["b"]], y)
    path = tmp_path / "model.skops"
    sio.dump(model, path)
    unknown = [t for t in sio.get_untrusted_types(file=path) if t not in REVIEWED_SKOPS_TYPES]
    assert unknown  # numpy.clip is not on the reviewed list
    with pytest.raises(ModelError, match="--trust-types") as info:
        read_model(path)
    assert unknown[0] in str(info.value)
    loaded = read_model(path, trust_types=",".join(unknown))
    np.testing.assert_array_equal(loaded.predict(X[["b"]]), model.predict(X[["b"]]))
    with pytest.raises(ModelError):  # naming other types does not help
        read_model(path, trust_types="sklearn.tree._tree.Tree")
