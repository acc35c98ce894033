"""Reading user files for the command line: data tables and saved models (no pickle by default).

Files are data: every reader here opens regular files only (a FIFO or a device would block or
never end), refuses files above a size limit before reading them, and turns whatever a
malformed file makes a library raise into an :class:`~assay.errors.InvalidInputError` or
:class:`~assay.errors.ModelError` that names the file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, BinaryIO

from assay.errors import InvalidInputError, ModelError

__all__ = ["MAX_MODEL_BYTES", "MAX_TABLE_BYTES", "open_regular", "read_model", "read_table"]

PICKLE_SUFFIXES = {".pkl", ".pickle", ".joblib"}
#: Largest data table read (CSV or Parquet), in bytes.
MAX_TABLE_BYTES = 8 * 2**30
#: Largest model file read, in bytes.
MAX_MODEL_BYTES = 2 * 2**30


def check_regular(path: str | os.PathLike[str], *, what: str, max_bytes: int) -> Path:
    """``path`` as a Path after checking it names a regular file of at most ``max_bytes``.

    Uses ``os.stat`` only: nothing is opened, so a FIFO cannot block. Readers that open the
    file themselves should prefer :func:`open_regular`, which checks the opened descriptor.
    """
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError as exc:
        msg = f"no {what} at {str(path)!r}: it does not exist; check the path."
        raise InvalidInputError(msg) from exc
    except OSError as exc:
        msg = f"cannot access {what} {str(path)!r}: {exc.strerror or exc}."
        raise InvalidInputError(msg) from exc
    _check_stat(info, path, what, max_bytes)
    return path


def _check_stat(info: os.stat_result, path: Path, what: str, max_bytes: int) -> None:
    if stat.S_ISDIR(info.st_mode):
        msg = f"{what} {str(path)!r} is a directory; pass a file."
        raise InvalidInputError(msg)
    if not stat.S_ISREG(info.st_mode):
        msg = (
            f"{what} {str(path)!r} is not a regular file (a pipe, socket or device); "
            "pass a file saved on disk."
        )
        raise InvalidInputError(msg)
    if info.st_size > max_bytes:
        msg = (
            f"{what} {str(path)!r} has {info.st_size:,} bytes, more than the limit of "
            f"{max_bytes:,}; check that this is the right file."
        )
        raise InvalidInputError(msg)


def open_regular(path: str | os.PathLike[str], *, what: str, max_bytes: int) -> BinaryIO:
    """Open a regular file of at most ``max_bytes`` for binary reading.

    The file is opened non-blocking and the *opened* descriptor is checked (``fstat``), so a
    FIFO is refused at once (opening one for reading would otherwise wait for a writer) and
    swapping the file after a check changes nothing.

    Raises
    ------
    InvalidInputError
        If the path does not exist, is not a regular file, or is larger than ``max_bytes``.
    """
    path = check_regular(path, what=what, max_bytes=max_bytes)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        msg = f"cannot open {what} {str(path)!r}: {exc.strerror or exc}."
        raise InvalidInputError(msg) from exc
    try:
        _check_stat(os.fstat(fd), path, what, max_bytes)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


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
    suffix = path.suffix.lower()
    if suffix not in {".parquet", ".pq", ".csv", ".txt", ".tsv"}:
        msg = f"data file {str(path)!r} has suffix {suffix!r}; use .csv, .tsv or .parquet."
        raise InvalidInputError(msg)
    try:
        with open_regular(path, what="data file", max_bytes=MAX_TABLE_BYTES) as fh:
            if suffix in {".parquet", ".pq"}:
                frame = pd.read_parquet(fh)
            else:
                sep = "\t" if suffix == ".tsv" else ","
                header = pd.read_csv(fh, sep=sep, nrows=1, header=None, dtype=str)
                _check_header(header.iloc[0].tolist(), path)
                fh.seek(0)
                frame = pd.read_csv(fh, sep=sep)
    except pd.errors.EmptyDataError as exc:
        msg = f"data file {str(path)!r} is empty; it needs a header row and data rows."
        raise InvalidInputError(msg) from exc
    except InvalidInputError:
        raise
    except (OSError, ValueError, IndexError, MemoryError) as exc:
        msg = f"could not read data file {str(path)!r}: {type(exc).__name__}: {exc}"
        raise InvalidInputError(msg) from exc
    except Exception as exc:  # a malformed Parquet file: pyarrow raises its own types
        msg = f"could not read data file {str(path)!r}: {type(exc).__name__}: {exc}"
        raise InvalidInputError(msg) from exc
    _check_header(list(frame.columns), path)
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


def _check_header(header: list, path: Path) -> None:
    """A CSV header must name every column once (pandas would rename a repeat to 'x.1')."""
    names = ["" if isinstance(h, float) else str(h) for h in header]  # NaN: an empty name
    seen: set[str] = set()
    repeated = [n for n in names if n in seen or seen.add(n)]  # type: ignore[func-returns-value]
    if repeated:
        msg = (
            f"data file {str(path)!r} names column(s) {sorted(set(repeated))} more than once in "
            "its header; give every column a distinct name."
        )
        raise InvalidInputError(msg)


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
    suffix = path.suffix.lower()
    supported = {".skops", ".json", ".ubj", ".txt", ".lgb", ".lightgbm"} | PICKLE_SUFFIXES
    if suffix not in supported:
        msg = (
            f"model file {str(path)!r} has suffix {suffix!r}; supported: .skops (scikit-learn), "
            ".json/.ubj (XGBoost), .txt (LightGBM), .pkl/.joblib with --trust-model."
        )
        raise ModelError(msg)
    if suffix in PICKLE_SUFFIXES and not trust:
        msg = (
            f"model file {str(path)!r} is a pickle/joblib file, and loading one can run "
            "arbitrary code. Save the model with skops (skops.io.dump) instead, or pass "
            "--trust-model if you trust where the file came from."
        )
        raise ModelError(msg)
    with open_regular(path, what="model file", max_bytes=MAX_MODEL_BYTES) as fh:
        content = fh.read()
    try:
        model = _load_model(content, suffix, path, trust, trusted_names)
        _check_trees(model)
    except (ModelError, InvalidInputError) as exc:
        if str(path) in str(exc):
            raise
        msg = f"model file {str(path)!r}: {exc}"
        raise type(exc)(msg) from exc
    except Exception as exc:
        said = (str(exc).strip().splitlines() or [""])[0][:300]  # not a native stack trace
        msg = f"could not load model file {str(path)!r}: {type(exc).__name__}: {said}"
        raise ModelError(msg) from exc
    return model


def _load_model(
    content: bytes, suffix: str, path: Path, trust: bool, trusted_names: frozenset[str]
) -> Any:
    """The model held in ``content`` (the bytes of ``path``); libraries parse the bytes only."""
    if suffix == ".skops":
        import skops.io as sio

        untrusted = sio.get_untrusted_types(data=content)
        trusted = _check_skops_types(path, untrusted, trusted_names, trust)
        return sio.loads(content, trusted=trusted or None)
    if suffix in {".json", ".ubj"}:
        import xgboost

        if suffix == ".json":  # XGBoost follows child indices unchecked: check first
            from assay.model._tree_check import check_xgboost_json

            check_xgboost_json(content)
        booster = xgboost.Booster()
        booster.load_model(bytearray(content))
        return booster
    if suffix in {".txt", ".lgb", ".lightgbm"}:
        import lightgbm

        from assay.model._tree_check import check_lightgbm_text

        text = content.decode("utf-8")
        check_lightgbm_text(text)  # LightGBM follows child indices unchecked
        return lightgbm.Booster(model_str=text)
    import io

    import joblib

    return joblib.load(io.BytesIO(content))


def _check_trees(model: Any) -> None:
    """Read and check a tree model's trees now, before anything calls its ``predict``."""
    from assay.model._adapters import _read_trees

    module = type(model).__module__.split(".")[0]  # LightGBM text was checked before parsing
    if module == "xgboost" or _is_sklearn_tree_model(model):
        _read_trees(model)


def _is_sklearn_tree_model(model: Any) -> bool:
    from sklearn.utils.validation import check_is_fitted

    from assay.model._adapters import _tree_kind

    try:
        check_is_fitted(model)
    except Exception:  # an unfitted model fails later with its own message
        return False
    return type(model).__module__.startswith("sklearn.") and bool(_tree_kind(model))
