"""The Explanation result: fixed shapes, frames, slicing and exact round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assay import Explanation
from assay.errors import AssayError, InvalidInputError


def make_explanation(*, stderr: bool = False, nan: bool = True, n=4, d=3, k=2) -> Explanation:
    rng = np.random.default_rng(0)
    data = rng.normal(size=(n, d))
    if nan:
        data[1, 2] = np.nan
    return Explanation(
        values=rng.normal(size=(n, d, k)),
        base_values=rng.normal(size=(n, k)),
        data=data,
        feature_names=[f"f{j}" for j in range(d)],
        output_names=[f"class_{c}" for c in range(k)],
        method="permutation" if stderr else "exact",
        output_space="probability",
        stderr=np.abs(rng.normal(size=(n, d, k))) if stderr else None,
        params={
            "seed": np.int64(3),
            "n_background": 20,
            "tol": np.float64(0.5),
            "grid": np.arange(3),
            "pair": (1, "a"),
            "nested": {"a": [1.5, None]},
        },
    )


def assert_same(a: Explanation, b: Explanation) -> None:
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.base_values, b.base_values)
    np.testing.assert_array_equal(a.data, b.data)  # NaN positions must match too
    if a.stderr is None:
        assert b.stderr is None
    else:
        np.testing.assert_array_equal(a.stderr, b.stderr)
    assert a.feature_names == b.feature_names
    assert a.output_names == b.output_names
    assert (a.method, a.output_space, a.schema_version) == (
        b.method,
        b.output_space,
        b.schema_version,
    )
    assert a.values.dtype == b.values.dtype == np.float64


# -- shape validation ---------------------------------------------------------------------------
def _kwargs(**over):
    kw = {
        "values": np.zeros((2, 3, 1)),
        "base_values": np.zeros((2, 1)),
        "data": np.zeros((2, 3)),
        "feature_names": ["a", "b", "c"],
        "output_names": ["y"],
        "method": "exact",
        "output_space": "raw",
    }
    kw.update(over)
    return kw


@pytest.mark.parametrize(
    ("override", "pattern"),
    [
        ({"values": np.zeros((2, 3))}, r"values must be 3-D .*got shape \(2, 3\)"),
        ({"base_values": np.zeros((2,))}, r"base_values must have shape \(2, 1\); got \(2,\)"),
        ({"base_values": np.zeros((3, 1))}, r"base_values must have shape \(2, 1\)"),
        ({"data": np.zeros((2, 4))}, r"data must have shape \(2, 3\); got \(2, 4\)"),
        ({"feature_names": ["a", "b"]}, r"need 3 feature names and 1 output names; got 2"),
        ({"output_names": ["y", "z"]}, r"need 3 feature names and 1 output names"),
        ({"stderr": np.zeros((2, 3, 2))}, r"stderr must have the shape of values"),
    ],
)
def test_shape_validation(override, pattern):
    with pytest.raises(InvalidInputError, match=pattern):
        Explanation(**_kwargs(**override))


def test_arrays_are_float64_and_shapes_fixed():
    exp = Explanation(**_kwargs(values=np.zeros((2, 3, 1), dtype=np.float32)))
    assert exp.values.dtype == np.float64
    assert exp.shape == (2, 3, 1) and len(exp) == 2
    assert "exact" in repr(exp)
    with pytest.raises(AttributeError):
        exp.method = "kernel"  # frozen


# -- to_frame -----------------------------------------------------------------------------------
@pytest.mark.parametrize("stderr", [False, True])
def test_to_frame(stderr):
    exp = make_explanation(stderr=stderr)
    n, d, k = exp.shape
    frame = exp.to_frame()
    assert list(frame.columns) == ["row", "feature", "output", "value", "stderr", "feature_value"]
    assert len(frame) == n * d * k
    # each row of the frame points at the right cell
    for _, r in frame.sample(10, random_state=0).iterrows():
        i, j, c = (
            int(r["row"]),
            exp.feature_names.index(r["feature"]),
            exp.output_names.index(r["output"]),
        )
        assert r["value"] == exp.values[i, j, c]
        np.testing.assert_equal(r["feature_value"], exp.data[i, j])
        if stderr:
            assert r["stderr"] == exp.stderr[i, j, c]
        else:
            assert np.isnan(r["stderr"])


# -- save / load --------------------------------------------------------------------------------
@pytest.mark.parametrize("stderr", [False, True])
def test_save_load_round_trip_is_exact(tmp_path, stderr):
    exp = make_explanation(stderr=stderr, nan=True)
    path = exp.save(tmp_path / "sub" / "exp.npz")
    assert path.exists()
    back = Explanation.load(path)
    assert_same(exp, back)
    assert back.params == json.loads(json.dumps(back.params))  # plain JSON types
    assert back.params["seed"] == 3 and back.params["grid"] == [0, 1, 2]
    assert back.params["pair"] == [1, "a"]


def test_save_adds_npz_suffix(tmp_path):
    exp = make_explanation()
    assert exp.save(tmp_path / "exp").name == "exp.npz"
    assert exp.save(tmp_path / "exp.json").name == "exp.json.npz"
    assert_same(exp, Explanation.load(tmp_path / "exp.json.npz"))


# -- to_dict / from_dict ------------------------------------------------------------------------
@pytest.mark.parametrize("stderr", [False, True])
def test_dict_round_trip_through_strict_json(stderr):
    exp = make_explanation(stderr=stderr, nan=True)
    text = json.dumps(exp.to_dict(), allow_nan=False)  # NaN in data becomes null, strict JSON
    back = Explanation.from_dict(json.loads(text))
    assert_same(exp, back)
    assert back.params == exp.to_dict()["params"]
    assert json.loads(text)["kind"] == "Explanation"
    assert json.loads(text)["schema_version"] == exp.schema_version


# -- slicing ------------------------------------------------------------------------------------
def test_slicing_by_row():
    exp = make_explanation(stderr=True, n=5)
    one = exp[2]
    assert one.shape == (1, 3, 2)  # stays 3-D
    np.testing.assert_array_equal(one.values[0], exp.values[2])
    np.testing.assert_array_equal(one.base_values[0], exp.base_values[2])
    np.testing.assert_array_equal(one.stderr[0], exp.stderr[2])
    part = exp[1:4]
    assert part.shape == (3, 3, 2)
    np.testing.assert_array_equal(part.data, exp.data[1:4])
    chosen = exp[[0, 4]]
    np.testing.assert_array_equal(chosen.values, exp.values[[0, 4]])
    mask = exp[np.array([True, False, True, False, False])]
    np.testing.assert_array_equal(mask.values, exp.values[[0, 2]])
    assert part.params == exp.params and part.method == exp.method


def test_slicing_by_feature_name():
    exp = make_explanation(stderr=True)
    b = exp[:, "f1"]
    assert b.shape == (4, 1, 2) and b.feature_names == ["f1"]
    np.testing.assert_array_equal(b.values[:, 0], exp.values[:, 1])
    np.testing.assert_array_equal(b.data[:, 0], exp.data[:, 1])
    two = exp[1:3, ["f2", "f0"]]
    assert two.feature_names == ["f2", "f0"]
    np.testing.assert_array_equal(two.values, exp.values[1:3][:, [2, 0]])
    np.testing.assert_array_equal(two.stderr, exp.stderr[1:3][:, [2, 0]])
    by_index = exp[:, [0, -1]]
    assert by_index.feature_names == ["f0", "f2"]
    # base values are unchanged by a feature selection
    np.testing.assert_array_equal(b.base_values, exp.base_values)


def test_unknown_feature_name_is_an_error():
    exp = make_explanation()
    with pytest.raises(InvalidInputError, match=r"unknown feature 'age'.*known features.*f0"):
        exp[:, "age"]
    with pytest.raises(InvalidInputError, match=r"out of range for 3 features"):
        exp[:, 3]


# -- summaries ----------------------------------------------------------------------------------
def test_importance_and_additivity_error():
    exp = make_explanation()
    np.testing.assert_array_equal(exp.importance(), np.abs(exp.values).mean(axis=0))
    output = exp.values.sum(axis=1) + exp.base_values
    assert np.all(exp.additivity_error(output) == 0)
    output[2, 1] += 0.25
    np.testing.assert_allclose(exp.additivity_error(output), [0, 0, 0.25, 0], atol=1e-15)


# -- loading something else --------------------------------------------------------------------
def test_load_missing_file(tmp_path):
    with pytest.raises(InvalidInputError, match=r"no explanation file"):
        Explanation.load(tmp_path / "nope.npz")


def test_load_text_file(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("hello, not an explanation")
    with pytest.raises(InvalidInputError, match=r"is not an assay Explanation file"):
        Explanation.load(path)


def test_load_plain_npy(tmp_path):
    path = tmp_path / "array.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(InvalidInputError, match=r"not an assay Explanation file"):
        Explanation.load(path)


def test_load_other_npz(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, values=np.zeros((1, 1, 1)))
    with pytest.raises(InvalidInputError, match=r"not an assay Explanation file"):
        Explanation.load(path)
    path2 = tmp_path / "kind.npz"
    np.savez(
        path2,
        values=np.zeros((1, 1, 1)),
        base_values=np.zeros((1, 1)),
        data=np.zeros((1, 1)),
        meta=np.array(json.dumps({"kind": "AuditResult"})),
    )
    with pytest.raises(InvalidInputError, match=r"does not hold an Explanation.*AuditResult"):
        Explanation.load(path2)


def test_load_errors_are_assay_errors(tmp_path):
    path = tmp_path / "bad.npz"
    path.write_bytes(b"PK\x03\x04 truncated zip")
    with pytest.raises(AssayError):
        Explanation.load(path)
