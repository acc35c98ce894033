"""Audit sections built from merged sufficient statistics (all rows of a Dask DataFrame)."""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.auditing._calibration import EXACT_ROWS, _gap
from assay.auditing._section import figure, section, table

__all__ = ["calibration_from_bins", "group_metrics_section", "performance_from_stats"]

MIN_GROUP_ROWS = 10  # as the fairness section: smaller groups are listed and left out


def calibration_from_bins(
    bins: tuple[np.ndarray, ...], *, n_simulations: int = 999, seed: int | None = 0
) -> dict[str, Any]:
    """:func:`assay.auditing._calibration.calibration_test` from per-bin sums (large data):
    the same statistic and the same simulated null (bin sums drawn from their normal
    approximation), so the numbers equal the in-memory test's on the same rows."""
    counts, obs, pred, var = (np.asarray(b, dtype=np.float64) for b in bins)
    keep = counts > 0
    counts, obs, pred, var = counts[keep], obs[keep], pred[keep], var[keep]
    gap = float(_gap(obs, pred, counts))
    rng = np.random.default_rng(seed)
    draws = pred + rng.standard_normal((n_simulations, counts.size)) * np.sqrt(var)
    null = _gap(draws, pred, counts)
    return {
        "gap": gap,
        "p_value": float((1 + np.sum(null >= gap - 1e-12)) / (n_simulations + 1)),
        "null_median_gap": float(np.median(null)),
        "observed": (obs / counts).tolist(),
        "predicted": (pred / counts).tolist(),
        "counts": counts.astype(int).tolist(),
        "n_simulations": int(n_simulations),
        "method": "bin sums drawn from their normal approximation under the model's probabilities",
    }


def performance_from_stats(
    stats: dict[str, Any],
    *,
    cal: dict[str, Any] | None,
    auc_bound: float,
    alpha: float,
) -> dict[str, Any]:
    """The performance section (as :func:`performance_section`) from all rows' statistics."""
    n = int(stats["n"])
    sums = stats["sums"]
    if stats["task"] == "binary":
        task = "binary classification"
        audited = {
            "AUC": stats["auc"],
            "accuracy": sums["correct"] / n,
            "Brier score": sums["sq_error"] / n,
            "base rate": sums["pos"] / n,
        }
    elif stats["task"] == "classification":
        task, audited = "classification", {"accuracy": sums["correct"] / n}
    else:
        _, _, m2 = stats["target"]
        task = "regression"
        audited = {
            "RMSE": float(np.sqrt(sums["sq_error"] / n)),
            "R²": float(1 - sums["sq_error"] / m2) if n > 1 and m2 > 0 else float("nan"),
        }
    metrics: dict[str, Any] = {"task": task, "rows": n, **audited}
    data: dict[str, Any] = {"task": task, "audited": audited}
    figures, status, extra = [], "ok", "."
    rule = "Performance is descriptive; it raises no alert."
    if stats["task"] == "binary":
        data["auc_error_bound"] = auc_bound
        data["auc_method"] = (
            "exact: Mann-Whitney count over the merged table of distinct scores"
            if auc_bound == 0 else
            "scores merged on a grid of 2^24 cells on [0, 1]; the AUC is within "
            f"{auc_bound:.2g} of the exact value (pairs inside one cell counted one half)"
        )  # fmt: skip
    if cal is not None:
        data["calibration"] = cal
        metrics["calibration gap"] = cal["gap"]
        metrics["calibration p-value"] = cal["p_value"]
        gap, p = cal["gap"], cal["p_value"]
        if p < alpha:
            status = "warning"
            extra = (
                f"; mean calibration gap {gap:.3f} across predicted-risk bins is larger than a "
                f"perfectly calibrated model shows on {n:,} rows (p = {p:.2g}): check "
                "calibration."
            )
        else:
            extra = (
                f"; mean calibration gap {gap:.3f} across predicted-risk bins is within what a "
                f"perfectly calibrated model shows on {n:,} rows (p = {p:.2g}; typical gap "
                f"{cal['null_median_gap']:.3f}): no evidence of miscalibration."
            )
        rule = (
            "Calibration: the mean absolute gap between observed and predicted rates over ten "
            "quantile bins of predicted risk, tested against its distribution when outcomes are "
            f"drawn from the model's own probabilities ({cal['n_simulations']} simulations); "
            f"warning when p < {alpha:g}. Other metrics are descriptive."
        )
        figures.append(figure(
            "calibration",
            "Observed rate against mean predicted probability, by bin of predicted risk.",
            x=cal["predicted"], y=cal["observed"],
        ))  # fmt: skip
    data["rule"] = rule
    shown = [k for k, v in audited.items() if isinstance(v, float)]
    verdict = f"On all {n:,} rows: " + ", ".join(
        f"{k} {audited[k]:.3f}" if k != "RMSE" else f"RMSE {audited[k]:.4g}" for k in shown
    )
    return section(
        "Performance", verdict + extra, status=status, metrics=metrics, figures=figures,
        data=data,
    )  # fmt: skip


