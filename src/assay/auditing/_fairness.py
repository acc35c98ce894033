"""Audit section: group gaps (tested) and proxies of the sensitive attributes (``assay.fairness``).

The status follows one decision rule, stated in ``data["rule"]``: "alert" only when a group
gap is significant at ``alpha`` after Holm's correction over the section's tests; "warning"
only with a stated reason; otherwise "ok".
"""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.auditing._section import figure, section, table

__all__ = ["MIN_GROUP_ROWS", "fairness_section", "group_gap_tests"]

PROXY_COLUMNS = [
    "feature",
    "measure",
    "association",
    "adjusted p",
    "joint importance",
    "influence on gap",
    "flagged",
    "verdict",
]
COMPARE_COLUMNS = [
    "metric",
    "groups (a - b)",
    "a",
    "b",
    "difference a - b",
    "CI low",
    "CI high",
    "ratio a / b",
    "ratio CI low",
    "ratio CI high",
    "four-fifths",
    "adjusted p",
]
RATE_METRICS = ["base_rate", "selection_rate", "true_positive_rate", "false_positive_rate"]
BINARY_TESTED = [
    "selection_rate",
    "true_positive_rate",
    "false_positive_rate",
    "precision",
    "accuracy",
]
MIN_GROUP_ROWS = 10
N_PERMUTATIONS = 999


def _label(index_value: Any) -> str:
    parts = index_value if isinstance(index_value, tuple) else (index_value,)
    return " | ".join(str(p) for p in parts)


def _words(metric: str) -> str:
    return metric.replace("_", " ")


def _class_labels(adapter: Any, y: np.ndarray) -> np.ndarray:
    """``y`` written with the model's output names (``1.0`` -> ``"1"`` for classes 0..k)."""
    names = [str(o) for o in adapter.output_names]
    out = np.asarray(y).astype(str).astype(object)
    for name in names:
        try:
            hit = np.asarray(y, dtype=np.float64) == float(name)
        except (TypeError, ValueError):
            hit = np.asarray(y).astype(str) == name
        out[hit] = name
    return out


def group_gap_tests(
    adapter: Any,
    X: np.ndarray,
    y: np.ndarray,
    sens: Any,
    *,
    alpha: float = 0.05,
    seed: int | None = None,
    n_permutations: int = N_PERMUTATIONS,
) -> tuple[Any, Any, str, list[str]]:
    """GroupMetrics and its tested comparison for the model's decisions.

    Returns ``(group_metrics, comparison, headline metric, metrics shown)``. The tested family
    is every metric of the comparison: selection rate, TPR, FPR, precision and accuracy for a
    binary classifier (threshold 0.5 on the probability, 0 on log-odds); accuracy for several
    classes; mean prediction and mean absolute error for a regressor.
    """
    from assay.auditing._performance import positive_labels
    from assay.fairness import GroupMetrics

    out = adapter.predict(X)
    kw = {"sensitive_features": sens}
    if adapter.is_classifier and adapter.n_outputs == 2:
        labels = positive_labels(adapter, y)
        cut = 0.5 if adapter.output_space == "probability" else 0.0
        decision = (out[:, -1] >= cut).astype(int)
        gm = GroupMetrics(
            metrics=[*RATE_METRICS, "precision", "accuracy"], y_true=labels, y_pred=decision,
            **kw,
        )  # fmt: skip
        tested, headline, shown = BINARY_TESTED, "selection_rate", [*RATE_METRICS, "accuracy"]
    elif adapter.is_classifier:
        pred = np.asarray(adapter.output_names, dtype=object)[out.argmax(axis=1)]
        # several classes: the built-in rates binarize at pos_label, so accuracy is the share of
        # rows whose predicted class is the true one, counted as a rate of "correct" rows
        correct = (pred == _class_labels(adapter, y)).astype(int)
        gm = GroupMetrics(metrics={"accuracy": "base_rate"}, y_true=correct, y_pred=correct, **kw)
        tested, headline, shown = ["accuracy"], "accuracy", ["accuracy"]
    else:
        gm = GroupMetrics(
            metrics=["mean_prediction", "mean_absolute_error"],
            y_true=np.asarray(y, dtype=np.float64), y_pred=out[:, 0], **kw,
        )  # fmt: skip
        tested = shown = ["mean_prediction", "mean_absolute_error"]
        headline = "mean_prediction"
    cmp = gm.compare(alpha=alpha, metrics=tested, n_permutations=n_permutations, seed=seed)
    return gm, cmp, headline, shown


