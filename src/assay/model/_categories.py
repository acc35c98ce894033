"""Text columns as the user has them: integer codes for assay, the original labels for the model.

Attribution and audit methods perturb numeric matrices. A text column ("checking_account" with
values "little", "moderate", ...) is therefore coded as 0, 1, ... inside assay, so that the
Shapley game is played over the original column (a one-hot encoded feature gets one value), and
decoded back to its labels whenever the model is called, so that a Pipeline with its own
encoder sees exactly the values it was fitted on. Reports show the labels, never the codes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["CategoryCodec", "text_columns"]


def text_columns(frame: Any) -> list[str]:
    """Columns of a DataFrame that hold labels rather than numbers (object, string, category)."""
    import pandas as pd

    out = []
    for col in frame.columns:
        dtype = frame[col].dtype
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            continue
        if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
            continue  # not labels: left for the validation to refuse with its own message
        out.append(str(col))
    return out


def _sort_key(label: Any) -> tuple[int, str]:
    return (0, f"{label:020.6f}") if isinstance(label, (int, float)) else (1, str(label))


class CategoryCodec:
    """Stable integer codes for the labels of text columns, extended as new labels appear.

    Examples
    --------
    >>> import pandas as pd
    >>> codec = CategoryCodec()
    >>> coded = codec.encode(pd.DataFrame({"a": [1.0, 2.0], "kind": ["red", "blue"]}))
    >>> coded["kind"].tolist(), codec.levels["kind"]
    ([1.0, 0.0], ['blue', 'red'])
    >>> codec.decode(coded.to_numpy(), ["a", "kind"])["kind"].tolist()
    ['red', 'blue']
    >>> codec.label("kind", 1.0)
    'red'
    """

    def __init__(self) -> None:
        self.levels: dict[str, list[Any]] = {}
        # pandas categorical dtypes as first seen, restored when decoding (a model fitted on
        # them, such as HistGradientBoosting with categorical_features="from_dtype", wants them
        # back); codes stay positions in the sorted labels, the order scikit-learn encodes in
        self.dtypes: dict[str, Any] = {}

    def __bool__(self) -> bool:
        return bool(self.levels)

    @property
    def columns(self) -> list[str]:
        return list(self.levels)

    def encode(self, frame: Any) -> Any:
        """A copy of ``frame`` with every text column replaced by float codes (NaN if missing)."""
        import pandas as pd

        out = frame.copy()
        for col in text_columns(frame):
            dtype = frame[col].dtype
            if isinstance(dtype, pd.CategoricalDtype) and col not in self.levels:
                self.dtypes[col] = dtype
            values = frame[col].astype(object)
            missing = pd.isna(values).to_numpy()
            known = self.levels.setdefault(col, [])
            new = sorted({v for v in values[~missing]} - set(known), key=_sort_key)
            known.extend(new)
            index = {v: float(i) for i, v in enumerate(known)}
            codes = np.array(
                [np.nan if m else index[v] for v, m in zip(values, missing, strict=True)]
            )
            out[col] = codes
        return out

    def decode(self, values: np.ndarray, columns: list[str]) -> Any:
        """A DataFrame of ``values`` (codes) with the text columns turned back into labels."""
        import pandas as pd

        frame = pd.DataFrame(values, columns=columns, copy=False)
        for col, levels in self.levels.items():
            if col not in frame.columns:
                continue
            codes = frame[col].to_numpy()
            ok = np.isfinite(codes)
            idx = np.clip(np.where(ok, codes, 0).round().astype(np.int64), 0, len(levels) - 1)
            labels = np.asarray(levels, dtype=object)[idx] if levels else np.full(idx.size, None)
            labels[~ok] = np.nan
            if col in self.dtypes:
                frame[col] = pd.Categorical(labels, dtype=self.dtypes[col])
            else:
                frame[col] = labels
        return frame

    def label(self, column: str, code: Any) -> Any:
        """The label behind one code of ``column`` (the code itself for numeric columns)."""
        levels = self.levels.get(column)
        if levels is None:
            return code
        try:
            i = round(float(code))
        except (TypeError, ValueError):
            return code
        return levels[i] if 0 <= i < len(levels) else code
