"""Sections of :func:`assay.compare` that look past accuracy: attribution shift and fairness
deltas (paired statistics on the same rows, differences new - baseline)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from assay._results import to_jsonable
from assay.auditing._compare_sections import Side, _signed, p_above, paired_mean
from assay.auditing._section import figure, section, table

__all__ = ["attribution_section", "fairness_section", "new_proxies"]

#: a feature the baseline gave less than this share of its attribution was "barely used"
BARELY_USED = 0.02


# -- attribution shift ----------------------------------------------------------------------


def _importance(exp: Any) -> np.ndarray:
    """Per row and feature: mean absolute attribution over the outputs (rows x features)."""
    return np.abs(np.asarray(exp.values, dtype=np.float64)).mean(axis=2)


def attribution_section(
    exp_new: Any,
    exp_base: Any,
    names_new: list[str],
    names_base: list[str],
    *,
    alpha: float,
    seed: int | None,
    n_resamples: int = 999,
) -> dict[str, Any]:
    """Change of each feature's share of the global attribution, with paired bootstrap
    intervals over the explained rows (the same rows for both models)."""
    from assay.fairness._compare import adjust_pvalues

    features = list(dict.fromkeys([*names_new, *names_base]))
    n = exp_new.values.shape[0]

    def spread(exp: Any, names: list[str]) -> np.ndarray:
        imp = np.zeros((n, len(features)))  # a feature the model does not take gets 0
        imp[:, [features.index(f) for f in names]] = _importance(exp)
        return imp

    a_new, a_base = spread(exp_new, names_new), spread(exp_base, names_base)

    def shares(rows: np.ndarray) -> np.ndarray:
        out = []
        for a in (a_new, a_base):
            tot = a[rows].mean(axis=0)
            out.append(tot / tot.sum() if tot.sum() > 0 else tot)
        return np.concatenate(out)

    all_rows = np.arange(n)
    point = shares(all_rows)
    s_new, s_base = point[: len(features)], point[len(features) :]
    boot = stats.bootstrap(
        (all_rows,),
        lambda i: (lambda s: s[: len(features)] - s[len(features) :])(shares(i)),
        vectorized=False,
        paired=False,
        n_resamples=n_resamples,
        confidence_level=1 - alpha,
        method="percentile",
        random_state=seed,
    )
    draws = boot.bootstrap_distribution  # features x resamples
    delta = s_new - s_base
    p = np.minimum(1.0, 2 * np.minimum((draws <= 0).mean(axis=1), (draws >= 0).mean(axis=1)))
    p = np.where(delta == 0, 1.0, np.maximum(p, 1.0 / (n_resamples + 1)))
    p_adj = adjust_pvalues(p, "bh")
    lo = np.minimum(boot.confidence_interval.low, delta)
    hi = np.maximum(boot.confidence_interval.high, delta)
    rank_new = _ranks(s_new)
    rank_base = _ranks(s_base)
    rows = []
    for j, f in enumerate(features):
        rows.append(
            {
                "feature": f,
                "share_new": float(s_new[j]),
                "share_baseline": float(s_base[j]),
                "change": float(delta[j]),
                "ci_low": float(lo[j]),
                "ci_high": float(hi[j]),
                "p_adjusted": float(p_adj[j]),
                "rank_new": int(rank_new[j]),
                "rank_baseline": int(rank_base[j]),
                "in_new": f in names_new,
                "in_baseline": f in names_base,
            }
        )
    rows.sort(key=lambda r: -abs(r["change"]))
    sig = [r for r in rows if r["p_adjusted"] <= alpha]
    newly = [r for r in sig if r["change"] > 0 and r["share_baseline"] < BARELY_USED]
    dropped = [r for r in sig if r["change"] < 0 and r["share_new"] < BARELY_USED]
    level = f"{100 * (1 - alpha):g}%"

    def words(r: dict[str, Any]) -> str:
        way = "more" if r["change"] > 0 else "less"
        return (
            f"{r['feature']} {100 * r['share_baseline']:.1f}% -> {100 * r['share_new']:.1f}% "
            f"of the attribution ({way}; {level} CI {100 * r['ci_low']:+.1f} to "
            f"{100 * r['ci_high']:+.1f} points; rank {r['rank_baseline']} -> {r['rank_new']})"
        )

    if sig:
        verdict = (
            f"{len(sig)} feature(s) change their share of the attribution: "
            + "; ".join(words(r) for r in sig[:4])
            + "."
        )
    else:
        verdict = (
            "No feature's share of the attribution changes significantly (false discovery rate "
            f"{alpha:g}); the largest change: {words(rows[0])}."
            if rows
            else "No features."
        )
    if newly:
        verdict += " Newly relied on: " + ", ".join(r["feature"] for r in newly) + "."
    if dropped:
        verdict += " No longer used: " + ", ".join(r["feature"] for r in dropped) + "."
    top_new, top_base = features[int(np.argmax(s_new))], features[int(np.argmax(s_base))]
    if top_new != top_base:
        verdict += f" The most important feature changes from {top_base} to {top_new}."
    rule = (
        "Decision rule: a feature's share of the global attribution (mean absolute attribution "
        "over the explained rows, divided by the sum over features) is computed for both models "
        "on the same rows; the change new - baseline has a paired percentile bootstrap interval "
        f"over rows at {level}; p-values are Benjamini-Hochberg adjusted over the features. "
        f"'warning' when a feature the baseline barely used (under {100 * BARELY_USED:g}% of "
        "its attribution) is significantly more relied on by the new model; else 'ok'."
    )
    return section(
        "Attribution shift",
        verdict,
        status="warning" if newly else "ok",
        metrics={
            "features with a significant change": len(sig),
            "newly relied on": len(newly),
            "explained rows": n,
            "method new": exp_new.method,
            "method baseline": exp_base.method,
        },
        tables=[
            table(
                "Share of the attribution (new - baseline), largest changes first",
                [
                    "feature",
                    "baseline",
                    "new",
                    "change",
                    "CI low",
                    "CI high",
                    "adjusted p",
                    "rank baseline",
                    "rank new",
                ],
                [
                    [
                        r["feature"],
                        r["share_baseline"],
                        r["share_new"],
                        r["change"],
                        r["ci_low"],
                        r["ci_high"],
                        r["p_adjusted"],
                        r["rank_baseline"],
                        r["rank_new"],
                    ]
                    for r in rows
                ],
            )
        ],
        figures=[
            figure(
                "errorbar",
                f"Change of each feature's share of the attribution (new - baseline) with its "
                f"{level} interval.",
                labels=[r["feature"] for r in rows[:15]],
                values=[r["change"] for r in rows[:15]],
                lo=[r["ci_low"] for r in rows[:15]],
                hi=[r["ci_high"] for r in rows[:15]],
                reference=0.0,
                xlabel="share change",
            )
        ],
        data={
            "rule": rule,
            "features": rows,
            "newly_relied_on": [r["feature"] for r in newly],
            "no_longer_used": [r["feature"] for r in dropped],
        },
    )


def _ranks(share: np.ndarray) -> np.ndarray:
    """1 for the largest share."""
    order = np.argsort(-share, kind="stable")
    ranks = np.empty(share.size, dtype=np.int64)
    ranks[order] = np.arange(1, share.size + 1)
    return ranks


# -- fairness deltas ------------------------------------------------------------------------


def _p(p: float) -> str:
    """A p-value as text; below 1e-16 (where doubles stop resolving it) as a bound."""
    return "< 1e-16" if p < 1e-16 else f"= {p:.2g}"


#: an association this strong (Cramér's V or the correlation ratio) makes a feature a proxy
PROXY_STRENGTH = 0.1


def new_proxies(
    X: np.ndarray, names: list[str], sensitive: Any, relied_more: list[str], *, alpha: float
) -> list[dict[str, Any]]:
    """Features the new model relies on more that are associated with a sensitive attribute.

    For each (feature, attribute): Cramér's V with a chi-square test for a feature with at
    most 12 distinct values, else the correlation ratio with a one-way ANOVA (rows where the
    feature is missing left out); p-values Holm-adjusted over all pairs. A proxy: adjusted
    p <= ``alpha`` and strength >= :data:`PROXY_STRENGTH`.
    """
    from assay.fairness._compare import adjust_pvalues
    from assay.fairness._proxy import _correlation_ratio, _cramers_v

    tests = []
    for f in relied_more:
        x = X[:, names.index(f)].astype(np.float64)
        ok = np.isfinite(x)
        for col in sensitive.columns:
            _, s = np.unique(sensitive[col].astype(str).to_numpy()[ok], return_inverse=True)
            n_s = int(s.max()) + 1 if s.size else 0
            if n_s < 2:
                continue
            xs = x[ok]
            if np.unique(xs).size <= 12:
                strength, p, _ = _cramers_v(xs, s, n_s)
                measure = "Cramér's V"
            else:
                strength, p, _ = _correlation_ratio(xs, s, n_s)
                measure = "correlation ratio"
            tests.append({"feature": f, "attribute": str(col), "measure": measure,
                          "strength": float(strength), "p_value": float(p)})  # fmt: skip
    p_adj = adjust_pvalues(np.array([t["p_value"] for t in tests]), "holm") if tests else []
    for t, pa in zip(tests, p_adj, strict=True):
        t["p_adjusted"] = float(pa)
    return [t for t in tests if t["p_adjusted"] <= alpha and t["strength"] >= PROXY_STRENGTH]


def fairness_section(
    sensitive: Any,
    new: Side,
    base: Side,
    y_idx: np.ndarray | None,
    *,
    loss_name: str,
    alpha: float,
    tolerance: float = 0.1,
    min_rows: int = 10,
    proxies: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Per sensitive group: paired change of the loss (and of accuracy and the positive rate for
    classifiers), Holm-adjusted over all groups; a rise beyond the margin (``tolerance`` x the
    baseline's mean loss over all rows) is tested too."""
    from assay.fairness._compare import adjust_pvalues

    rows: list[dict[str, Any]] = []
    small: list[str] = []
    diff = new.loss - base.loss
    margin = tolerance * float(base.loss.mean())
    for col in sensitive.columns:
        values = sensitive[col].astype(str).to_numpy()
        for g in sorted(set(values.tolist())):
            m = values == g
            if m.sum() < min_rows:
                small.append(f"{col} = {g} ({int(m.sum())} rows)")
                continue
            res = paired_mean(diff[m], alpha)
            r = {
                "attribute": str(col),
                "group": g,
                "n": int(m.sum()),
                "loss_new": float(new.loss[m].mean()),
                "loss_baseline": float(base.loss[m].mean()),
                **{f"loss_{k}": v for k, v in res.items() if k != "n"},
                "p_beyond_margin": p_above(diff[m], margin),
            }
            if y_idx is not None:
                r["accuracy_change"] = float(
                    np.mean(new.decision[m] == y_idx[m]) - np.mean(base.decision[m] == y_idx[m])
                )
                if new.out.shape[1] == 2:
                    r["positive_rate_change"] = float(
                        np.mean(new.decision[m] == 1) - np.mean(base.decision[m] == 1)
                    )
            rows.append(r)
    p_adj = adjust_pvalues(np.array([r["loss_p_value"] for r in rows]), "holm") if rows else []
    p_margin = (
        adjust_pvalues(np.array([r["p_beyond_margin"] for r in rows]), "holm") if rows else []
    )
    for r, pa, pm in zip(rows, p_adj, p_margin, strict=True):
        r["p_adjusted"] = float(pa)
        r["p_beyond_margin_adjusted"] = float(pm)
        if pm <= alpha:
            r["change"] = "worse off beyond the margin"
        elif pa > alpha:
            r["change"] = "no significant change"
        else:
            r["change"] = "worse off" if r["loss_estimate"] > 0 else "better off"
    beyond = [r for r in rows if r["change"] == "worse off beyond the margin"]
    worse = [r for r in rows if r["change"].startswith("worse off")]
    better = [r for r in rows if r["change"] == "better off"]

    def words(r: dict[str, Any]) -> str:
        return (
            f"{r['attribute']} = {r['group']} ({loss_name} {r['loss_baseline']:.3g} -> "
            f"{r['loss_new']:.3g}, {_signed(r['loss_estimate'])}, adjusted p "
            f"{_p(r['p_adjusted'])})"
        )

    if beyond:
        verdict = (
            f"Groups whose {loss_name} rises by more than the margin {margin:.3g}: "
            + "; ".join(map(words, beyond))
            + "."
        )
        rest = [r for r in worse if r not in beyond]
        if rest:
            verdict += " Also worse off, within the margin: " + "; ".join(map(words, rest)) + "."
    elif worse:
        verdict = (
            "Groups worse off with the new model, within the margin "
            f"{margin:.3g}: " + "; ".join(map(words, worse)) + "."
        )
    else:
        verdict = (
            f"No sensitive group is significantly worse off with the new model (at {alpha:g})."
        )
    if better:
        verdict += " Better off: " + "; ".join(map(words, better[:4])) + "."
    proxies = proxies or []
    if proxies:
        verdict += " New proxies (features the new model relies on more, associated with a " + (
            "sensitive attribute): "
            + "; ".join(
                f"{t['feature']} ~ {t['attribute']} ({t['measure']} {t['strength']:.2f}, "
                f"adjusted p {_p(t['p_adjusted'])})"
                for t in proxies[:4]
            )
            + "."
        )
    if small:
        verdict += f" Not tested (under {min_rows} rows): " + ", ".join(small[:5]) + "."
    rule = (
        f"Decision rule: within each sensitive group the per-row {loss_name} difference (new - "
        "baseline) has a paired t interval and test; p-values are Holm-adjusted over all groups "
        f"of all attributes. 'alert' when a group's mean {loss_name} rises by more than the margin "
        f"({tolerance:g} times the baseline's mean over all rows, {margin:.3g}; one-sided, "
        f"Holm-adjusted, at {alpha:g}); 'warning' when a group is significantly worse off but "
        "not beyond the margin, or when a feature the new model relies significantly more on "
        f"(see 'Attribution shift') is associated with a sensitive attribute (strength >= "
        f"{PROXY_STRENGTH:g}, Holm-adjusted p <= {alpha:g}); else 'ok'."
    )
    cols = [
        "attribute",
        "group",
        "rows",
        f"{loss_name} baseline",
        f"{loss_name} new",
        "change",
        "CI low",
        "CI high",
        "adjusted p",
        "verdict",
    ]
    extra = [c for c in ("accuracy_change", "positive_rate_change") if rows and c in rows[0]]
    return section(
        "Fairness deltas",
        verdict,
        status="alert" if beyond else "warning" if worse or proxies else "ok",
        metrics={
            "groups tested": len(rows),
            "groups worse off": len(worse),
            "beyond the margin": len(beyond),
            "groups better off": len(better),
        },
        tables=[
            table(
                "Per group (new - baseline)",
                cols + [c.replace("_", " ") for c in extra],
                [
                    [
                        r["attribute"],
                        r["group"],
                        r["n"],
                        r["loss_baseline"],
                        r["loss_new"],
                        r["loss_estimate"],
                        r["loss_ci_low"],
                        r["loss_ci_high"],
                        r["p_adjusted"],
                        r["change"],
                        *[r[c] for c in extra],
                    ]
                    for r in rows
                ],
            )
        ],
        data={
            "rule": rule,
            "groups": to_jsonable(rows),
            "not_tested": small,
            "new_proxies": to_jsonable(proxies),
        },
    )