def _rule(attr: str, tested: list[str], alpha: float, headline: str) -> str:
    return (
        f"Decision rule. For each tested metric ({', '.join(_words(m) for m in tested)}) a "
        f"permutation test ({N_PERMUTATIONS} shuffles of the {attr} labels among the rows the "
        "metric is a share or mean of; statistic: the largest gap between any two groups) asks "
        f"whether all groups share the metric. The {len(tested)} p-values are Holm-adjusted. "
        f"Status 'alert' when any adjusted p-value is below alpha = {alpha:g}. Otherwise "
        "'warning' when the proxy audit flags a feature (its own error rate alpha, split between "
        f"its pairwise and joint tests), or when the {_words(headline)}'s impact ratio (lowest "
        "group / highest group) is below 4/5 although the gap is not significant (large but "
        "inconclusive); else 'ok'. Intervals: Newcombe score (rates) or Welch t (means) for "
        f"signed differences, Katz log for ratios, at level {1 - alpha:g}, simultaneous over the "
        f"pairs of groups (Bonferroni). Groups with fewer than {MIN_GROUP_ROWS} rows are listed "
        "and left out of the tests and of the proxy audit."
    )


def _pair_sentence(row: Any, level: float) -> str:
    """A pair comparison in words, with the sign said as 'higher'/'lower'."""
    a, b, d = row.group_a, row.group_b, row.estimate
    if d == 0:
        rel = f"{a} and {b} are equal"
    else:
        rel = f"{a} is {'higher' if d > 0 else 'lower'} than {b} by {abs(d):.3f}"
    text = (
        f"{_words(row.metric)} {row.value_a:.3f} for {a} vs {row.value_b:.3f} for {b}: {rel} "
        f"({level:.0%} CI of {a} - {b}: [{row.ci_low:.3f}, {row.ci_high:.3f}]"
    )
    if row.four_fifths in ("pass", "fail"):
        word = "passes" if row.four_fifths == "pass" else "fails"
        sure = "" if row.four_fifths_conclusive else ", inconclusive"
        text += (
            f"; ratio {row.ratio:.2f} [{row.ratio_ci_low:.2f}, {row.ratio_ci_high:.2f}] "
            f"{word} the four-fifths rule{sure}"
        )
    return text + f"; adjusted p = {row.p_adjusted:.2g})"


def _headline_pair(cmp: Any, metric: str) -> Any:
    """The pair of the metric's highest and lowest group (one row of ``cmp.pairs``)."""
    tests = cmp.tests[cmp.tests["metric"] == metric]
    if tests.empty:
        return None
    t = tests.iloc[0]
    pairs = cmp.pairs[cmp.pairs["metric"] == metric]
    hit = pairs[
        ((pairs["group_a"] == t["highest"]) & (pairs["group_b"] == t["lowest"]))
        | ((pairs["group_a"] == t["lowest"]) & (pairs["group_b"] == t["highest"]))
    ]
    return next(hit.itertuples()) if len(hit) else next(pairs.itertuples())


