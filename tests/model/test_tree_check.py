"""Crafted model files: malformed trees give a clean ModelError, never a crash or a hang.

Each bad file is made by editing a real model: an XGBoost JSON dump, a LightGBM text model, a
scikit-learn tree's node array. Before the checks, XGBoost's and LightGBM's own ``predict``
crashed (exit 139) or looped forever on most of these, and so did our compiled traversal. The
explain runs happen in a child process with a timeout, so a crash or a hang fails the test
instead of killing the test run. LightGBM files are only opened through ``read_model``, which
checks the text before LightGBM parses it: LightGBM's own parser writes out of bounds on some
of them (heap corruption that crashed a later, unrelated step when the test loaded them).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.tree import DecisionTreeRegressor

from assay.errors import ModelError
from assay.model._tree_check import MAX_TREE_DEPTH, CorruptTreeError, check_tree_links
from assay.model._tree_ensemble import TreeEnsemble
from assay.model._tree_extract import extract_tree_ensemble
from assay.model._tree_predict import predict_raw

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")

SRC = str(Path(__file__).resolve().parents[2] / "src")
N_FEATURES = 12

# (name, expected words in the message)
XGB_CASES = {
    "feature_5000": "splits on feature 5000 but the model has 12 features",
    "child_100000": "left child 100000 is not a node",
    "child_minus_7": "left child -7 is not a node",
    "cycle": "reached twice from the root",
    "nan_threshold": "split threshold is NaN",
    "nan_leaf": "is not finite",
    "tree_output_99": "adds to output 99",
}
LGB_CASES = {
    "feature_5000": "splits on feature 5000 but the model has 12 features",
    "child_100000": "left_child 100000 is neither",
    "child_minus_7": "left_child -7 is neither",
    "cycle": "reached twice from the root",
    "nan_threshold": "split threshold is NaN",
    "nan_leaf": "is not finite",
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("crafted")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, N_FEATURES))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    pd.DataFrame(X, columns=[f"f{i}" for i in range(N_FEATURES)]).assign(y=y).to_csv(
        tmp / "data.csv", index=False
    )
    xgb.XGBClassifier(n_estimators=4, max_depth=3).fit(X, y).get_booster().save_model(
        tmp / "good.json"
    )
    good = json.loads((tmp / "good.json").read_text())
    for name in XGB_CASES:
        model = json.loads(json.dumps(good))
        tree = model["learner"]["gradient_booster"]["model"]["trees"][0]
        _edit_xgb(name, tree, model)
        (tmp / f"{name}.json").write_text(json.dumps(model))
    lgb.LGBMClassifier(n_estimators=4, num_leaves=4, verbose=-1).fit(X, y).booster_.save_model(
        tmp / "good.txt"
    )
    text = re.sub(r"tree_sizes=.*\n", "", (tmp / "good.txt").read_text())
    for name in LGB_CASES:
        (tmp / f"{name}.txt").write_text(_edit_lgb(name, text))
    return tmp


def _edit_xgb(name, tree, model):
    left, right = tree["left_children"], tree["right_children"]
    leaf = left.index(-1)
    if name == "feature_5000":
        tree["split_indices"][0] = 5000
    elif name == "child_100000":
        left[0] = 100000
    elif name == "child_minus_7":
        left[0] = -7
    elif name == "cycle":
        left[left[0]] = 0  # the root's left child points back to the root
        right[left[0]] = right[0]
    elif name == "nan_threshold":
        tree["split_conditions"][0] = float("nan")
    elif name == "nan_leaf":
        tree["split_conditions"][leaf] = float("nan")
    elif name == "tree_output_99":
        model["learner"]["gradient_booster"]["model"]["tree_info"][0] = 99


def _edit_lgb(name, text):
    # tree 0 is: split_feature=a b c, left_child=1 -1 -3, right_child=-2 2 -4 (4 leaves)
    def first(key, value):
        return re.sub(rf"^{key}=.*$", f"{key}={value}", text, count=1, flags=re.M)

    fields = dict(re.findall(r"^(\w+)=(.*)$", text.split("Tree=0", 1)[1], flags=re.M))
    thresholds = fields["threshold"].split()
    return {
        "feature_5000": lambda: first("split_feature", "0 5000 0"),
        "child_100000": lambda: first("left_child", "1 -1 100000"),
        "child_minus_7": lambda: first("left_child", "1 -1 -7"),
        "cycle": lambda: first("left_child", "1 -1 0"),
        "nan_threshold": lambda: first("threshold", " ".join(["nan", *thresholds[1:]])),
        "nan_leaf": lambda: first("leaf_value", "nan 0.1 0.1 0.1"),
    }[name]()


RUNNER = """
import json, sys
import pandas as pd
import assay
from assay._io import read_model
folder, suffix = sys.argv[1], sys.argv[2]
X = pd.read_csv(f"{folder}/data.csv").drop(columns="y").to_numpy()[:5]
out = {}
for name in sys.argv[3:]:
    # LightGBM itself writes out of bounds while parsing some of these files (its own
    # Booster(model_file=...) is unsafe on them), so LightGBM files go through read_model only
    for via in ("file", "api") if suffix == ".json" else ("file",):
        for method in ("tree", "kernel", "exact"):
            path = f"{folder}/{name}{suffix}"
            try:
                if via == "file":
                    model = read_model(path)
                else:
                    import xgboost
                    model = xgboost.Booster()
                    model.load_model(path)
                exp = assay.explain(model, X, method=method, background=X, seed=0)
                out[f"{name}/{via}/{method}"] = ["result", list(exp.values.shape)]
            except assay.errors.ModelError as exc:
                out[f"{name}/{via}/{method}"] = ["ModelError", str(exc)]
