"""ProxyAudit: features that stand in for a sensitive attribute, and how much a model uses them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from assay._results import FromDict, ResultDisplay, check_kind, to_jsonable
from assay._validation import check_int, check_seed
from assay.errors import InvalidInputError, ModelError
from assay.fairness._compare import _CORRECTIONS, adjust_pvalues
from assay.fairness._group_metrics import as_group_frame
from assay.fairness._transport import transport

__all__ = ["ProxyAudit", "adjust_pvalues"]


def _cramers_v(x: np.ndarray, s: np.ndarray, n_s: int) -> tuple[float, float, float]:
    """Cramér's V, chi-square p-value and plug-in mutual information (nats)."""
    from scipy import stats

    levels, xc = np.unique(x, return_inverse=True)
    table = np.zeros((levels.size, n_s))
    np.add.at(table, (xc, s), 1.0)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return 0.0, 1.0, 0.0
    chi2, p, _, expected = stats.chi2_contingency(table, correction=False)
    n = table.sum()
    v = float(np.sqrt(chi2 / (n * (min(table.shape) - 1))))
    if (expected < SPARSE_EXPECTED).any():
        # sparse tables (rare categories) make the chi-square approximation anti-conservative:
        # simulate the statistic's null by shuffling the groups instead
        p = _permuted_chi2_p(xc, s, table.shape, chi2)
    return v, float(p), _mutual_information(table)


SPARSE_EXPECTED, SPARSE_PERMUTATIONS = 5.0, 999


def _permuted_chi2_p(xc: np.ndarray, s: np.ndarray, shape: tuple[int, int], chi2: float) -> float:
    """Monte-Carlo p-value of the chi-square statistic with the group labels shuffled."""
    present = np.unique(s)
    sc = np.searchsorted(present, s)  # groups renumbered to the table's columns
    rows, cols = int(xc.max()) + 1, present.size
    row_sums = np.bincount(xc, minlength=rows).astype(float)
    col_sums = np.bincount(sc, minlength=cols).astype(float)
    expected = np.outer(row_sums, col_sums) / xc.size
    keep = expected > 0
    rng = np.random.default_rng(0)  # a fixed stream: the same data always gives the same p
    hits = 0
    for _ in range(SPARSE_PERMUTATIONS):
        table = np.bincount(xc * cols + rng.permutation(sc), minlength=rows * cols)
        table = table.reshape(rows, cols)
        stat = np.sum((table[keep] - expected[keep]) ** 2 / expected[keep])
        hits += stat >= chi2 - 1e-9
    return (1 + hits) / (1 + SPARSE_PERMUTATIONS)


def _mutual_information(table: np.ndarray) -> float:
    pxy = table / table.sum()
    px = pxy.sum(axis=1, keepdims=True)
    py = pxy.sum(axis=0, keepdims=True)
    nz = pxy > 0
    return float(np.sum(pxy[nz] * np.log(pxy[nz] / (px @ py)[nz])))


def _correlation_ratio(x: np.ndarray, s: np.ndarray, n_s: int) -> tuple[float, float, float]:
    """Correlation ratio eta, one-way ANOVA F-test p-value and binned mutual information."""
    from scipy import stats

    counts = np.bincount(s, minlength=n_s).astype(np.float64)
    present = counts > 0
    k = int(present.sum())
    n = x.size
    mean = x.mean()
    sst = float(np.sum((x - mean) ** 2))
    if k < 2 or sst == 0.0 or n <= k:
        return 0.0, 1.0, 0.0
    sums = np.bincount(s, weights=x, minlength=n_s)
    ssb = float(np.sum(sums[present] ** 2 / counts[present]) - n * mean**2)
    ssb = min(max(ssb, 0.0), sst)
    eta2 = ssb / sst
    ssw = sst - ssb
    if ssw <= 0.0:
        p = 0.0
    else:
        f = (ssb / (k - 1)) / (ssw / (n - k))
        p = float(stats.f.sf(f, k - 1, n - k))
    edges = np.unique(np.quantile(x, np.linspace(0, 1, 11)[1:-1]))
    table = np.zeros((edges.size + 1, n_s))
    np.add.at(table, (np.searchsorted(edges, x, side="right"), s), 1.0)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    return float(np.sqrt(eta2)), p, _mutual_information(table)


