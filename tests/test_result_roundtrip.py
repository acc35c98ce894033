"""Every result class round-trips: ``type(r).from_dict(r.to_dict())`` gives the same record.

The classes are discovered by walking the ``assay`` package (every class with ``to_dict``), so a
new result without ``from_dict`` fails here. Each is built by a small real run (tiny data,
few draws), sent through JSON, rebuilt, and its ``to_dict()`` compared with the original's:
fields, derived keys (``status``, ``verdict``) and nested results alike.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

import assay
from assay._results import RESULT_KINDS, FromDict, result_from_dict
from assay.errors import InvalidInputError

# Classes with to_dict that are not records to reload, and why (keep this list short).
NOT_RECORDS = {
    # a container of captured arrays: to_dict is its summary (shapes), the arrays go to .npz
    "assay.probe._capture.Activations": "arrays are saved with numpy, to_dict is a summary",
}


def _result_classes() -> dict[str, type]:
    found = {}
    for info in pkgutil.walk_packages(assay.__path__, "assay."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and obj.__module__ == module.__name__
                and not name.startswith("_")
                and callable(getattr(obj, "to_dict", None))
            ):
                found[f"{obj.__module__}.{name}"] = obj
    return found


CLASSES = _result_classes()


def test_every_result_class_has_from_dict():
    missing = [
        path
        for path, cls in CLASSES.items()
        if path not in NOT_RECORDS and not callable(getattr(cls, "from_dict", None))
    ]
    assert missing == []
    assert set(NOT_RECORDS) <= set(CLASSES)  # no stale exemptions


# ----------------------------------------------------------------------------- builders
@pytest.fixture(scope="module")
def tabular():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    X[:, 3] = rng.integers(0, 2, 300)
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.5, size=300) > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    return X, y, model


def _explanation(tabular, seed=0):
    X, _, model = tabular
    return assay.explain(model, X[:20], method="kernel", background=X[:30], seed=seed)


def build_explanation_results(tabular):
    from assay.attribution import LimeText
    from assay.attribution._background import summarize_background

    X, _, _ = tabular
    words = ["good", "bad", "fine", "awful"]
    lime = LimeText(lambda texts: np.array([[t.count("good") / 3.0] for t in texts]),
                    n_samples=50)  # fmt: skip
    return [
        _explanation(tabular),
        summarize_background(X, n_rows=5, method="sample", seed=0),
        lime.explain([" ".join(words), "good good bad"], seed=0),
    ]


def build_trust_results(tabular):
    from assay import trust

    X, y, model = tabular
    exp = _explanation(tabular)
    exp2 = _explanation(tabular, seed=1)
    ref = assay.explain(model, X[:20], method="exact", background=X[:30])
    ass = trust.assess(exp, model, X[:20], background=X[:30], n_random=3,
                       checks=["faithfulness", "seed_stability"], stability_seeds=(1,))  # fmt: skip
    faith = trust.faithfulness(exp, model, background=X[:30], n_random=3, seed=0)
    perm = trust.label_permutation_check(
        lambda Xf, yf: LogisticRegression().fit(Xf, yf), X[:40], y[:40], X_explain=X[:5],
        attribute="exact",
    )  # fmt: skip
    return [
        ass,
        *ass.checks,
        faith,
        faith.metrics[0],
        trust.seed_stability([exp, exp2]),
        trust.input_sensitivity(exp, model, background=X[:30], n_perturbations=2, seed=0),
        perm,
        trust.agreement(exp, ref),
        trust.disagreement({"kernel": exp, "exact": ref}),
        trust.off_manifold_test(X[:100], X[100:200] + 0.5, n_permutations=20, seed=0),
    ]


def build_fairness_results(tabular):
    from assay.fairness import (
        GroupMetrics,
        InvariantMLPClassifier,
        ProxyAudit,
        invariance_sweep,
        neutralize,
    )

    X, y, model = tabular
    gm = GroupMetrics(metrics=["selection_rate", "accuracy"], y_true=y,
                      y_pred=model.predict(X), sensitive_features=X[:, 3])  # fmt: skip
    neutral = neutralize(model, 3, data=X)
    est = InvariantMLPClassifier(sensitive_column=3, epochs=5)
    boot = GroupMetrics(metrics=["selection_rate", "accuracy"], y_true=y,
                        y_pred=model.predict(X), sensitive_features=X[:, 3] > 0,
                        control_features={"c": X[:, 0] > 0}, n_bootstrap=20, seed=0)  # fmt: skip
    return [
        gm,
        boot,
        gm.compare(n_permutations=49, seed=0),
        neutral.report(X, y=y),
        invariance_sweep(X, y, X[:, 3], weights=[0.0, 1.0], estimator=est, seed=0),
        ProxyAudit(model, X, X[:, 3] > 0, n_permutations=19, n_repeats=2, cv=2, seed=0),
    ]


def build_slice_results():
    from assay.slices import find_slices

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.integers(0, 4, 2000), "b": rng.normal(size=2000)})
    e = (rng.random(2000) < np.where(X["a"] == 1, 0.5, 0.1)).astype(float)
    report = find_slices(X, errors=e, seed=0)
    yt = rng.integers(0, 2, 2000)
    yp = np.where((X["a"] == 2) & (rng.random(2000) < 0.5), 1 - yt, yt)
    fair = find_slices(X, y_true=yt, y_pred=yp, fairness=X["a"] == 2, seed=0)
    assert report.slices  # the planted slice is there, so Slice round-trips too
    return [report, report.slices[0], fair]


def build_glassbox_results():
    from assay.glassbox import (
        GAMRegressor,
        check_monotonic,
        compare_monotonic,
        find_shape_anomalies,
    )

    rng = np.random.default_rng(0)
    X = rng.uniform(0, 4, size=(1500, 2))
    y = np.where(X[:, 0] >= 2.0, 1.0, 0.0) + 0.3 * X[:, 1] + rng.normal(scale=0.2, size=1500)
    gam = GAMRegressor(max_rounds=200, n_bags=2, interactions=0, random_state=0).fit(X, y)
    anomalies = find_shape_anomalies(gam, X, y, min_support=50)
    gam.set_term(1, 0.0, note="flatten")
    return [
        anomalies,
        *anomalies.anomalies[:1],
        gam.bins_[0],
        gam.edits_[0],
        check_monotonic(LinearRegression().fit(X, y), X, {0: 1}, n_pairs=200, n_rows=20, seed=0),
        compare_monotonic(X[:300], y[:300], {0: 1}, seed=0, max_epochs=3),
    ]


def build_probe_results():
    from assay.probe import load_statements, probe_layers, random_probe_floor

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    acts = {"a": rng.normal(size=(200, 5)), "b": rng.normal(size=(200, 5))}
    acts["b"][:, 0] += 2 * y
    return [
        load_statements("capitals"),
        probe_layers(acts, y, n_splits=3, seed=0),
        random_probe_floor(acts["b"], y, n_directions=20, seed=0),
    ]


def build_torch_results():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from assay.probe import activation_patching, logit_lens

    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=12, n_positions=4, n_embd=16, n_layer=1, n_head=2,
                                 bos_token_id=0, eos_token_id=0)
    model = transformers.GPT2LMHeadModel(cfg).eval()
    clean = torch.randint(0, 12, (4, 4), generator=torch.Generator().manual_seed(0))
    corrupted = (clean + 1) % 12
    patch = activation_patching(
        model, {"input_ids": clean}, {"input_ids": corrupted}, layers=["transformer.h.0"],
        positions=[-1], metric=lambda out: out[:, 0],
    )  # fmt: skip
    lens = logit_lens(model, {"input_ids": clean}, layers=["transformer.h.0"], top_k=2)
    return [patch, lens]


def build_amortized_results(tabular):
    pytest.importorskip("torch")
    from assay.attribution import AmortizedShap

    X, _, model = tabular
    with pytest.warns(assay.errors.AssayWarning):  # one epoch: the report says it is far off
        amo = AmortizedShap(model, background=X[:20], hidden=(8,), epochs=1, seed=0).fit(X[:60])
    return [amo.validation_]


def build_evals_results():
    from assay.evals import (
        Format,
        exchangeability_test,
        format_spread,
        judge_bias,
        membership_scores,
        ngram_overlap,
    )

    seqs = [[1, 5, 6], [2, 7, 8], [8, 1, 2], [9, 3, 4]]
    member = membership_scores(lambda ss: [np.full(len(s) - 1, -0.1 * s[0]) for s in ss],
                               seqs, labels=[1, 1, 0, 0], n_bootstrap=50, seed=0)  # fmt: skip
    exch = exchangeability_test(
        lambda orders: np.array([-np.abs(np.diff(o) - 1).sum() for o in orders], float),
        list("abcdefghijklmnop"), n_shards=4, n_permutations=5, seed=0,
    )  # fmt: skip
    examples = [{"Question": f"{i} plus 1?", "Answer": ""} for i in range(20)]
    spread = format_spread(
        lambda prompts: np.array([float(len(p) % 2) for p in prompts]), examples,
        formats=[Format(), Format(separator=" -")], seed=0, n_bootstrap=50,
    )  # fmt: skip
    rng = np.random.default_rng(0)
    items = [
        {"question": f"q{i}", "answer_a": f"a{i}" * (1 + i % 3), "answer_b": f"b{i}"}
        for i in range(12)
    ]
    judge = judge_bias(lambda q, a, b: int(rng.random() < 0.5), items, checks=("position",),
                       n_bootstrap=99, seed=0)  # fmt: skip
    contamination = ngram_overlap(["a b c d", "w x y z"], ["xx a b c d yy"], n=3)
    return [member, exch, spread, judge, contamination]


def build_acquire_results():
    from sklearn.ensemble import HistGradientBoostingClassifier

    from assay.acquire import value_of_information

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2))
    y = (X[:, 0] > 0).astype(int)
    model = HistGradientBoostingClassifier(max_iter=10).fit(X, y)
    Xq = X[:3].copy()
    Xq[:, 0] = np.nan
    return [value_of_information(model, Xq, X_reference=X, n_samples=10, seed=0)]


def build_audit_result(tabular):
    X, y, model = tabular
    frame = pd.DataFrame(X, columns=["a", "b", "c", "group"])
    return [assay.audit(model, frame, y, sensitive=frame[["group"]], n_explain=20, seed=0)]


def build_comparison_results(tabular):
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from assay.auditing import component_gains

    X, y, _ = tabular
    frame = pd.DataFrame(X, columns=["a", "b", "c", "group"])
    baseline = LogisticRegression(C=0.01).fit(frame, y)
    new = LogisticRegression().fit(frame, y)
    change = assay.compare(new, baseline, frame, y, sensitive=frame[["group"]], n_explain=20,
                           seed=0)  # fmt: skip
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())]).fit(X, y)
    own_output = pipe.named_steps["scale"].transform(X)
    gains = component_gains(pipe, X, y, references={"scale": own_output})
    return [change, gains]


@pytest.fixture(scope="module")
def results(tabular):
    built = [
        *build_explanation_results(tabular),
        *build_trust_results(tabular),
        *build_fairness_results(tabular),
        *build_slice_results(),
        *build_glassbox_results(),
        *build_probe_results(),
        *build_evals_results(),
        *build_acquire_results(),
        *build_audit_result(tabular),
        *build_comparison_results(tabular),
    ]
    for build in (build_torch_results, lambda: build_amortized_results(tabular)):
        try:
            built += build()
        except pytest.skip.Exception:
            pass
    return built


def _canonical(d):
    return json.dumps(d, sort_keys=True, default=str)


def test_every_result_round_trips(results):
    covered = set()
    for r in results:
        cls = type(r)
        d = json.loads(json.dumps(r.to_dict(), default=str))
        back = cls.from_dict(d)
        assert type(back) is cls
        if "schema_version" in d:  # one schema version per kind, written and checked
            assert d["schema_version"] == cls.SCHEMA_VERSION, cls.__name__
        assert _canonical(back.to_dict()) == _canonical(d), cls.__name__
        covered.add(f"{cls.__module__}.{cls.__name__}")
    expected = {p for p in CLASSES if p not in NOT_RECORDS}
    if not any(type(r).__name__ == "PatchingResult" for r in results):  # no torch
        expected -= {f"assay.probe._patching.{n}" for n in ("PatchingResult", "LogitLensResult")}
    if not any(type(r).__name__ == "AmortizedValidation" for r in results):  # no torch
        expected -= {"assay.attribution.shapley._amortized.AmortizedValidation"}
    assert expected - covered == set()


def test_kind_dispatch_and_bad_input(results):
    for r in results:
        d = r.to_dict()
        if isinstance(r, FromDict) and d.get("kind") == type(r).__name__:
            assert type(result_from_dict(d)) is type(r)
    assert set(RESULT_KINDS) >= {"SliceReport", "AssessmentResult", "CheckResult"}
    report = next(r for r in results if type(r).__name__ == "SliceReport")
    with pytest.raises(InvalidInputError, match="kind 'Nope'"):
        result_from_dict({"kind": "Nope"})
    with pytest.raises(InvalidInputError, match="of kind 'CheckResult'"):
        type(report).from_dict({**report.to_dict(), "kind": "CheckResult"})
    with pytest.raises(InvalidInputError, match="newer than this assay reads"):
        type(report).from_dict({**report.to_dict(), "schema_version": 99})
    with pytest.raises(InvalidInputError, match="has no 'slices'"):
        type(report).from_dict({k: v for k, v in report.to_dict().items() if k != "slices"})


def test_one_json_converter_and_one_schema_version_per_kind():
    """No module keeps its own JSON converter for results (``assay._results.to_jsonable`` is the
    one), nor a module-level ``SCHEMA_VERSION`` beside the class attribute; a result's
    ``schema_version`` field defaults to its class's ``SCHEMA_VERSION``."""
    import ast
    import dataclasses
    from pathlib import Path

    converter_names = {"_plain", "_floats", "_jsonable", "_json_safe", "_to_json", "_to_jsonable"}
    root = Path(assay.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "_results.py" and path.parent == root:
            continue
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name in converter_names:
                found.append(f"{path.relative_to(root)}: def {node.name}")
            targets = node.targets if isinstance(node, ast.Assign) else []
            if any(isinstance(t, ast.Name) and t.id == "SCHEMA_VERSION" for t in targets):
                # a file format's version (saved GAM) is not a result kind's: it may stay
                kinds = [n.name for n in tree.body if isinstance(n, ast.ClassDef)
                         and n.name in RESULT_KINDS]  # fmt: skip
                if kinds:
                    found.append(f"{path.relative_to(root)}: module SCHEMA_VERSION ({kinds})")
    assert found == []
    for name, cls in RESULT_KINDS.items():
        if dataclasses.is_dataclass(cls):
            defaults = {f.name: f.default for f in dataclasses.fields(cls)}
            if "schema_version" in defaults:
                assert defaults["schema_version"] == cls.SCHEMA_VERSION, name