print("RESULTS" + json.dumps(out))
"""


def _run_matrix(folder, suffix, names):
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, str(folder), suffix, *names],
        capture_output=True,
        text=True,
        timeout=240,  # a hang fails here
        env={"PYTHONPATH": SRC, "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]  # 139 would be a crash
    return json.loads(proc.stdout.split("RESULTS", 1)[1])


@pytest.mark.parametrize(("suffix", "cases"), [(".json", XGB_CASES), (".txt", LGB_CASES)])
def test_crafted_models_give_clean_errors_for_every_method(files, suffix, cases):
    results = _run_matrix(files, suffix, ["good", *cases])
    for key, (kind, detail) in results.items():
        name = key.split("/")[0]
        if name == "good":
            assert kind == "result", (key, detail)
            assert detail[:2] == [5, N_FEATURES]
            continue
        assert kind == "ModelError", (key, detail)
        assert "malformed tree model" in detail and cases[name] in detail, (key, detail)
        assert "tree 0" in detail  # names the tree (and node)
        if "/file/" in key:  # names the file
            assert f"{name}{suffix}" in detail, detail
    n_ways = 6 if suffix == ".json" else 3
    assert len(results) == n_ways * (len(cases) + 1)


# --------------------------------------------------------------------------- scikit-learn


def _sklearn_tree(edit):
    X = np.random.default_rng(1).normal(size=(200, 3))
    model = DecisionTreeRegressor(max_depth=3, random_state=0).fit(X, X[:, 0])
    state = model.tree_.__getstate__()
    nodes = state["nodes"].copy()
    edit(nodes)
    state["nodes"] = nodes
    model.tree_.__setstate__(state)
    return model, X


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda n: n["left_child"].__setitem__(0, 100000), "left child 100000"),
        (lambda n: n["right_child"].__setitem__(0, -7), "right child -7"),
        (lambda n: n["left_child"].__setitem__(n["left_child"][0], 0), "reached twice"),
        (lambda n: n["feature"].__setitem__(0, 5000), "splits on feature 5000"),
        (lambda n: n["threshold"].__setitem__(0, np.nan), "threshold is NaN"),
    ],
)
def test_crafted_sklearn_tree_arrays_are_rejected(edit, words):
    model, _ = _sklearn_tree(edit)
    if words == "reached twice":  # a cycle needs both children of the node set
        state = model.tree_.__getstate__()
        nodes = state["nodes"].copy()
        child = nodes["left_child"][0]
        nodes["right_child"][child] = nodes["right_child"][0]
        state["nodes"] = nodes
        model.tree_.__setstate__(state)
    with pytest.raises(ModelError, match=words):
        extract_tree_ensemble(model)


def test_nan_leaf_in_sklearn_tree_is_rejected():
    X = np.random.default_rng(1).normal(size=(200, 3))
    model = DecisionTreeRegressor(max_depth=2, random_state=0).fit(X, X[:, 0])
    state = model.tree_.__getstate__()
    values = state["values"].copy()
    leaf = int(np.flatnonzero(state["nodes"]["left_child"] == -1)[0])
    values[leaf] = np.nan
    state["values"] = values
    model.tree_.__setstate__(state)
    with pytest.raises(CorruptTreeError, match=f"tree 0, node {leaf}: its value"):
        extract_tree_ensemble(model)


# --------------------------------------------------------------------------- well-formed trees


def test_pruned_xgboost_nodes_are_allowed_and_ignored():
    """XGBoost's exact method keeps pruned nodes (unreachable leaves) in its trees."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 5))
    y = X[:, 0] + rng.normal(size=500)
    model = xgb.XGBRegressor(n_estimators=10, max_depth=6, gamma=50.0, tree_method="exact")
    model.fit(X, y)
    dump = json.loads(model.get_booster().save_raw("json"))
    deleted = sum(
        int(t["tree_param"]["num_deleted"])
        for t in dump["learner"]["gradient_booster"]["model"]["trees"]
    )
    assert deleted > 0  # the case this test is about
    ens = extract_tree_ensemble(model)
    margin = model.get_booster().predict(xgb.DMatrix(X), output_margin=True)
    np.testing.assert_allclose(predict_raw(ens, X)[:, 0], margin, rtol=0, atol=1e-5)


