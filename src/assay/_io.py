"""Reading user files for the command line: data tables and saved models (no pickle by default)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assay.errors import InvalidInputError, ModelError

__all__ = ["read_model", "read_table"]

PICKLE_SUFFIXES = {".pkl", ".pickle", ".joblib"}

# scikit-learn internals that skops does not trust by default but that hold only arrays and
# numbers (reviewed: their state is ndarrays, ints and floats; loading them runs no user code).
# Functions such as check_array are referenced by name, never called at load time. Anything else
# is still refused with its list of types (or trusted one by one with --trust-types).
REVIEWED_SKOPS_TYPES = frozenset(
    {
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.utils.validation.check_array",
        "functools.partial",
        "numpy.dtype",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    }
)


def read_table(path: str | Path) -> Any:
    """Read a CSV or Parquet file into a pandas DataFrame."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        msg = f"data file {str(path)!r} does not exist; check the path."
        raise InvalidInputError(msg)
    suffix = path.suffix.lower()
    try:
        if suffix in {".parquet", ".pq"}:
            frame = pd.read_parquet(path)
        elif suffix in {".csv", ".txt", ".tsv"}:
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
        else:
            msg = f"data file {str(path)!r} has suffix {suffix!r}; use .csv, .tsv or .parquet."
            raise InvalidInputError(msg)
    except pd.errors.EmptyDataError as exc:
        msg = f"data file {str(path)!r} is empty; it needs a header row and data rows."
        raise InvalidInputError(msg) from exc
    except (OSError, ValueError) as exc:
        msg = f"could not read data file {str(path)!r}: {exc}"
        raise InvalidInputError(msg) from exc
    if frame.shape[0] == 0:
        msg = f"data file {str(path)!r} has a header but no data rows."
        raise InvalidInputError(msg)
    return frame


def _check_skops_types(
    path: Path, untrusted: list[str], trust_types: frozenset[str], trust: bool
) -> list[str]:
    """The types to pass to skops: reviewed, named by the user, or (with trust) all."""
    unknown = [t for t in untrusted if t not in REVIEWED_SKOPS_TYPES and t not in trust_types]
    if unknown and not trust:
        msg = (
            f"model file {str(path)!r} contains types that neither skops nor assay's reviewed "
            f"list trusts: {unknown[:8]}. Review them; if you trust them, name them with "
            "--trust-types T1,T2 (Python: trust_types=[...]), which trusts just those types, or "
            "pass --trust-model to trust the whole file."
        )
        raise ModelError(msg)
    return list(untrusted)


def read_model(path: str | Path, *, trust: bool = False, trust_types: Any = ()) -> Any:
    """Load a saved model.

    Supported: scikit-learn models saved with skops (``.skops``), XGBoost native files
    (``.json``/``.ubj``), LightGBM native text files (``.txt``/``.lgb``). Pickle and joblib
    files execute code when loaded, so they are refused unless ``trust=True``.

    skops files load without any flag when every type they hold is trusted by skops or is on
    assay's reviewed list of scikit-learn internals that hold only arrays and numbers
    (``REVIEWED_SKOPS_TYPES``: tree structures, histogram-boosting predictors, ...);
    ``trust_types`` trusts further named types without enabling pickle.
    """
    if isinstance(trust_types, str):
        trust_types = [t for t in trust_types.split(",") if t.strip()]
    trusted_names = frozenset(str(t).strip() for t in trust_types)
    path = Path(path)
    if not path.exists():
        msg = f"model file {str(path)!r} does not exist; check the path."
        raise InvalidInputError(msg)
    suffix = path.suffix.lower()
    try:
        if suffix == ".skops":
            import skops.io as sio

            untrusted = sio.get_untrusted_types(file=path)
            trusted = _check_skops_types(path, untrusted, trusted_names, trust)
            return sio.load(path, trusted=trusted or None)
        if suffix in {".json", ".ubj"}:
            import xgboost

            booster = xgboost.Booster()
            booster.load_model(str(path))
            return booster
        if suffix in {".txt", ".lgb", ".lightgbm"}:
            import lightgbm

            return lightgbm.Booster(model_file=str(path))
        if suffix in PICKLE_SUFFIXES:
            if not trust:
                msg = (
                    f"model file {str(path)!r} is a pickle/joblib file, and loading one can run "
                    "arbitrary code. Save the model with skops (skops.io.dump) instead, or pass "
                    "--trust-model if you trust where the file came from."
                )
                raise ModelError(msg)
            import joblib

            return joblib.load(path)
    except (ModelError, InvalidInputError):
        raise
    except Exception as exc:
        msg = f"could not load model file {str(path)!r}: {type(exc).__name__}: {exc}"
        raise ModelError(msg) from exc
    msg = (
        f"model file {str(path)!r} has suffix {suffix!r}; supported: .skops (scikit-learn), "
        ".json/.ubj (XGBoost), .txt (LightGBM), .pkl/.joblib with --trust-model."
    )
    raise ModelError(msg)
