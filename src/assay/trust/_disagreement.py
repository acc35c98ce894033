"""Method disagreement: do several explainers tell the same story about the same rows?

Krishna et al. (2022, "The Disagreement Problem in Explainable Machine Learning") found that
popular explainers often disagree on the top features of the same prediction. For each pair
of explanations this module reports, averaged over rows, with features ranked by absolute
attribution:

- ``feature_agreement``: fraction of the top-k features the two share;
- ``rank_agreement``: fraction of the top-k positions holding the same feature;
- ``sign_agreement``: fraction of the top-k features shared *and* of the same sign;
- ``signed_rank_agreement``: same position and same sign;
- ``rank_correlation``: Spearman correlation over all features (signed values);
- ``pairwise_rank_agreement``: fraction of feature pairs ordered the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from assay.errors import InvalidInputError
from assay.trust._common import agreement_rows, check_explanation, check_top_k, resolve_output
from assay.trust._result import DisagreementResult

__all__ = ["disagreement"]

_KEYS = (
    ("feature", "feature_agreement"),
    ("rank", "rank_agreement"),
    ("sign", "sign_agreement"),
    ("signed_rank", "signed_rank_agreement"),
    ("rank_correlation", "rank_correlation"),
    ("pairwise_rank", "pairwise_rank_agreement"),
)


def disagreement(
    explanations: Sequence[Any] | Mapping[str, Any],
    *,
    top_k: int | None = None,
    output: Any = None,
    min_agreement: float = 0.5,
    atol: float = 1e-9,
) -> DisagreementResult:
    """Pairwise agreement between several explanations of the same rows.

    Parameters
    ----------
    explanations : sequence of Explanation, or mapping name -> Explanation
        At least one; all must explain the same rows (same ``data``) with the same features.
        Without names, each is named by its method (numbered when methods repeat).
    top_k : int, optional
        Size of the top set; default a quarter of the features, rounded up.
    output : int or str, optional
        Output column, by name or index (see :func:`assay.trust.faithfulness`).
    min_agreement : float, default 0.5
        Lowest pairwise top-k sign agreement that is not flagged (half of it: alert).
    atol : float, default 1e-9
        Tolerance when checking that the explained rows are the same.

    Returns
    -------
    DisagreementResult

    Examples
    --------
    >>> import numpy as np
    >>> from assay.attribution import Explanation
    >>> def make(v, method):
    ...     v = np.asarray(v, dtype=float)[:, :, None]
    ...     return Explanation(values=v, base_values=np.zeros((1, 1)), data=np.zeros((1, 3)),
    ...                        feature_names=["a", "b", "c"], output_names=["y"],
    ...                        method=method, output_space="raw")
    >>> res = disagreement([make([[3, 2, 1]], "m1"), make([[1, 2, 3]], "m2")], top_k=1)
    >>> float(res.feature_agreement[0, 1])
    0.0
    """
    if isinstance(explanations, Mapping):
        names = [str(k) for k in explanations]
        exps = [check_explanation(e) for e in explanations.values()]
    else:
        exps = [check_explanation(e) for e in explanations]
        names = []
        for e in exps:
            base = e.method
            name, i = base, 1
            while name in names:
                i += 1
                name = f"{base}_{i}"
            names.append(name)
    if not exps:
        msg = "explanations is empty; pass at least one Explanation (two to compare)."
        raise InvalidInputError(msg)
    first = exps[0]
    for name, e in zip(names, exps, strict=True):
        if e.values.shape[:2] != first.values.shape[:2]:
            msg = (
                f"explanation {name!r} covers {e.values.shape[0]} rows x {e.values.shape[1]} "
                f"features but {names[0]!r} covers {first.values.shape[0]} x "
                f"{first.values.shape[1]}; explain the same rows with every method."
            )
            raise InvalidInputError(msg)
        same = np.allclose(e.data, first.data, atol=atol, rtol=0, equal_nan=True)
        if not same:
            msg = (
                f"explanation {name!r} explains different rows than {names[0]!r} (their data "
                "differ); explain the same rows with every method."
            )
            raise InvalidInputError(msg)
    if not (0 <= float(min_agreement) <= 1):
        msg = f"min_agreement must be in [0, 1]; got {min_agreement!r}."
        raise InvalidInputError(msg)
    d = first.values.shape[1]
    k = check_top_k(top_k, d)
    mats = [e.values[:, :, resolve_output(e, output)] for e in exps]
    m = len(exps)
    out = {attr: np.eye(m) for _, attr in _KEYS}
    for i in range(m):
        for j in range(i + 1, m):
            rows = agreement_rows(mats[i], mats[j], k)
            for key, attr in _KEYS:
                r = rows[key]
                v = float(np.nanmean(r)) if np.isfinite(r).any() else np.nan
                out[attr][i, j] = out[attr][j, i] = v
    return DisagreementResult(
        names=tuple(names),
        top_k=k,
        min_agreement=float(min_agreement),
        params={"n_rows": int(first.values.shape[0])},
        **out,
    )
