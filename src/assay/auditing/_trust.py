"""Audit section: how far to trust the attributions (``assay.trust.assess``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.auditing._section import figure, section, table

__all__ = ["trust_section"]

# cheap checks that apply to any attribution method; the others need inputs the audit lacks
# (a refit function, a torch model, reference attributions)
CHECKS = ("faithfulness", "seed_stability", "input_sensitivity", "off_manifold")


def trust_section(
    model: Any,
    exp: Any,
    X: np.ndarray,
    *,
    background: np.ndarray,
    n_rows: int = 60,
    seed: int | None,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Run the trust checks that apply on the first ``n_rows`` explained rows.

    ``model`` must be the user's model, not an adapter: ``assess`` wraps it in the
    explanation's output space (a probability adapter would check the wrong output).
    ``alpha`` is the level of the significance tests (the audit's). ``data["rule"]`` states
    the decision rules in one paragraph; a model that is itself sensitive to small input
    changes is reported in the verdict as a property of the model, not of the explanation.
    """
    from assay.trust import assess

    k = min(n_rows, exp.values.shape[0])
    sub = exp[:k]
    # the replay of removed features takes values from complete background rows: the trust
    # checks refuse NaN backgrounds even for models that accept missing values
    bg = background[~np.isnan(background).any(axis=1)]
    if bg.shape[0] < 10:
        bg = np.where(np.isnan(background), np.nanmedian(X, axis=0), background)
    output = exp.output_names[-1] if len(exp.output_names) > 1 else None
    res = assess(
        sub,
        model,
        X,
        background=bg,
        output=output,
        checks=CHECKS,
        n_random=5,
        sensitivity_perturbations=2,
        alpha=alpha,
        seed=seed,
    )
    rows = [[c.name, c.status, c.verdict] for c in res.checks]
    rows += [[name, "skipped", why] for name, why in res.skipped]
    worst = [c.name for c in res.checks if c.status == res.status and res.status != "ok"]
    if res.status == "ok":
        verdict = (
            f"The {exp.method} attributions pass every applicable trust check "
            f"({', '.join(c.name for c in res.checks)}) on {k} rows."
        )
    else:
        verdict = (
            f"Read the {exp.method} attributions with care: {', '.join(worst)} "
            f"{'raises an alert' if res.status == 'alert' else 'warns'} "
            f"({len(res.checks)} checks on {k} rows). " + res[worst[0]].verdict
        )
    sens = next((c for c in res.checks if c.name == "input_sensitivity"), None)
    if sens is not None and sens.result.model_sensitive and "input_sensitivity" not in worst:
        verdict += " " + sens.result.model_finding()
    figures = []
    faith = next((c for c in res.checks if c.name == "faithfulness"), None)
    if faith is not None:
        f = faith.result
        figures.append(
            figure(
                "line",
                "Deletion curve: mean model output as features are removed in order of their "
                "attribution (blue) against random orderings (shaded band). Lower is better.",
                x=[float(v) for v in f.fractions],
                y=[float(v) for v in f.deletion_curve],
                lo=np.min(f.random_deletion_curves, axis=0).tolist(),
                hi=np.max(f.random_deletion_curves, axis=0).tolist(),
                xlabel="share of features removed",
                ylabel=f"mean {exp.output_space}",
            )
        )
    return section(
        "How far to trust the attributions",
        verdict,
        status=res.status,
        metrics={c.name: c.status for c in res.checks},
        tables=[
            table("Trust checks", ["check", "status", "verdict"], rows),
            table("Decision rules", ["check", "rule"], [[c.name, c.rule] for c in res.checks]),
        ],
        figures=figures,
        data={**res.to_dict(), "rule": decision_rules(res, alpha)},
    )


def decision_rules(res: Any, alpha: float) -> str:
    """One paragraph: how each status of the trust section is decided."""
    parts = [
        f"Each check's status follows a stated rule (significance level alpha={alpha:g}); "
        "the section takes the most severe."
    ]
    parts += [c.rule for c in res.checks if c.rule]
    for name, why in res.skipped:
        parts.append(f"{name}: not run ({why}).")
    return " ".join(p if p.endswith(".") else p + "." for p in parts)
