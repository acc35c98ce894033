"""What the commands that take a model and data (``assay audit``, ``assay compare``,
``assay explain``) load: the user's table and model files, or the demo cohort and its model.

Every check fails the way the command line does (``error: ...`` on stderr, exit status 2).
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = [
    "DemoCohort",
    "UserInputs",
    "check_target",
    "demo_cohort",
    "demo_params",
    "demo_sensitive",
    "load_train",
    "load_user_inputs",
]


class UserInputs(NamedTuple):
    """The files a command was given: the model, its rows, the target and sensitive columns."""

    model: Any
    X: Any
    y: Any
    sensitive: Any  # a DataFrame of the --sensitive columns, or None
    baseline: Any  # the --baseline model (``assay compare``), or None


class DemoCohort(NamedTuple):
    """The demo model (gradient boosting fitted on the first half of the demo cohort) and the
    second half, on which it is audited or compared."""

    model: Any
    X: Any
    y: Any
    sensitive: Any
    expected_directions: dict[str, str]
    X_train: Any
    y_train: Any


def demo_params(seed: int) -> dict[str, Any]:
    """The demo model's settings (``HistGradientBoostingClassifier``)."""
    return {"max_iter": 200, "learning_rate": 0.1, "random_state": seed}


def demo_cohort(seed: int, n_samples: int | None = None) -> DemoCohort:
    """The demo cohort (``load_clinical``), split in halves, and the demo model fitted on the first.

    The rows are i.i.d., so the first half trains and the second half is audited or compared.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    from assay.datasets import load_clinical

    data = (
        load_clinical(seed=seed)
        if n_samples is None
        else load_clinical(n_samples=n_samples, seed=seed)
    )
    half = len(data.X) // 2
    X_train, y_train = data.X.iloc[:half], data.y.iloc[:half]
    model = HistGradientBoostingClassifier(**demo_params(seed)).fit(X_train, y_train)
    rest = slice(half, None)
    return DemoCohort(
        model,
        data.X.iloc[rest].reset_index(drop=True),
        data.y.iloc[rest].reset_index(drop=True),
        data.sensitive.iloc[rest].reset_index(drop=True),
        dict(data.truth["expected_directions"]),
        X_train,
        y_train,
    )


def demo_sensitive(sens: Any, sensitive: tuple[str, ...]) -> Any:
    """The demo cohort's sensitive columns named by --sensitive (all of them when none is)."""
    from assay.cli import _fail

    unknown = [c for c in sensitive if c not in sens.columns]
    if unknown:
        _fail(f"--sensitive {unknown} not in the demo cohort; it has {list(sens.columns)}.")
    return sens[list(sensitive)] if sensitive else sens


def check_target(frame: Any, target: str, data_path: str) -> None:
    """Fail when the --target column is not in the table read from --data."""
    from assay.cli import _fail

    if target not in frame.columns:
        _fail(
            f"target column {target!r} is not in {data_path}; columns: {list(frame.columns)[:20]}."
        )


def load_user_inputs(
    data_path: str | None,
    target: str | None,
    model_path: str | None,
    sensitive: tuple[str, ...],
    trust_model: bool,
    trust_types: str = "",
    *,
    baseline_path: str | None = None,
) -> UserInputs:
    """Read --data, split off --target and --sensitive, and read --model (and --baseline).

    The features are every other column of --data; the target keeps its labels as the model
    knows them (the audit maps them to the model's classes).
    """
    from assay._io import read_model, read_table
    from assay.cli import _fail

    if not data_path or not target or not model_path:
        _fail("pass --data FILE --target COL --model FILE (or --demo).")
    frame = read_table(data_path)
    check_target(frame, target, data_path)
    missing = [c for c in sensitive if c not in frame.columns]
    if missing:
        _fail(f"sensitive column(s) {missing} are not in {data_path}.")
    y = frame[target]
    model = read_model(model_path, trust=trust_model, trust_types=trust_types)
    baseline = (
        None
        if baseline_path is None
        else read_model(baseline_path, trust=trust_model, trust_types=trust_types)
    )
    sens = frame[list(sensitive)] if sensitive else None
    X = frame.drop(columns=[target, *sensitive])
    return UserInputs(model, X, y, sens, baseline)


def load_train(
    train_path: str | None, target: str | None, features: Any, sensitive: tuple[str, ...]
) -> tuple[Any, Any]:
    """The training rows of --train: the same feature columns as --data, and the target."""
    from assay._io import read_table
    from assay.cli import _fail

    if not train_path:
        return None, None
    frame = read_table(train_path)
    missing = [c for c in [target, *features] if c not in frame.columns]
    if missing:
        _fail(
            f"--train {train_path!r} lacks column(s) {missing[:10]} that --data has; the training "
            "rows need the same feature columns and the target."
        )
    return frame[list(features)], frame[target]
