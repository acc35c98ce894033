"""Report sections for evaluation trust: judge bias, contamination and format spread.

Each function turns an :mod:`assay.evals` result into the ``{title, verdict, status, metrics,
tables, figures, data}`` dict of :mod:`assay.auditing._section`; :func:`write_evals_report`
writes ``results.json`` and ``report.html`` with the audit's report machinery.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import numpy as np

from assay.auditing._section import figure, section, table

__all__ = [
    "contamination_section",
    "judge_section",
    "membership_section",
    "spread_section",
    "write_evals_report",
]

_LABELS = {
    "position": "position: first-slot share of flips - 0.5",
    "verbosity": "verbosity: win-rate change from padding",
    "self_preference": "self-preference: self-favouring minus self-disfavouring errors",
}


def _num(x: Any) -> Any:
    return None if x is None or (isinstance(x, float) and not np.isfinite(x)) else x


def judge_section(result: Any) -> dict[str, Any]:
    """The section of a :class:`~assay.evals.JudgeBiasResult`.

    Examples
    --------
    >>> from assay.evals import judge_bias
    >>> items = [{"question": "q", "answer_a": "a" * (i % 3 + 1), "answer_b": "b"}
    ...          for i in range(20)]
    >>> res = judge_bias(lambda q, a, b: "A", items, checks=("position",), seed=0)
    >>> judge_section(res)["status"]
    'alert'
    """
    checks = result.checks
    rows, names, est, lo, hi = [], [], [], [], []
    for name, chk in checks.items():
        rows.append([
            name, chk["status"], _num(chk["estimate"]), _num(chk["ci_low"]),
            _num(chk["ci_high"]), _num(chk.get("p_value")), chk["n"], chk["verdict"],
        ])  # fmt: skip
        if np.isfinite(chk["estimate"]):
            null, e = chk.get("null", 0.0), chk["estimate"]
            names.append(_LABELS.get(name, name))
            est.append(e - null)
            lo.append((chk["ci_low"] if np.isfinite(chk["ci_low"]) else e) - null)
            hi.append((chk["ci_high"] if np.isfinite(chk["ci_high"]) else e) - null)
    level = round((1 - result.params.get("alpha", 0.05)) * 100)
    figures = []
    if names:
        figures.append(
            figure(
                "errorbar",
                f"Each bias as a difference from what an unbiased judge gives (dashed: 0), with "
                f"{level}% intervals.",
                labels=names, values=est, lo=lo, hi=hi, reference=0.0, xlabel="bias",
            )
        )
    tables = [
        table(
            "Bias checks",
            ["check", "status", "estimate", "ci_low", "ci_high", "p_value", "n", "verdict"],
            rows,
        )
    ]
    sc = result.scores
    board = sc.get("leaderboard") or []
    if board:
        figures.append(
            figure(
                "errorbar",
                "Consistency-corrected win rate per author (both orders averaged), "
                f"{level}% intervals (dashed: 0.5).",
                labels=[str(r["author"]) for r in board],
                values=[r["win_rate"] for r in board],
                lo=[r["ci_low"] for r in board],
                hi=[r["ci_high"] for r in board],
                reference=0.5,
                xlabel="win rate",
            )
        )
        tables.append(
            table(
                "Leaderboard: consistency-corrected and raw (first order only) win rates",
                ["author", "win rate", "ci_low", "ci_high", "raw win rate", "pairs"],
                [[r[k] for k in ("author", "win_rate", "ci_low", "ci_high", "raw_win_rate", "n")]
                 for r in board],
            )
        )
    verdict = result.verdict or "No judge-bias check was run."
    if result.skipped:
        verdict += " Not run: " + "; ".join(f"{k} ({v})" for k, v in result.skipped.items()) + "."
    metrics: dict[str, Any] = {
        "pairs": result.params.get("n_items"),
        "judge calls": result.params.get("judge_calls"),
        "answer a win rate (corrected)": sc["win_rate_a"],
        "answer a win rate (a shown first)": sc["raw_win_rate_a"],
    }
    if "position" in checks:
        metrics["flip rate"] = checks["position"]["flip_rate"]
    return section(
        "Judge bias",
        verdict,
        status=result.status,
        metrics=metrics,
        tables=tables,
        figures=figures,
        data={
            "result": result.to_dict(),
            "rule": f"alert when a check's test is significant at alpha = "
            f"{result.params.get('alpha')}; self-preference without a quality reference is at "
            "most a warning (better answers also win more).",
        },
    )


def contamination_section(report: Any, *, examples: list[str] | None = None) -> dict[str, Any]:
    """The section of a :class:`~assay.evals.ContaminationReport` (from ``ngram_overlap``).

    Examples
    --------
    >>> from assay.evals import ngram_overlap
    >>> rep = ngram_overlap(["the cat sat on the mat today"], ["the cat sat on the mat today"],
    ...                     n=3)
    >>> contamination_section(rep)["status"]
    'alert'
    """
    n_ex = int(report.overlap.shape[0])
    n_cont = int(report.contaminated.sum())
    n_short = int(report.too_short.sum())
    p = report.params
    status = "alert" if n_cont else "ok"
    verdict = (
        f"{n_cont} of {n_ex} test examples ({n_cont / max(n_ex, 1):.0%}) share more than "
        f"{p.get('threshold', 0):.0%} of their {p.get('n')}-grams with the corpus"
        + (": scores on them may measure memory, not skill." if n_cont else ".")
    )
    if n_short:
        verdict += f" {n_short} examples are shorter than n words and could not be checked."
    order = np.argsort(-report.overlap)[:20]
    rows = [
        [
            int(i), float(report.overlap[i]), int(report.n_matched[i]), int(report.n_ngrams[i]),
            bool(report.contaminated[i]),
            (examples[i][:120] if examples is not None else ""),
        ]
        for i in order
    ]  # fmt: skip
    tables = [
        table(
            "Most-overlapping test examples",
            ["example", "overlap", "matched n-grams", "n-grams", "contaminated", "text"],
            rows,
        )
    ]
    metrics: dict[str, Any] = {
        "examples": n_ex, "contaminated": n_cont, "too short to check": n_short,
        "n": p.get("n"), "threshold": p.get("threshold"),
    }  # fmt: skip
    for key in ("expected_false_matches", "documents", "bytes_scanned", "corpus_ngrams"):
        if key in p:
            metrics[key.replace("_", " ")] = p[key]
    diff = report.metrics.get("difference") if report.metrics else None
    if diff and diff.get("estimate") is not None and np.isfinite(diff["estimate"]):
        metrics["score gap (contaminated - clean)"] = diff["estimate"]
        verdict += (
            f" Scores are {diff['estimate']:+.3f} higher on contaminated examples (CI "
            f"{diff['ci_low']:+.3f} to {diff['ci_high']:+.3f})."
        )
    hist, edges = np.histogram(report.overlap, bins=10, range=(0.0, 1.0))
    figures = [
        figure(
            "bar",
            "Test examples by share of their n-grams found in the corpus.",
            labels=[f"{a:.1f}-{b:.1f}" for a, b in itertools.pairwise(edges)],
            values=hist.tolist(),
        )
    ]
    return section(
        "Contamination",
        verdict,
        status=status,
        metrics=metrics,
        tables=tables,
        figures=figures,
        data={
            "result": report.to_dict(),
            "rule": "alert when any test example shares more than the threshold of its "
            "n-grams with the corpus.",
        },
    )


def membership_section(
    result: Any, *, examples: list[str] | None = None, label_source: str = "", alpha: float = 0.05
) -> dict[str, Any]:
    """The section of a :class:`~assay.evals.MembershipResult`.

    With labels, each score's AUROC (members vs non-members) is tested with a one-sided
    Mann-Whitney test; "warning" when the smallest p-value, Bonferroni-corrected over the scores,
    is below ``alpha``: the model tells the two groups apart, as it would if it had seen the
    members. Without labels the scores are listed, highest first, and the status is "ok".

    Examples
    --------
    >>> import numpy as np
    >>> from assay.evals import membership_scores
    >>> fn = lambda seqs: [np.full(len(s) - 1, -0.1 * s[0]) for s in seqs]
    >>> res = membership_scores(fn, [[1, 5, 6], [2, 7, 8], [8, 1, 2], [9, 3, 4]],
    ...                         labels=[1, 1, 0, 0], seed=0, n_bootstrap=100)
    >>> membership_section(res)["title"]
    'Membership inference'
    """
    names = list(result.scores)
    status, verdict = "ok", ""
    rows = []
    if result.metrics:
        ps = {n: result.metrics[n]["p_value"] for n in names}
        best = min(ps, key=ps.get)
        p_adj = min(1.0, ps[best] * len(ps))
        m = result.metrics[best]
        status = "warning" if p_adj < alpha else "ok"
        verdict = (
            f"Scored by the model, examples labelled as members ({label_source or 'labels'}) "
            f"rank above the others with AUROC {m['auroc']:.2f} (CI {m['auroc_ci_low']:.2f}-"
            f"{m['auroc_ci_high']:.2f}) by {best}; Bonferroni p = {p_adj:.2g}"
            + (": the model tells them apart, as it would if it had seen them." if status ==
               "warning" else ", no evidence that it tells them apart.")
        )  # fmt: skip
        rows = [
            [n, result.metrics[n]["auroc"], result.metrics[n]["auroc_ci_low"],
             result.metrics[n]["auroc_ci_high"], result.metrics[n]["tpr_at_5pct_fpr"],
             result.metrics[n]["p_value"]]
            for n in names
        ]  # fmt: skip
    else:
        verdict = (
            f"Membership scores ({', '.join(names)}) of {result.params.get('n_inputs')} "
            "examples; without member labels they rank examples but test nothing."
        )
    score = result.scores.get("min_k_pp", result.scores[names[0]])
    order = np.argsort(-score)[:20]
    top = [
        [int(i), *(float(result.scores[n][i]) for n in names),
         (examples[i][:120] if examples is not None else "")]
        for i in order
    ]  # fmt: skip
    tables = [table("Highest membership scores", ["example", *names, "text"], top)]
    if rows:
        tables.insert(
            0,
            table("Scores against member labels",
                  ["score", "AUROC", "ci_low", "ci_high", "TPR at 5% FPR", "p_value"], rows),
        )  # fmt: skip
    return section(
        "Membership inference",
        verdict,
        status=status,
        metrics={"examples": result.params.get("n_inputs")},
        tables=tables,
        data={
            "result": result.to_dict(),
            "rule": "warning when the best score's one-sided Mann-Whitney p-value, "
            f"Bonferroni-corrected over {len(names)} scores, is below {alpha}.",
        },
    )


def spread_section(result: Any) -> dict[str, Any]:
    """The section of a :class:`~assay.evals.FormatSpreadResult`.

    Examples
    --------
    >>> from assay.evals import format_spread
    >>> exs = [{"Q": str(i), "A": ""} for i in range(20)]
    >>> res = format_spread(lambda p: [len(x) % 2 for x in p], exs, seed=0)
    >>> spread_section(res)["title"]
    'Format spread'
    """
    verdicts, rows, figures = [], [], []
    status = "ok"
    for m, name in enumerate(result.model_names):
        lo, hi = result.spread_ci_low[m], result.spread_ci_high[m]
        big = np.isfinite(lo) and lo > 0
        status = "warning" if big else status
        verdicts.append(
            f"{name}: the score moves by {result.spread[m]:.3f} across prompt formats (CI "
            f"{lo:.3f}-{hi:.3f}; best format {int(result.best[m])}, worst "
            f"{int(result.worst[m])})" + ("; report it with the score." if big else ".")
        )
        acc = result.accuracy[m]
        done = np.flatnonzero(np.isfinite(acc))
        order = done[np.argsort(-acc[done])]
        figures.append(
            figure(
                "errorbar",
                f"{name}: mean score per prompt format, best first (intervals per format).",
                labels=[f"format {int(i)}" for i in order],
                values=acc[order].tolist(),
                lo=np.nan_to_num(result.ci_low[m][order], nan=0.0).tolist(),
                hi=np.nan_to_num(result.ci_high[m][order], nan=1.0).tolist(),
                xlabel="mean score",
            )
        )
        rows.extend(
            [name, int(i), float(acc[i]), str(result.formats[i])] for i in order[:30]
        )
    return section(
        "Format spread",
        " ".join(verdicts),
        status=status,
        metrics={
            f"{name} spread": float(result.spread[m]) for m, name in enumerate(result.model_names)
        },
        tables=[table("Score per format", ["model", "format", "score", "choices"], rows)],
        figures=figures,
        data={
            "result": result.to_dict(),
            "rule": "warning when the spread's interval excludes 0: the score depends on the "
            "prompt format.",
        },
    )


def write_evals_report(
    sections: dict[str, dict[str, Any]],
    out_dir: str | os.PathLike[str],
    *,
    meta: dict[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write ``out_dir/results.json`` and ``out_dir/report.html`` for evaluation sections."""
    from assay.auditing._result import AuditResult
    from assay.report import write_report

    meta = {"model": "", "n_rows": 0, "n_features": 0, "seed": None, **(meta or {})}
    result = AuditResult(sections=dict(sections), meta=meta)
    out = Path(out_dir)
    results = result.save(out / "results.json")
    html = write_report(result, out / "report.html")
    return results, html
