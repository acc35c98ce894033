"""Held-out discipline: were the audited rows kept away from the model's training?"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["holdout_statement", "row_overlap"]

# above this share of audited rows found among training rows, the audit is (at least partly) an
# audit of the training data, and performance figures are optimistic
LEAK_SHARE = 0.05


def _hashes(X: np.ndarray, y: np.ndarray | None) -> np.ndarray:
    import pandas as pd

    frame = pd.DataFrame(X)
    if y is not None:
        frame["__target__"] = np.asarray(y).astype(str)
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def row_overlap(
    X: np.ndarray, y: np.ndarray, X_train: np.ndarray, y_train: np.ndarray
) -> dict[str, Any]:
    """How many audited rows (features and target) also appear among the training rows.

    Identical rows can also be honest duplicates (two passengers with the same ticket class, age
    and fare); the duplicate rate inside the training rows says how many to expect by chance.
    """
    audit_h = _hashes(X, y)
    train_h = _hashes(X_train, y_train)
    found = np.isin(audit_h, train_h)
    _, counts = np.unique(train_h, return_counts=True)
    within = float(np.sum(counts[counts > 1]) / max(train_h.size, 1))
    return {
        "n_train": int(train_h.size),
        "n_audited_in_train": int(found.sum()),
        "share_audited_in_train": float(found.mean()) if found.size else 0.0,
        "train_duplicate_share": within,
    }


def holdout_statement(overlap: dict[str, Any] | None) -> tuple[str, str]:
    """(status, plain words) about the held-out discipline of this audit."""
    if overlap is None:
        return (
            "warning",
            "No training data was given, so assay cannot check that the audited rows were held "
            "out. If the model was fitted on any of these rows, performance, calibration and the "
            "glass-box comparison are optimistic. Pass the training rows (X_train=, y_train= or "
            "--train FILE) to check it.",
        )
    k, share = overlap["n_audited_in_train"], overlap["share_audited_in_train"]
    expected = overlap["train_duplicate_share"]
    if share > max(LEAK_SHARE, 2 * expected):
        return (
            "alert",
            f"{k:,} of the audited rows ({100 * share:.1f}%) also appear among the "
            f"{overlap['n_train']:,} training rows: this audit partly measures the model on data "
            "it was fitted on, so performance and calibration are optimistic. Audit held-out rows "
            "only.",
        )
    if k:
        return (
            "ok",
            f"The audited rows are held out: {k:,} of them ({100 * share:.1f}%) are identical "
            f"to a training row, no more than the data's own duplicates explain "
            f"({100 * expected:.1f}% of training rows are duplicated).",
        )
    return (
        "ok",
        f"The audited rows are held out: none of them appears among the "
        f"{overlap['n_train']:,} training rows.",
    )