def _rate_items(g: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """(successes, rows the rate is a share of) for each rate of a binary classifier."""
    n, pos, dec = g["n"], g["n_pos"], g["n_dec"]
    return {
        "base_rate": (pos, n),
        "selection_rate": (dec, n),
        "true_positive_rate": (g["tp"], pos),
        "false_positive_rate": (g["fp"], n - pos),
        "precision": (g["tp"], dec),
        "accuracy": (g["correct"], n),
    }


def _mean_ci(m: tuple[float, float, float], alpha: float) -> tuple[float, float]:
    from scipy import stats

    n, mean, m2 = m
    if n < 2:
        return float("nan"), float("nan")
    se = float(np.sqrt(m2 / (n - 1)) / np.sqrt(n))
    t = float(stats.t.ppf(1.0 - alpha / 2.0, n - 1))
    return mean - t * se, mean + t * se


def _welch(a: tuple[float, ...], b: tuple[float, ...], alpha: float) -> tuple[float, ...]:
    from scipy import stats

    (n1, m1, s1), (n2, m2, s2) = a, b
    d = float(m1 - m2)
    va, vb = s1 / (n1 - 1) / n1, s2 / (n2 - 1) / n2
    se = float(np.sqrt(va + vb))
    if se == 0.0:
        return d, d, d
    df = (va + vb) ** 2 / (va * va / (n1 - 1) + vb * vb / (n2 - 1))
    t = float(stats.t.ppf(1.0 - alpha / 2.0, df))
    return d, d - t * se, d + t * se


def _values(task: str, groups: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """metric -> group -> (kind, statistic) for the metrics the fairness section tests."""
    out: dict[str, dict[str, Any]] = {}
    for label, g in groups.items():
        if task == "binary":
            items = {k: ("rate", v) for k, v in _rate_items(g).items()}
        elif task == "classification":
            items = {"accuracy": ("rate", (g["correct"], g["n"]))}
        else:
            items = {
                "mean_prediction": ("mean", g["prediction"]),
                "mean_absolute_error": ("mean", g["abs_error"]),
            }
        for metric, item in items.items():
            out.setdefault(metric, {})[label] = item
    return out


def group_tables(
    task: str, groups: dict[str, Any], alpha: float, order: list[str] | None = None
) -> tuple[list, list]:
    """(group rows, pair rows) as :meth:`GroupMetrics.compare` writes them in its ``groups``
    and ``pairs`` frames, from per-group counts or moments; no permutation tests."""
    from assay.fairness._compare import (
        katz_ratio_interval,
        newcombe_interval,
        wilson_interval,
    )

    group_rows, pair_rows = [], []
    labels = list(order) if order is not None else sorted(groups)
    for metric, per in _values(task, groups).items():
        keep = []
        for label in [g for g in labels if g in per]:
            kind, st = per[label]
            if kind == "rate":
                x, n = st
                if n < 1:
                    continue
                lo, hi = wilson_interval(x, n, alpha)
                value = x / n
            else:
                n, value = st[0], st[1]
                if n < 2:
                    continue
                lo, hi = _mean_ci(st, alpha)
            keep.append(label)
            group_rows.append({"metric": metric, "group": label, "n": int(n),
                               "value": float(value), "ci_low": lo, "ci_high": hi})  # fmt: skip
        if len(keep) < 2:
            continue
        a_pair = alpha / (len(keep) * (len(keep) - 1) // 2)
        for i, ga in enumerate(keep):
            for gb in keep[i + 1 :]:
                kind, sa = per[ga]
                _, sb = per[gb]
                if kind == "rate":
                    est, lo, hi = newcombe_interval(sa[0], sa[1], sb[0], sb[1], a_pair)
                    r, rlo, rhi = katz_ratio_interval(sa[0], sa[1], sb[0], sb[1], a_pair)
                    va, vb = sa[0] / sa[1], sb[0] / sb[1]
                else:
                    est, lo, hi = _welch(sa, sb, a_pair)
                    r = rlo = rhi = float("nan")
                    va, vb = sa[1], sb[1]
                pair_rows.append({"metric": metric, "group_a": ga, "group_b": gb,
                                  "value_a": float(va), "value_b": float(vb), "estimate": est,
                                  "ci_low": lo, "ci_high": hi, "ratio": r,
                                  "ratio_ci_low": rlo, "ratio_ci_high": rhi})  # fmt: skip
    return group_rows, pair_rows


def _tested_metrics(task: str) -> list[str]:
    """The rates the in-memory fairness section tests, in its order (none for regressors: a
    permutation test of a mean needs the rows, not their moments)."""
    from assay.auditing._fairness import BINARY_TESTED

    return {"binary": list(BINARY_TESTED), "classification": ["accuracy"]}.get(task, [])


def group_gap_tests_from_counts(
    task: str,
    groups: dict[str, Any],
    *,
    seed: int | None,
    n_permutations: int,
    order: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Permutation tests of the largest gap between groups for each tested rate, from per-group
    counts (multivariate hypergeometric shuffles), Holm-adjusted over the metrics.

    The draws follow :meth:`assay.fairness.GroupMetrics.compare` (one generator seeded with
    ``seed``, metrics in the fairness section's order, groups in ``order``), so the p-values
    are those of its sufficient-statistic path on the same counts.
    """
    from assay.fairness._compare import adjust_pvalues, rate_gap_permutation_test

    rng = np.random.default_rng(seed)
    per_metric = _values(task, groups)
    labels = list(order) if order is not None else sorted(groups)
    rows: list[dict[str, Any]] = []
    for metric in _tested_metrics(task):
        per = per_metric.get(metric, {})
        keep = [g for g in labels if g in per and per[g][1][1] >= 1]
        if len(keep) < 2:
            continue
        ones = np.array([per[g][1][0] for g in keep], dtype=np.float64)
        counts = np.array([per[g][1][1] for g in keep], dtype=np.float64)
        stat, p = rate_gap_permutation_test(ones, counts, n_permutations=n_permutations, rng=rng)
        means = ones / counts
        rows.append({
            "metric": metric, "n_groups": len(keep), "largest_gap": stat,
            "highest": keep[int(np.argmax(means))], "lowest": keep[int(np.argmin(means))],
            "p_value": p,
        })  # fmt: skip
    if rows:
        adj = adjust_pvalues(np.array([r["p_value"] for r in rows], dtype=np.float64), "holm")
        for r, a in zip(rows, adj, strict=True):
            r["p_adjusted"] = float(a)
    return rows


def group_metrics_section(
    task: str,
    groups: dict[str, Any],
    attr: str,
    *,
    alpha: float,
    seed: int | None = None,
    n_permutations: int | None = None,
    order: list[str] | None = None,
) -> dict[str, Any]:
    """Group metrics with intervals and, for rates, permutation tests on all rows (the proxy
    audit runs on the sample)."""
    from assay.auditing._fairness import N_PERMUTATIONS

    n_perm = N_PERMUTATIONS if n_permutations is None else int(n_permutations)
    labels = list(order) if order is not None else sorted(groups)
    sizes = {g: int(groups[g]["n"]) for g in labels}
    tiny = {g: n for g, n in sizes.items() if n < MIN_GROUP_ROWS}
    kept = {g: groups[g] for g in labels if g not in tiny}
    kept_order = [g for g in labels if g in kept]
    group_rows, pair_rows = group_tables(task, kept, alpha, order=kept_order)
    tests = group_gap_tests_from_counts(
        task, kept, seed=seed, n_permutations=n_perm, order=kept_order
    )
    adjusted = {t["metric"]: t["p_adjusted"] for t in tests}
    for p in pair_rows:
        p["p_adjusted"] = adjusted.get(p["metric"], float("nan"))
    headline = {"binary": "selection_rate", "classification": "accuracy"}.get(
        task, "mean_prediction"
    )
    pairs = [p for p in pair_rows if p["metric"] == headline]
    level = 1 - alpha
    parts = [f"{attr}: {len(sizes)} groups ({', '.join(f'{g}: {n:,}' for g, n in sizes.items())})"]
    if tiny:
        parts[0] += f"; {', '.join(tiny)} left out (fewer than {MIN_GROUP_ROWS} rows)"
    status = "ok"
    if pairs:
        widest = max(pairs, key=lambda p: abs(p["estimate"]))
        a, b, d = widest["group_a"], widest["group_b"], widest["estimate"]
        rel = f"{a} and {b} are equal" if d == 0 else (
            f"{a} is {'higher' if d > 0 else 'lower'} than {b} by {abs(d):.3f}")  # fmt: skip
        parts.append(
            f"{headline.replace('_', ' ')} {widest['value_a']:.3f} for {a} vs "
            f"{widest['value_b']:.3f} for {b}: {rel} ({level:.0%} simultaneous interval of "
            f"{a} - {b}: [{widest['ci_low']:.3f}, {widest['ci_high']:.3f}])"
        )
    if tests:
        significant = [t for t in tests if t["p_adjusted"] < alpha]
        family = f"permutation tests from all-row counts, Holm over {len(tests)} rates"
        if significant:
            status = "alert"
            parts.append(
                f"significant group gaps at alpha = {alpha:g} ({family}): " + ", ".join(
                    f"{t['metric'].replace('_', ' ')} (highest {t['highest']}, lowest "
                    f"{t['lowest']}, gap {t['largest_gap']:.3f}, adjusted p = "
                    f"{t['p_adjusted']:.2g})" for t in significant)
            )  # fmt: skip
        else:
            p_min = min(t["p_adjusted"] for t in tests)
            parts.append(
                f"no group gap is significant at alpha = {alpha:g} ({family}; smallest "
                f"adjusted p = {p_min:.2g})"
            )
        rule = (
            f"Permutation test of the largest gap between groups for each rate ("
            f"{', '.join(t['metric'] for t in tests)}), {n_perm} shuffles drawn from the "
            "per-group counts on every row (multivariate hypergeometric: the same null as "
            f"shuffling the rows), Holm-adjusted; status 'alert' when an adjusted p-value is "
            f"below alpha = {alpha:g}, else 'ok'. Per-group values with {level:g} Wilson "
            "intervals; pairwise differences with intervals simultaneous over the pairs "
            "(Bonferroni; Newcombe score) and Katz log ratios. The proxy audit is in the "
            "fairness section (sample)."
        )
    else:
        clear = [p for p in pairs if p["ci_low"] > 0 or p["ci_high"] < 0]
        if clear:
            status = "warning"
            parts.append(
                f"{len(clear)} of {len(pairs)} pairs of groups differ in "
                f"{headline.replace('_', ' ')} (interval excludes 0)"
            )
        elif pairs:
            parts.append(f"no pair's {headline.replace('_', ' ')} interval excludes 0")
        else:
            parts.append("fewer than two groups large enough to compare")
        rule = (
            f"Per-group values with {level:g} intervals (Wilson score for rates, t for means) "
            "and pairwise differences with intervals simultaneous over the pairs (Bonferroni; "
            "Newcombe score for rates, Welch for means) and Katz log ratios, all from per-group "
            f"counts or moments on every row. Status 'warning' when a pair's "
            f"{headline.replace('_', ' ')} interval excludes 0 (a permutation test of a mean "
            "needs the rows: the fairness section runs it on the sample)."
        )
    cols = ["metric", "group", "n", "value", "CI low", "CI high"]
    pcols = ["metric", "groups (a - b)", "a", "b", "difference a - b", "CI low", "CI high",
             "ratio a / b", "ratio CI low", "ratio CI high", "adjusted p"]  # fmt: skip
    tcols = ["metric", "groups", "largest gap", "highest", "lowest", "p", "adjusted p"]
    tables = [
        table("Group metrics", cols, [
            [r["metric"], r["group"], r["n"], r["value"], r["ci_low"], r["ci_high"]]
            for r in group_rows]),
        table("Differences between groups", pcols, [
            [p["metric"], f"{p['group_a']} - {p['group_b']}", p["value_a"], p["value_b"],
             p["estimate"], p["ci_low"], p["ci_high"], p["ratio"], p["ratio_ci_low"],
             p["ratio_ci_high"], p["p_adjusted"]] for p in pair_rows]),
    ]  # fmt: skip
    if tests:
        tables.append(table("Tests of the largest gap", tcols, [
            [t["metric"], t["n_groups"], t["largest_gap"], t["highest"], t["lowest"],
             t["p_value"], t["p_adjusted"]] for t in tests]))  # fmt: skip
    metrics: dict[str, Any] = {"groups": len(sizes), "rows": int(sum(sizes.values()))}
    if tests:
        metrics["smallest adjusted p (group gaps)"] = min(t["p_adjusted"] for t in tests)
    return section(
        "Group metrics (all rows)",
        "; ".join(parts) + ".",
        status=status,
        metrics=metrics,
        tables=tables,
        data={"attribute": attr, "group_sizes": sizes, "excluded_groups": tiny,
              "groups": group_rows, "pairs": pair_rows, "tests": tests, "rule": rule,
              "confidence_level": level, "n_permutations": n_perm, "seed": seed},
    )  # fmt: skip


def small_data_note(n: int) -> str:
    return (
        f"{n:,} rows: the calibration test draws outcomes row by row (at most {EXACT_ROWS:,} "
        "rows, gathered from the cluster)"
    )