def _fmt_p(p: float) -> str:
    return "< 1e-10" if p < 1e-10 else f"{p:.2g}"


def predictability_sentence(attr: str, pred: dict[str, Any], alpha: float) -> str:
    """Whether ``attr`` can be predicted from the features, in words that follow the p-value.

    The joint test is run at ``alpha / 2`` (the other half goes to the pairwise tests).

    Examples
    --------
    >>> predictability_sentence("sex", {"auc": 0.429, "p_value": 0.8}, 0.05)
    'sex is not predictable from the features (cross-validated AUC 0.429, p = 0.8)'
    """
    p, auc = pred["p_value"], pred["auc"]
    stats_text = f"cross-validated AUC {auc:.3f}, p = {p:.2g}"
    if not np.isfinite(p):
        return f"{attr} predictability was not tested (cross-validated AUC {auc:.3f})"
    if p <= alpha / 2:
        return f"{attr} is predictable from the features ({stats_text})"
    if p <= alpha:
        return (
            f"{attr} may be weakly predictable from the features ({stats_text}; not significant "
            f"at the joint test's level {alpha / 2:.3g})"
        )
    return f"{attr} is not predictable from the features ({stats_text})"


def gap_change_words(reduction: float, se: float | None = None, *, would: bool = True) -> str:
    """``"would shrink the gap by 0.02"`` or ``"would widen the gap by 0.02"``: sign in words.

    Examples
    --------
    >>> gap_change_words(-0.0242)
    'would widen the gap by 0.0242'
    >>> gap_change_words(0.01, 0.002, would=False)
    'shrinks the gap by 0.01 ± 0.002'
    >>> gap_change_words(-0.0016, 0.0041)
    'would not change the gap beyond noise (+0.0016 ± 0.0041)'
    """
    pm = "" if se is None or not np.isfinite(se) else f" ± {se:.2g}"
    if se is not None and np.isfinite(se) and abs(reduction) < 2 * se:
        verb = "would not change" if would else "does not change"
        return f"{verb} the gap beyond noise ({-reduction:+.3g}{pm})"
    if not np.isfinite(reduction):
        return "would have an undefined effect on the gap" if would else "has an undefined effect"
    if reduction == 0:
        return "would leave the gap unchanged" if would else "leaves the gap unchanged"
    verb = "shrink" if reduction > 0 else "widen"
    verb = f"would {verb}" if would else f"{verb}s"
    return f"{verb} the gap by {abs(reduction):.3g}{pm}"


