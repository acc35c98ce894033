"""Component to system: replacing a component by its reference shows which part limits the
system, with gains equal to the direct computation and exactly 0 for a perfect component."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from assay.auditing import ComponentGains, component_gains
from assay.errors import InvalidInputError


def _two_sensors(n: int, seed: int):
    """Outcome from two latent values; sensor a measures z1 badly, sensor b measures z2 well."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    y = (z.sum(axis=1) + rng.normal(scale=0.3, size=n) > 0).astype(int)
    m = z + rng.normal(size=(n, 2)) * np.array([1.5, 0.2])
    return z, m, y


@pytest.fixture(scope="module")
def system():
    z, m, y = _two_sensors(3000, 0)
    # the downstream model was fitted on exact values; in use it reads the two sensors
    clf = LogisticRegression().fit(z[:1500], y[:1500])
    steps = [
        ("sensor_a", lambda M: M.copy()),  # the measured value of z1 (column 0)
        ("sensor_b", lambda M: M.copy()),  # the measured value of z2 (column 1)
        ("model", clf),
    ]
    return steps, clf, z[1500:], m[1500:], y[1500:]


def test_the_worse_sensor_limits_the_system(system):
    steps, clf, z, m, y = system
    ref_a = np.column_stack([z[:, 0], m[:, 1]])  # sensor a perfect, b as it is
    ref_b = np.column_stack([m[:, 0], z[:, 1]])
    res = component_gains(steps, m, y, references={"sensor_a": ref_a, "sensor_b": ref_b})
    by = {c["name"]: c for c in res.components}
    # independent oracle: the Brier scores computed directly
    brier = lambda M: np.mean((clf.predict_proba(M)[:, 1] - y) ** 2)  # noqa: E731
    assert res.loss_system == pytest.approx(brier(m), abs=1e-12)
    assert by["sensor_a"]["gain"] == pytest.approx(brier(m) - brier(ref_a), abs=1e-12)
    assert by["sensor_b"]["gain"] == pytest.approx(brier(m) - brier(ref_b), abs=1e-12)
    assert res.components[0]["name"] == "sensor_a" and by["sensor_a"]["ci_low"] > 0
    assert by["sensor_a"]["limits_system"] and res.status == "warning"
    assert "improve sensor_a first" in res.verdict
    back = ComponentGains.from_dict(json.loads(json.dumps(res.to_dict())))
    assert back.components[0]["name"] == "sensor_a" and back.status == res.status


def test_a_perfect_component_gains_exactly_nothing():
    _, m, y = _two_sensors(600, 1)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())]).fit(m, y)
    own = pipe.named_steps["scale"].transform(m)  # the component's own output is its reference
    res = component_gains(pipe, m, y, references={"scale": own})
    assert res.components[0]["gain"] == 0.0 and res.status == "ok"
    assert "no component is shown" in res.verdict


def test_bad_inputs(system):
    steps, _, z, m, y = system
    with pytest.raises(InvalidInputError, match="the system's components are"):
        component_gains(steps, m, y, references={"nope": z})
    with pytest.raises(InvalidInputError, match="Pipeline or a list"):
        component_gains(object(), m, y, references={"a": z})
    with pytest.raises(InvalidInputError, match="rows"):
        component_gains(steps, m, y, references={"sensor_a": z[:10]})