def _one_group(attr: str, sizes: dict[str, int], tiny: dict[str, int]) -> dict[str, Any]:
    kept = {g: n for g, n in sizes.items() if g not in tiny}
    verdict = (
        f"Nothing to compare: {attr} has "
        + (f"a single group ({', '.join(sizes)})" if len(sizes) < 2 else (
            f"{len(kept)} group(s) with at least {MIN_GROUP_ROWS} rows "
            f"({', '.join(f'{g}: {n}' for g, n in sizes.items())})"))
        + "; group gaps and proxies were not assessed. Pass a sensitive attribute with two or "
        f"more groups of {MIN_GROUP_ROWS}+ rows."
    )  # fmt: skip
    return section(
        "Fairness and proxies", verdict, status="warning",
        metrics={"groups": len(sizes)},
        data={"attribute": attr, "group_sizes": sizes, "excluded_groups": tiny,
              "rule": "No test was run: fewer than two groups large enough to compare."},
    )  # fmt: skip


def fairness_section(
    model: Any,
    adapter: Any,
    X: np.ndarray,
    y: np.ndarray,
    names: list[str],
    sensitive: Any,
    *,
    seed: int | None,
    alpha: float = 0.05,
    max_samples: int = 2000,
) -> dict[str, Any] | None:
    """Tested group gaps (:meth:`GroupMetrics.compare`) and a :class:`~assay.fairness.ProxyAudit`.

    None when no sensitive attribute is given. ``alpha`` is the level of the group-gap tests
    (Holm over the tested metrics) and of the proxy audit; ``data["rule"]`` states the rule.
    """
    import pandas as pd
    from threadpoolctl import threadpool_limits

    from assay.fairness._group_metrics import as_group_frame
    from assay.fairness._proxy import gap_change_words, predictability_sentence

    if sensitive is None:
        return None
    sens = sensitive if isinstance(sensitive, pd.DataFrame) else pd.DataFrame(
        {"sensitive": np.asarray(sensitive)}
    )
    sens = as_group_frame(sens.reset_index(drop=True), name="sensitive", n_rows=len(X))
    attr = "|".join(sens.columns) if sens.shape[1] > 1 else str(sens.columns[0])
    row_group = _joined_labels(sens)
    uniq, counts = np.unique(row_group, return_counts=True)
    sizes = {str(g): int(n) for g, n in zip(uniq, counts, strict=True)}
    tiny = {g: n for g, n in sizes.items() if n < MIN_GROUP_ROWS}
    if len(sizes) - len(tiny) < 2:
        return _one_group(attr, sizes, tiny)
    keep = ~np.isin(row_group, list(tiny))
    # no copy when every row is kept: the audit shares one model call on X (by identity)
    Xk, yk = (X, np.asarray(y)) if keep.all() else (X[keep], np.asarray(y)[keep])
    sk = sens[keep].reset_index(drop=True)

    gm, cmp, headline, shown = group_gap_tests(adapter, Xk, yk, sk, alpha=alpha, seed=seed)
    tested = cmp.tests["metric"].tolist()
    # a small auxiliary model keeps the 40 permutation refits cheap; 39 permutations are the
    # fewest that let the joint test reach alpha / 2 = 0.025. Its refits and repairs run on at
    # most max_samples rows (a seeded sample), where OpenMP threads cost more than they save
    # (8x slower on a busy 2-core machine): one thread
    with threadpool_limits(limits=1, user_api="openmp"):
        proxy = _proxy_audit(
            model, Xk, names, sk, row_group[keep], alpha=alpha, seed=seed, max_samples=max_samples
        )
    pred = proxy.predictability
    level = 1 - alpha

    significant = cmp.significant(alpha)
    head = _headline_pair(cmp, headline)
    head_test = cmp.tests[cmp.tests["metric"] == headline]
    impact = float(head_test["min_ratio"].iloc[0]) if len(head_test) else float("nan")
    reasons = []
    if significant.empty:
        if proxy.proxies:
            reasons.append(
                f"features flagged as proxies of {attr} ({', '.join(proxy.proxies)}) although "
                "no group gap is significant"
            )
        if np.isfinite(impact) and impact < 0.8:
            reasons.append(
                f"the {_words(headline)} impact ratio is {impact:.2f} (below 4/5) but the gap "
                "is not significant: large but inconclusive, more data needed"
            )
    status = "alert" if not significant.empty else ("warning" if reasons else "ok")

    parts = [f"{attr}: {len(sizes)} groups ({', '.join(f'{g}: {n}' for g, n in sizes.items())})"]
    if tiny:
        parts[0] += (
            f"; {', '.join(tiny)} left out of the tests (fewer than {MIN_GROUP_ROWS} rows)"
        )
    if not significant.empty:
        gaps = []
        for t in significant.itertuples():
            gaps.append(
                f"{_words(t.metric)} (highest {t.highest}, lowest {t.lowest}, gap "
                f"{t.largest_gap:.3f}, adjusted p = {t.p_adjusted:.2g})"
            )
        parts.append(
            f"significant group gaps at alpha = {alpha:g} (permutation tests, Holm over "
            f"{len(tested)} metrics): " + "; ".join(gaps)
        )
    else:
        p_min = float(cmp.tests["p_adjusted"].min()) if len(cmp.tests) else float("nan")
        parts.append(
            f"no group gap is significant at alpha = {alpha:g} (permutation tests, Holm over "
            f"{len(tested)} metrics; smallest adjusted p = {p_min:.2g})"
        )
    if head is not None:
        parts.append(_pair_sentence(head, level))
    if not significant.empty and headline not in set(significant["metric"]):
        top = significant.sort_values("p_adjusted")["metric"].iloc[0]
        parts.append(_pair_sentence(_headline_pair(cmp, top), level))
    parts.append(predictability_sentence(attr, pred, alpha))
    parts.append(
        f"flagged as proxies of {attr}: {', '.join(proxy.proxies)}"
        if proxy.proxies
        else f"no feature is flagged as a proxy of {attr}"
    )
    if proxy.influence is not None and proxy.proxies:
        inf = proxy.influence
        parts.append(
            f"the model's gap in mean prediction between {attr} groups is {inf['gap']:.3g}; "
            f"removing the {attr}-related part of the proxies "
            f"{gap_change_words(inf['proxy_gap_reduction'], inf['proxy_gap_reduction_se'])}"
        )
    if proxy.flip["applicable"]:
        parts.append(
            f"setting {attr} to each of its levels for every row moves the model's prediction "
            f"by {proxy.flip['effect']:.3g} on average (its direct use of {attr})"
        )
    if reasons:
        parts.append("warning: " + "; ".join(reasons))
    verdict = ". ".join(p[0].upper() + p[1:] for p in parts) + "."

    bg = gm.by_group
    groups = [_label(i) for i in bg.index]
    group_rows = [
        [groups[g], int(gm.counts.iloc[g]), *(float(bg[m].iloc[g]) for m in shown)]
        for g in range(len(groups))
    ] + [[g, n, *([None] * len(shown))] for g, n in tiny.items()]
    compare_rows = [
        [_words(r.metric), f"{r.group_a} - {r.group_b}", r.value_a, r.value_b, r.estimate,
         r.ci_low, r.ci_high, _finite(r.ratio), _finite(r.ratio_ci_low),
         _finite(r.ratio_ci_high), r.four_fifths, r.p_adjusted]
        for r in cmp.pairs.itertuples()
    ]  # fmt: skip
    feats = proxy.features
    ordered = feats.sort_values("association", ascending=False)
    proxy_rows = [
        [r.feature, r.measure, float(r.association), float(r.p_adjusted),
         float(r.aux_importance), float(r.influence_gap), bool(r.flagged), r.verdict]
        for r in ordered.itertuples()
    ]  # fmt: skip
    gi = cmp.groups[cmp.groups["metric"] == headline].set_index("group")
    figures = [
        figure(
            "errorbar",
            f"{_words(headline).capitalize()} by {attr} group, with {level:.0%} "
            + ("Wilson" if headline != "mean_prediction" else "t")
            + " intervals (per group); dashed: overall.",
            labels=groups,
            values=bg[headline].tolist(),
            lo=[float(gi["ci_low"].get(g, np.nan)) for g in groups],
            hi=[float(gi["ci_high"].get(g, np.nan)) for g in groups],
            reference=float(gm.overall[headline].iloc[0]),
            xlabel=_words(headline),
        ),
        figure(
            "bar",
            f"Association of each feature with {attr} (Cramér's V or correlation ratio); "
            "red: flagged as a proxy.",
            labels=ordered["feature"].tolist(),
            values=ordered["association"].astype(float).tolist(),
            colors=["#c8453c" if f else "#3c6fd1" for f in ordered["flagged"]],
            xlabel=f"association with {attr}",
        ),
    ]
    return section(
        "Fairness and proxies",
        verdict,
        status=status,
        metrics={
            f"{attr} predictability (AUC)": float(pred["auc"]),
            f"{attr} predictability p-value": float(pred["p_value"]),
            "proxies": ", ".join(proxy.proxies) or "none",
            f"{headline} difference": float(gm.difference()[headline].iloc[0]),
            f"{headline} impact ratio (lowest / highest)": impact,
            "smallest adjusted p (group gaps)": float(cmp.tests["p_adjusted"].min()),
            "significant gaps": ", ".join(significant["metric"]) or "none",
        },
        tables=[
            table("Metrics by group", ["group", "rows", *shown], group_rows),
            table(
                f"Group comparisons ({level:.0%} simultaneous intervals)",
                COMPARE_COLUMNS,
                compare_rows,
            ),
            table(f"Proxy audit of {attr}", PROXY_COLUMNS, proxy_rows),
        ],
        figures=figures,
        data={
            "attribute": attr,
            "alpha": float(alpha),
            "rule": _rule(attr, tested, alpha, headline),
            "status_reasons": reasons,
            "significant": significant["metric"].tolist(),
            "group_sizes": sizes,
            "excluded_groups": {
                g: {"rows": n, "reason": f"fewer than {MIN_GROUP_ROWS} rows"}
                for g, n in tiny.items()
            },
            "proxies": list(proxy.proxies),
            "group_metrics": gm.to_dict(),
            "comparison": cmp.to_dict(),
            "proxy_audit": proxy.to_dict(),
        },
    )