class ProxyAudit(ResultDisplay, FromDict):
    """Audit which features act as proxies of a sensitive attribute and how much a model uses them.

    Three complementary views, computed eagerly:

    (a) **Pairwise association** of each feature with the attribute: Cramér's V (chi-square test)
        for categorical features, the correlation ratio eta (one-way ANOVA F-test) for
        continuous ones, plus plug-in mutual information; two-sided p-values (analytic, or
        permutation with ``test="permutation"``) corrected for multiple testing.
    (b) **Joint predictability** of the attribute from all model features: the cross-validated
        ROC AUC of an auxiliary classifier against a permutation null (labels shuffled, whole
        cross-validation refitted), and which features carry it (permutation importance of the
        auxiliary model on held-out folds). Features that carry a significant joint signal are
        flagged even when no single association is strong.
    (c) **Influence** on the audited model: each feature's attribute-related part is removed by
        quantile transport (every value keeps its within-group quantile but is read off the
        pooled distribution), and the change of the model's predictions and of its between-group
        gap (max - min of the group means) is measured; the flagged proxies are also repaired
        jointly. When the attribute itself is a model input (``sensitive_column``), a flip test
        sets it to each level for every row.

    Parameters
    ----------
    model : estimator, callable or ModelAdapter, or None
        The audited model (see :func:`assay.model.wrap`). ``None`` audits the data only. A
        model that returns NaN or inf raises :class:`~assay.errors.ModelError`.
    X : array-like or DataFrame (n_samples, n_features)
        The model's input rows.
    sensitive : array-like, Series or DataFrame
        The attribute, one label per row (several columns are combined into intersectional
        groups). Missing values raise an error.
    sensitive_column : str or int, optional
        The column of ``X`` that encodes the attribute, when the model takes it as input.
    categorical_features : list of str, optional
        Features to treat as categorical. By default a feature with integer values and at most
        ``max_categories`` distinct values is categorical.
    max_categories : int, default 20
    alpha : float, default 0.05
        Error rate for flagging, split evenly between the pairwise tests (each family corrected
        with ``correction``; BH controls the false discovery rate) and the joint test, so that on
        data where no feature relates to the attribute the chance of any flag is at most
        ``alpha``.
    correction : {"bh", "by", "holm", "bonferroni", "none"}, default "bh"
    min_effect : float, default 0.1
        Smallest Cramér's V / eta for a pairwise flag; statistically significant but smaller
        associations are reported as weak and not flagged.
    test : {"analytic", "permutation"}, default "analytic"
        How the pairwise p-values are computed.
    n_permutations : int, default 49
        Permutations for the AUC null (and the pairwise tests when ``test="permutation"``).
        The smallest attainable p-value is ``1 / (n_permutations + 1)``; joint flags need it
        at most ``alpha / 2`` (``n_permutations >= 39`` for ``alpha=0.05``).
    auxiliary : classifier, optional
        The auxiliary model for (b) (default: a small ``HistGradientBoostingClassifier``).
    cv : int, default 3
        Folds for the auxiliary model.
    n_repeats : int, default 5
        Repeats of each random repair and permutation.
    max_samples : int, default 5000
        Rows used for (b) and (c) (a seeded random subset when there are more).
    output : int, optional
        Model output column to audit (default: the last, i.e. the positive class).
    seed : int, optional

    Attributes
    ----------
    features : DataFrame
        One row per feature: kind, association measure and value, mutual information, p-value,
        adjusted p-value, auxiliary importance (and stderr), influence on predictions and on the
        group gap (and stderr), ``flagged``, ``reason`` and ``verdict``.
    proxies : list of str
        The flagged feature names (empty when nothing is flagged).
    predictability : dict
        ``auc``, ``null_mean``, ``null_sd``, ``p_value``, ``n_permutations``.
    influence : dict or None
        ``gap`` (the model's between-group gap), ``proxy_gap_reduction`` (repairing all flagged
        proxies jointly), its ``stderr`` and ``share``, ``gap_all_repaired``.
    flip : dict
        ``applicable`` and ``effect`` (mean over rows of max - min prediction over the levels).
    params : dict

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> s = rng.integers(0, 2, 400)
    >>> X = np.column_stack([s + rng.normal(size=400), rng.normal(size=400)])
    >>> y = (X[:, 0] + rng.normal(size=400) > 0.5).astype(int)
    >>> audit = ProxyAudit(LogisticRegression().fit(X, y), X, s, n_permutations=19, seed=0)
    >>> audit.proxies
    ['x0']
    >>> bool(audit.predictability["auc"] > 0.6)
    True
    """

    def __init__(
        self,
        model: Any,
        X: Any,
        sensitive: Any,
        *,
        sensitive_column: str | int | None = None,
        categorical_features: list[str] | None = None,
        max_categories: int = 20,
        alpha: float = 0.05,
        correction: str = "bh",
        min_effect: float = 0.1,
        test: str = "analytic",
        n_permutations: int = 49,
        auxiliary: Any = None,
        cv: int = 3,
        n_repeats: int = 5,
        max_samples: int = 5000,
        output: int | None = None,
        seed: int | None = None,
    ) -> None:
        from assay._validation import as_matrix
        from assay.model import wrap

        seed = check_seed(seed)
        n_permutations = check_int(n_permutations, name="n_permutations", minimum=0)
        cv = check_int(cv, name="cv", minimum=2)
        n_repeats = check_int(n_repeats, name="n_repeats", minimum=1)
        max_samples = check_int(max_samples, name="max_samples", minimum=10)
        max_categories = check_int(max_categories, name="max_categories", minimum=2)
        if not 0.0 < float(alpha) < 1.0:
            msg = f"alpha must be in (0, 1); got {alpha!r}."
            raise InvalidInputError(msg)
        if correction not in _CORRECTIONS:
            msg = f"correction must be one of {_CORRECTIONS}; got {correction!r}."
            raise InvalidInputError(msg)
        if test not in ("analytic", "permutation"):
            msg = f"test must be 'analytic' or 'permutation'; got {test!r}."
            raise InvalidInputError(msg)
        adapter = None if model is None else wrap(model)
        if adapter is not None:
            Xv, names = adapter.prepare(X, allow_nan=True)
        else:
            Xv, names = as_matrix(X, allow_nan=True)
        n, d = Xv.shape
        sens = as_group_frame(sensitive, name="sensitive", n_rows=n)
        attr = "|".join(sens.columns) if sens.shape[1] > 1 else str(sens.columns[0])
        labels = sens.astype(str).agg("|".join, axis=1) if sens.shape[1] > 1 else sens.iloc[:, 0]
        s, levels = pd.factorize(labels, sort=True)
        counts = np.bincount(s)
        if levels.size < 2 or counts.min() < 2:
            msg = (
                f"sensitive needs at least two groups with two or more rows each; got "
                f"{dict(zip(map(str, levels), counts.tolist(), strict=True))}."
            )
            raise InvalidInputError(msg)
        col = _column_index(sensitive_column, names)
        rng = np.random.default_rng(seed)
        candidates = [j for j in range(d) if j != col]
        cat = set(categorical_features or [])
        unknown = sorted(cat - set(names))
        if unknown:
            msg = f"categorical_features names unknown columns {unknown}; columns are {names}."
            raise InvalidInputError(msg)
        kinds = {}
        for j in candidates:
            x = Xv[:, j][~np.isnan(Xv[:, j])]
            is_int = x.size > 0 and np.all(x == np.round(x))
            small = np.unique(x).size <= max_categories
            kinds[j] = "categorical" if names[j] in cat or (is_int and small) else "continuous"

        # (a) pairwise association
        assoc = self._pairwise(Xv, s, levels.size, candidates, kinds, test, n_permutations, rng)
        p_raw = np.array([assoc[j][2] for j in candidates])
        p_adj = adjust_pvalues(p_raw, correction)

        # subsample for (b) and (c)
        rows = np.arange(n)
        if n > max_samples:
            rows = np.sort(rng.choice(n, size=max_samples, replace=False))
        Xs, ss = Xv[rows], s[rows]

        # (b) joint predictability
        pred = _predictability(
            Xs[:, candidates], ss, auxiliary, cv, n_permutations, n_repeats, rng, seed
        )
        imp, imp_se = pred.pop("importance"), pred.pop("importance_se")

        # flags
        # the error rate is split between the two families of tests (pairwise, joint), so that
        # under the complete null the chance of any flag is at most alpha
        eff = np.array([assoc[j][1] for j in candidates])
        half = float(alpha) / 2.0
        pair_flag = (p_adj < half) & (eff >= min_effect)
        from scipy import stats

        z = stats.norm.ppf(1.0 - half / max(len(candidates), 1))
        joint_ok = pred["p_value"] <= half
        joint_flag = joint_ok & (imp - z * imp_se > 0.0) & (imp >= 0.01) & ~pair_flag
        flagged = pair_flag | joint_flag
        proxy_idx = [candidates[i] for i in np.flatnonzero(flagged)]

        # (c) influence and flip test
        infl_rows: dict[int, tuple[float, float, float]] = {}
        influence = None
        flip = {"applicable": False, "effect": 0.0, "note": f"{attr} is not a model input"}
        if adapter is not None:
            score = _scorer(adapter, output)
            base = score(Xs)
            gap0 = _gap(base, ss)
            for j in candidates:
                infl_rows[j] = _influence(score, Xs, ss, [j], base, gap0, n_repeats, rng)
            joint = (
                _influence(score, Xs, ss, proxy_idx, base, gap0, n_repeats, rng)
                if proxy_idx
                else (0.0, 0.0, 0.0)
            )
            all_rep = _influence(score, Xs, ss, candidates, base, gap0, n_repeats, rng)
            influence = {
                "gap": gap0,
                "group_means": {str(levels[g]): float(base[ss == g].mean()) for g in np.unique(ss)},
                "proxy_gap_reduction": joint[1],
                "proxy_gap_reduction_se": joint[2],
                "proxy_mean_abs_change": joint[0],
                "share": joint[1] / gap0 if gap0 > 0 else float("nan"),
                "gap_all_repaired": gap0 - all_rep[1],
            }
            if col is not None:
                flip = _flip(score, Xs, col, attr)

        self.attribute = attr
        self.levels = [str(v) for v in levels]
        self.features = _table(
            names, candidates, kinds, assoc, p_adj, imp, imp_se, infl_rows, pair_flag,
            joint_flag, attr, min_effect, alpha, pred,
        )  # fmt: skip
        self.proxies = [names[j] for j in proxy_idx]
        self.predictability = pred
        self.influence = influence
        self.flip = flip
        self.params = {
            "sensitive_column": None if col is None else names[col],
            "alpha": float(alpha),
            "correction": correction,
            "min_effect": float(min_effect),
            "test": test,
            "n_permutations": n_permutations,
            "auxiliary": "HistGradientBoostingClassifier(max_iter=50)"
            if auxiliary is None
            else type(auxiliary).__name__,
            "cv": cv,
            "n_repeats": n_repeats,
            "max_samples": max_samples,
            "n_rows_used": int(rows.size),
            "output": output,
            "seed": seed,
            "repair": "quantile transport to the pooled distribution (ties broken at random)",
        }
        self._frozen = True

    def __setattr__(self, key: str, value: Any) -> None:
        if getattr(self, "_frozen", False):
            msg = f"ProxyAudit is read-only; cannot set {key!r}."
            raise AttributeError(msg)
        object.__setattr__(self, key, value)

    @staticmethod
    def _pairwise(
        Xv: np.ndarray,
        s: np.ndarray,
        n_s: int,
        candidates: list[int],
        kinds: dict[int, str],
        test: str,
        n_perm: int,
        rng: np.random.Generator,
    ) -> dict[int, tuple[str, float, float, float, int]]:
        out = {}
        perms = [rng.permutation(s.size) for _ in range(n_perm)] if test == "permutation" else []
        for j in candidates:
            ok = ~np.isnan(Xv[:, j])
            x, sj = Xv[ok, j], s[ok]
            fn = _cramers_v if kinds[j] == "categorical" else _correlation_ratio
            measure = "cramers_v" if kinds[j] == "categorical" else "correlation_ratio"
            eff, p, mi = fn(x, sj, n_s) if x.size > 2 else (0.0, 1.0, 0.0)
            if perms and x.size > 2:
                hits = sum(fn(x, s[perm][ok], n_s)[0] >= eff - 1e-12 for perm in perms)
                p = (1.0 + hits) / (1.0 + n_perm)
            out[j] = (measure, eff, p, mi, int(ok.sum()))
        return out

    @property
    def summary(self) -> str:
        """A one-paragraph plain-language summary."""
        pred = self.predictability
        parts = [predictability_sentence(self.attribute, pred, self.params["alpha"]) + "."]
        if self.proxies:
            parts.append(f"Flagged proxies: {', '.join(self.proxies)}.")
        else:
            parts.append("No feature is flagged as a proxy.")
        if self.influence is not None:
            inf = self.influence
            text = f"The model's between-group gap in mean prediction is {inf['gap']:.4f}"
            if self.proxies:
                text += (
                    f"; removing the {self.attribute}-related part of the flagged proxies "
                    + gap_change_words(inf["proxy_gap_reduction"], inf["proxy_gap_reduction_se"])
                )
            parts.append(text + ".")
        parts.append(
            f"Flip test: {self.flip['effect']:.4f}"
            + ("" if self.flip["applicable"] else f" ({self.flip['note']})")
            + "."
        )
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (NaN as None)."""
        feats = self.features.astype(object).where(self.features.notna(), None)
        return {
            "kind": "ProxyAudit",
            "schema_version": self.SCHEMA_VERSION,
            "attribute": self.attribute,
            "levels": self.levels,
            "proxies": list(self.proxies),
            "features": to_jsonable(feats.to_dict(orient="records")),
            "predictability": to_jsonable(self.predictability),
            "influence": to_jsonable(self.influence),
            "flip": to_jsonable(self.flip),
            "summary": self.summary,
            "params": to_jsonable(self.params),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ProxyAudit:
        """Rebuild an audit from :meth:`to_dict` output: its table and numbers, read-only (the
        rows it was computed on are not kept; nothing is recomputed)."""
        check_kind(cls, d)
        obj = object.__new__(cls)
        fields = {
            "attribute": d["attribute"],
            "levels": list(d["levels"]),
            "proxies": list(d["proxies"]),
            "features": pd.DataFrame.from_records(d["features"]),
            "predictability": dict(d["predictability"]),
            "influence": None if d.get("influence") is None else dict(d["influence"]),
            "flip": dict(d["flip"]),
            "params": dict(d.get("params", {})),
            "_frozen": True,
        }
        for key, value in fields.items():
            object.__setattr__(obj, key, value)
        return obj

    def __repr__(self) -> str:
        return f"ProxyAudit(attribute={self.attribute!r}, proxies={self.proxies})"


def _column_index(column: str | int | None, names: list[str]) -> int | None:
    if column is None:
        return None
    if isinstance(column, str):
        if column not in names:
            msg = f"sensitive_column {column!r} is not a column of X; columns are {names}."
            raise InvalidInputError(msg)
        return names.index(column)
    return check_int(column, name="sensitive_column", minimum=0, maximum=len(names) - 1)


def _scorer(adapter: Any, output: int | None) -> Any:
    def score(X: np.ndarray) -> np.ndarray:
        out = adapter.predict(X)
        k = out.shape[1] - 1 if output is None else int(output)
        if not -out.shape[1] <= k < out.shape[1]:
            msg = f"output={output} is out of range for a model with {out.shape[1]} outputs."
            raise InvalidInputError(msg)
        col = out[:, k]
        bad = ~np.isfinite(col)
        if bad.any():
            rows = np.flatnonzero(bad)[:5].tolist()
            msg = (
                f"the model returned {int(bad.sum())} NaN/inf prediction(s) out of {col.size} "
                f"(first rows {rows} of the audited subset), so its group gap is undefined. Fix "
                "the model or the rows it cannot score (e.g. impute missing inputs) first."
            )
            raise ModelError(msg)
        return col

    return score


def _gap(pred: np.ndarray, s: np.ndarray) -> float:
    means = [pred[s == g].mean() for g in np.unique(s)]
    return float(max(means) - min(means))


def _influence(
    score: Any,
    X: np.ndarray,
    s: np.ndarray,
    cols: list[int],
    base: np.ndarray,
    gap0: float,
    n_repeats: int,
    rng: np.random.Generator,
) -> tuple[float, float, float]:
    """Mean |change|, gap reduction and its stderr when ``cols`` are repaired."""
    Xr = np.repeat(X[None], n_repeats, axis=0)
    for r in range(n_repeats):
        for j in cols:
            Xr[r, :, j] = transport(X[:, j], s, rng)
    pred = score(Xr.reshape(-1, X.shape[1])).reshape(n_repeats, -1)
    abs_change = float(np.mean(np.abs(pred - base[None])))
    red = np.array([gap0 - _gap(pred[r], s) for r in range(n_repeats)])
    se = float(red.std(ddof=1) / np.sqrt(n_repeats)) if n_repeats > 1 else float("nan")
    return abs_change, float(red.mean()), se


def _flip(score: Any, X: np.ndarray, col: int, attr: str) -> dict[str, Any]:
    values = np.unique(X[:, col][~np.isnan(X[:, col])])
    preds = []
    for v in values:
        Xv = X.copy()
        Xv[:, col] = v
        preds.append(score(Xv))
    P = np.stack(preds)
    effect = float(np.mean(P.max(axis=0) - P.min(axis=0)))
    return {
        "applicable": True,
        "effect": effect,
        "note": f"{attr} set to each of {values.tolist()} for every row",
    }


def _predictability(
    X: np.ndarray,
    s: np.ndarray,
    auxiliary: Any,
    cv: int,
    n_perm: int,
    n_repeats: int,
    rng: np.random.Generator,
    seed: int | None,
) -> dict[str, Any]:
    from sklearn.base import clone
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold

    if auxiliary is None:
        auxiliary = HistGradientBoostingClassifier(
            max_iter=50, max_leaf_nodes=15, early_stopping=False, random_state=seed
        )
    n_levels = np.unique(s).size
    folds_needed = np.bincount(s).min()
    if folds_needed < cv:
        msg = (
            f"the smallest group has {folds_needed} rows, fewer than cv={cv} folds; pass a "
            "smaller cv or more rows."
        )
        raise InvalidInputError(msg)
    split_seed = int(rng.integers(2**31 - 1))
    splitter = StratifiedKFold(n_splits=cv, shuffle=True, random_state=split_seed)
    splits = list(splitter.split(X, s))

    def cv_auc(labels: np.ndarray, keep: bool) -> tuple[float, list[Any]]:
        # every labelling, observed or shuffled, gets folds stratified by itself: reusing the
        # observed folds for shuffled labels unbalances their classes across folds, and an
        # auxiliary model that learns class priors then scores below 0.5 on pooled folds, which
        # made the permutation test reject far more often than alpha
        proba = np.zeros((labels.size, n_levels))
        fitted = []
        for train, test in splits if keep else splitter.split(X, labels):
            est = clone(auxiliary).fit(X[train], labels[train])
            proba[test] = _proba(est, X[test], n_levels)
            if keep:
                fitted.append(est)
        return _auc(labels, proba), fitted

    # many small refits: one OpenMP thread each, since spinning OpenMP workers make them many
    # times slower whenever other processes share the cores (as in trust.off_manifold_test)
    with threadpool_limits(limits=1, user_api="openmp"):
        auc, fitted = cv_auc(s, True)
        null = np.array([cv_auc(rng.permutation(s), False)[0] for _ in range(n_perm)])
    p_value = (1.0 + np.sum(null >= auc - 1e-12)) / (1.0 + n_perm) if n_perm else float("nan")
    d = X.shape[1]
    drops = np.zeros((len(splits) * n_repeats, d))
    for f, ((_, test), est) in enumerate(zip(splits, fitted, strict=True)):
        Xt, st = X[test], s[test]
        ref = _auc(st, _proba(est, Xt, n_levels))
        for r in range(n_repeats):
            for j in range(d):
                Xp = Xt.copy()
                Xp[:, j] = Xt[rng.permutation(Xt.shape[0]), j]
                drops[f * n_repeats + r, j] = ref - _auc(st, _proba(est, Xp, n_levels))
    return {
        "auc": float(auc),
        "null_mean": float(null.mean()) if n_perm else float("nan"),
        "null_sd": float(null.std(ddof=1)) if n_perm > 1 else float("nan"),
        "p_value": float(p_value),
        "n_permutations": n_perm,
        "importance": drops.mean(axis=0),
        "importance_se": drops.std(axis=0, ddof=1) / np.sqrt(drops.shape[0]),
    }


def _proba(est: Any, X: np.ndarray, n_levels: int) -> np.ndarray:
    p = np.asarray(est.predict_proba(X), dtype=np.float64)
    classes = np.asarray(est.classes_).astype(np.int64)
    out = np.zeros((X.shape[0], n_levels))
    out[:, classes] = p
    return out


def _auc(labels: np.ndarray, proba: np.ndarray) -> float:
    """ROC AUC from mid-ranks (Mann-Whitney); one-vs-rest macro average for several groups.

    Equal to ``sklearn.metrics.roc_auc_score`` (tested) without its per-call validation cost,
    which dominates when the permutation null refits the auxiliary model many times.
    """
    from scipy.stats import rankdata

    cols = [1] if proba.shape[1] == 2 else range(proba.shape[1])
    aucs = []
    for k in cols:
        pos = labels == k
        n1 = int(pos.sum())
        n0 = labels.size - n1
        ranks = rankdata(proba[:, k])
        aucs.append((ranks[pos].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))
    return float(np.mean(aucs))


def _table(
    names: list[str],
    candidates: list[int],
    kinds: dict[int, str],
    assoc: dict[int, tuple[str, float, float, float, int]],
    p_adj: np.ndarray,
    imp: np.ndarray,
    imp_se: np.ndarray,
    infl: dict[int, tuple[float, float, float]],
    pair_flag: np.ndarray,
    joint_flag: np.ndarray,
    attr: str,
    min_effect: float,
    alpha: float,
    pred: dict[str, Any],
) -> pd.DataFrame:
    rows = []
    for i, j in enumerate(candidates):
        measure, eff, p, mi, n_used = assoc[j]
        label = "Cramér's V" if measure == "cramers_v" else "correlation ratio"
        a_text = f"{label} {eff:.2f}, adjusted p {_fmt_p(p_adj[i])}"
        if j in infl:
            ab, red, red_se = infl[j]
            i_text = (
                f" Removing its {attr}-related part changes the model's predictions by {ab:.4f} "
                f"on average and {gap_change_words(red, red_se, would=False)}."
            )
        else:
            ab = red = red_se = float("nan")
            i_text = ""
        if pair_flag[i]:
            verdict = f"proxy of {attr}: clearly associated ({a_text}).{i_text}"
            reason = "pairwise"
        elif joint_flag[i]:
            verdict = (
                f"joint proxy of {attr}: weak on its own ({a_text}) but the auxiliary model "
                f"that predicts {attr} (AUC {pred['auc']:.2f}) relies on it (AUC drop "
                f"{imp[i]:.3f} ± {imp_se[i]:.3f}).{i_text}"
            )
            reason = "joint"
        elif p_adj[i] < alpha / 2:
            verdict = (
                f"weakly associated with {attr} ({a_text}; below min_effect={min_effect}); "
                f"not flagged.{i_text}"
            )
            reason = ""
        elif p_adj[i] < alpha:
            verdict = (
                f"possibly associated with {attr} ({a_text}), but not significant at the "
                f"pairwise level alpha/2 = {alpha / 2:.3g}; not flagged.{i_text}"
            )
            reason = ""
        else:
            verdict = f"no evidence of association with {attr} ({a_text}).{i_text}"
            reason = ""
        rows.append(
            {
                "feature": names[j],
                "kind": kinds[j],
                "n_used": n_used,
                "measure": measure,
                "association": eff,
                "mutual_information": mi,
                "p_value": p,
                "p_adjusted": float(p_adj[i]),
                "aux_importance": float(imp[i]),
                "aux_importance_se": float(imp_se[i]),
                "influence_mean_abs": ab,
                "influence_gap": red,
                "influence_gap_se": red_se,
                "flagged": bool(pair_flag[i] or joint_flag[i]),
                "reason": reason,
                "verdict": f"{names[j]}: {verdict}",
            }
        )
    return pd.DataFrame(rows)
