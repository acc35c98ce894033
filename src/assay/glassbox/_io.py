"""Saving and loading GAMs without pickle: one ``.npz`` with the arrays plus a JSON header.

The header holds the estimator class and parameters, the binning, the term list, the edit
history (:class:`~assay.glassbox.EditRecord`) and the undo stack's layout; arrays hold the
per-bag tables. Loading never executes code (``allow_pickle=False``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from assay.errors import InvalidInputError
from assay.glassbox._binning import FeatureBins
from assay.glassbox._edit import EditRecord

__all__ = ["load_gam", "save_gam"]

FORMAT = "assay.glassbox.GAM"
SCHEMA_VERSION = 1


def _state_arrays(prefix: str, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict:
    for t, arr in enumerate(state["bag_values_"]):
        arrays[f"{prefix}values_{t}"] = arr
    for t, arr in enumerate(state["term_counts_"]):
        arrays[f"{prefix}counts_{t}"] = arr
    arrays[f"{prefix}intercepts"] = state["bag_intercepts_"]
    return {"term_features": [list(f) for f in state["term_features_"]]}


def _read_state(prefix: str, meta: dict, npz: Any) -> dict[str, Any]:
    feats = [tuple(f) for f in meta["term_features"]]
    return {
        "term_features_": feats,
        "bag_values_": [npz[f"{prefix}values_{t}"] for t in range(len(feats))],
        "term_counts_": [npz[f"{prefix}counts_{t}"] for t in range(len(feats))],
        "bag_intercepts_": npz[f"{prefix}intercepts"],
    }


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, tuple):
        return list(obj)
    msg = f"cannot save a parameter of type {type(obj).__name__} ({obj!r}) as JSON."
    raise InvalidInputError(msg)


def save_gam(model: Any, path: str | os.PathLike[str]) -> Path:
    """Save a fitted GAM (with its edit history) to ``path`` (``.npz`` is appended if missing).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from assay.glassbox import GAMRegressor, load_gam, save_gam
    >>> X = np.random.default_rng(0).normal(size=(200, 3)); y = X[:, 0] ** 2
    >>> gam = GAMRegressor(n_bags=2, interactions=1, random_state=0).fit(X, y)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     back = load_gam(save_gam(gam, d + "/model"))
    >>> bool(np.array_equal(back.predict(X), gam.predict(X)))
    True
    """
    model._check_fitted()
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "class": type(model).__name__,
        "params": model.get_params(),
        "n_features_in": int(model.n_features_in_),
        "feature_names_in": (
            [str(f) for f in model.feature_names_in_]
            if hasattr(model, "feature_names_in_")
            else None
        ),
        "classes": model.classes_.tolist() if hasattr(model, "classes_") else None,
        "bins": [fb.to_dict() for fb in model.bins_],
        "pair_bins": {str(j): fb.to_dict() for j, fb in model.pair_bins_.items()},
        "pair_ranking": [[list(p), s] for p, s in model.pair_ranking_],
        "loss": int(model.loss_),
        "edits": [e.to_dict() for e in model.edits_],
    }
    meta["state"] = _state_arrays("", model._state(), arrays)
    meta["undo"] = [
        _state_arrays(f"undo{u}_", st, arrays) for u, st in enumerate(model._undo_stack)
    ]
    arrays["n_rounds"] = model.n_rounds_
    arrays["meta"] = np.array(json.dumps(meta, default=_json_default))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path


def load_gam(path: str | os.PathLike[str]) -> Any:
    """Load a GAM written by :func:`save_gam` (no pickle involved)."""
    from assay.glassbox._gam import GAMClassifier, GAMRegressor

    path = Path(path)
    if not path.exists():
        msg = f"no model file at {str(path)!r}; check the path."
        raise InvalidInputError(msg)
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"]))
            if meta.get("format") != FORMAT:
                msg = f"{str(path)!r} is not an assay GAM file (format={meta.get('format')!r})."
                raise InvalidInputError(msg)
            state = _read_state("", meta["state"], npz)
            undo = [_read_state(f"undo{u}_", m, npz) for u, m in enumerate(meta["undo"])]
            n_rounds = npz["n_rounds"]
    except (OSError, ValueError, KeyError, AttributeError) as exc:
        if isinstance(exc, InvalidInputError):
            raise
        msg = f"{str(path)!r} is not a readable assay GAM file ({exc})."
        raise InvalidInputError(msg) from exc
    cls = {"GAMClassifier": GAMClassifier, "GAMRegressor": GAMRegressor}.get(meta["class"])
    if cls is None:
        msg = f"{str(path)!r} holds an unknown model class {meta['class']!r}."
        raise InvalidInputError(msg)
    model = cls(**meta["params"])
    model.n_features_in_ = meta["n_features_in"]
    if meta["feature_names_in"] is not None:
        model.feature_names_in_ = np.asarray(meta["feature_names_in"], dtype=object)
    if meta["classes"] is not None:
        model.classes_ = np.asarray(meta["classes"])
    model.bins_ = [FeatureBins.from_dict(d) for d in meta["bins"]]
    model.pair_bins_ = {int(j): FeatureBins.from_dict(d) for j, d in meta["pair_bins"].items()}
    model.pair_ranking_ = [(tuple(p), s) for p, s in meta["pair_ranking"]]
    model.loss_ = meta["loss"]
    model.n_rounds_ = n_rounds
    model.edits_ = [EditRecord.from_dict(e) for e in meta["edits"]]
    model._undo_stack = undo
    model._restore(state)
    return model