def _proxy_audit(
    model: Any, X: np.ndarray, names: list[str], sens: Any, groups: np.ndarray, *,
    alpha: float, seed: int | None, max_samples: int,
) -> Any:
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier

    from assay.fairness import ProxyAudit

    return ProxyAudit(
        model, pd.DataFrame(X, columns=names), sens, n_permutations=max(39, int(np.ceil(
            2 / alpha)) - 1), n_repeats=2, max_samples=max_samples, alpha=alpha,
        auxiliary=HistGradientBoostingClassifier(max_iter=30), seed=seed,
        sensitive_column=_encoding_column(X, names, groups),
    )  # fmt: skip


def _joined_labels(sens: Any) -> np.ndarray:
    """One label per row, the columns' values joined by " | " (vectorized: no row loop)."""
    cols = [sens[c].astype(str).to_numpy(dtype=object) for c in sens.columns]
    out = cols[0]
    for c in cols[1:]:
        out = out + " | " + c
    return out


def _encoding_column(X: np.ndarray, names: list[str], groups: np.ndarray) -> str | None:
    """The feature that encodes the sensitive attribute one-to-one, if the model takes it."""
    import pandas as pd

    codes = pd.factorize(groups)[0]
    for j, name in enumerate(names):
        col = X[:, j]
        if np.isnan(col).any():
            continue
        pair = pd.DataFrame({"x": col, "g": codes}).drop_duplicates()
        n_x, n_g = pair["x"].nunique(), pair["g"].nunique()
        if len(pair) == n_x == n_g:
            return name
    return None


def _finite(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None