def test_depth_bound_and_cycle_checks_terminate():
    # a chain of MAX_TREE_DEPTH + 1 splits: node i has children (i + 1, leaf)
    n_split = MAX_TREE_DEPTH + 1
    left = np.concatenate([np.arange(1, n_split + 1), np.full(n_split + 1, -1)])
    right = np.concatenate([np.arange(n_split + 1, 2 * n_split + 1), np.full(n_split + 1, -1)])
    left[n_split] = -1  # the last chain node is a leaf
    right[n_split] = -1
    with pytest.raises(CorruptTreeError, match=f"deeper than {MAX_TREE_DEPTH}"):
        check_tree_links(left, right, tree=0)
    deep_ok = check_tree_links(left[-(2 * 10 + 1) :] * 0 - 1, right[-21:] * 0 - 1, tree=0)
    assert deep_ok.tolist() == [True] + [False] * 20  # a lone root leaf; the rest unreachable
    # a two-node cycle not through the root is unreachable, and the walk still ends
    reach = check_tree_links(np.array([-1, 2, 1]), np.array([-1, 2, 1]), tree=0)
    assert reach.tolist() == [True, False, False]


def test_tree_ensemble_built_directly_is_checked():
    X = np.random.default_rng(1).normal(size=(100, 3))
    ens = extract_tree_ensemble(DecisionTreeRegressor(max_depth=2).fit(X, X[:, 0]))
    fields = {
        name: getattr(ens, name)
        for name in (
            "children_left", "children_right", "feature", "threshold", "default_left",
            "value", "cover", "roots", "tree_output", "base_offset", "n_features",
        )
    }  # fmt: skip
    TreeEnsemble(**fields)  # as extracted: fine
    bad_feature = fields["feature"].copy()
    bad_feature[0] = 3
    with pytest.raises(CorruptTreeError, match="splits on feature 3"):
        TreeEnsemble(**{**fields, "feature": bad_feature})
    bad_left = fields["children_left"].copy()
    bad_left[1] = 0
    with pytest.raises(CorruptTreeError):
        TreeEnsemble(**{**fields, "children_left": bad_left})
    with pytest.raises(CorruptTreeError, match="adds to output 1"):
        TreeEnsemble(**{**fields, "tree_output": np.array([1])})


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda d: d["learner"]["learner_model_param"].update(num_class="1000000000"),
         "num_class/num_target is 1000000000"),
        (lambda d: d["learner"]["learner_model_param"].update(base_score="NaN"),
         "base offset"),
        (lambda d: d["learner"]["gradient_booster"]["model"]["trees"][0].pop("left_children"),
         "KeyError: 'left_children'"),
        (lambda d: d["learner"]["gradient_booster"]["model"]["trees"][0].update(
            split_indices=["x"] * 7), "could not convert string"),
    ],
)  # fmt: skip
def test_xgboost_json_is_checked_before_xgboost_reads_it(files, tmp_path, edit, words):
    """XGBoost itself stalls on a huge num_class: read_model must refuse the file first."""
    from assay._io import read_model

    doc = json.loads((files / "good.json").read_text())
    edit(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(CorruptTreeError, match=words) as info:
        read_model(path)
    assert "bad.json" in str(info.value)


def test_check_tree_links_fast_path_agrees_with_the_walk():
    """Pre-order trees take the vectorised path; shared or backward links still fail."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    tree = DecisionTreeRegressor(max_leaf_nodes=40, random_state=0).fit(X, X[:, 0]).tree_
    left, right = tree.children_left.astype(np.int64), tree.children_right.astype(np.int64)
    assert check_tree_links(left, right, tree=0).all()
    internal = np.flatnonzero(left >= 0)
    # a node shared by two parents (links still point forward): caught
    shared = right.copy()
    shared[internal[-1]] = right[internal[-2]]
    with pytest.raises(CorruptTreeError, match="reached twice"):
        check_tree_links(left, shared, tree=0)
    # a back link (cycle to the root): caught
    cyc = left.copy()
    cyc[internal[-1]] = 0
    with pytest.raises(CorruptTreeError, match="reached twice"):
        check_tree_links(cyc, right, tree=0)
    # an unreachable node (not pre-order, not a cycle): the walk marks it unseen
    orphan_l = np.append(left, -1)
    orphan_r = np.append(right, -1)
    seen = check_tree_links(orphan_l, orphan_r, tree=0)
    assert not seen[-1] and seen[:-1].all()
