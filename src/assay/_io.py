"""Reading user files for the command line: data tables and saved models (no pickle by default)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assay.errors import InvalidInputError, ModelError

__all__ = ["read_model", "read_table"]

PICKLE_SUFFIXES = {".pkl", ".pickle", ".joblib"}


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


def read_model(path: str | Path, *, trust: bool = False) -> Any:
    """Load a saved model.

    Supported: scikit-learn models saved with skops (``.skops``), XGBoost native files
    (``.json``/``.ubj``), LightGBM native text files (``.txt``/``.lgb``). Pickle and joblib
    files execute code when loaded, so they are refused unless ``trust=True``.
    """
    path = Path(path)
    if not path.exists():
        msg = f"model file {str(path)!r} does not exist; check the path."
        raise InvalidInputError(msg)
    suffix = path.suffix.lower()
    try:
        if suffix == ".skops":
            import skops.io as sio

            untrusted = sio.get_untrusted_types(file=path)
            if untrusted and not trust:
                msg = (
                    f"model file {str(path)!r} contains types skops does not trust by default: "
                    f"{untrusted[:5]}. Review them and pass --trust-model if you trust the file."
                )
                raise ModelError(msg)
            return sio.load(path, trusted=untrusted or None)
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
