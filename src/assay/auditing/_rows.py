"""How many rows each audit section used, and why (``section["data"]["rows_used"]``).

Sections that need only a sample work on a bounded, seeded one, so that the audit's time and
memory stop growing with the data where more rows would not change the answer; the others use
every audited row. This module states, per section, which parts used how many rows::

    {"n_rows": 50000, "n_total": 1000000,
     "parts": [{"part": "search", "n_rows": 50000, "why": "..."}, ...],
     "statement": "search: 50,000 rows (...); confirmation: 1,000,000 rows (...)"}

``n_rows`` is the largest part.
"""

from __future__ import annotations

from typing import Any

__all__ = ["rows_used"]


def _parts(key: str, ctx: Any, section: dict[str, Any]) -> list[tuple[str, int, str]]:
    # each section's own module, imported only for that section (some may be absent)
    n = int(ctx.X.shape[0])
    n_explain = len(ctx.explain_rows)
    data = section.get("data", {})
    if key == "performance":
        from assay.auditing._performance import MAX_TRAIN_ROWS

        parts = [("metrics and calibration test", n, "every audited row")]
        if ctx.X_train is not None:
            n_train = int(ctx.X_train.shape[0])
            parts.append((
                "training-row comparison", min(n_train, MAX_TRAIN_ROWS),
                f"the training rows, a seeded sample of {MAX_TRAIN_ROWS:,} above that",
            ))  # fmt: skip
        return parts
    if key == "attributions":
        return [("explained rows", n_explain, "a seeded sample (n_explain); exact attributions "
                 f"against {len(ctx.background)} background rows")]  # fmt: skip
    if key == "trust":
        checked = min(60, n_explain)
        return [("checked explanations", checked, "the first explained rows (trust checks "
                 "re-run the model many times per row)")]  # fmt: skip
    if key == "glassbox":
        from assay.auditing._glassbox import MAX_ROWS as GAM_ROWS

        return [
            ("GAM fit", int(data.get("n_fit", 0)),
             f"{data.get('fitted_on', 'rows')}, a seeded sample of {GAM_ROWS:,} above that"),
            ("model vs GAM comparison", int(data.get("n_test", 0)),
             f"audited rows, a seeded sample of {GAM_ROWS:,} above that"),
        ]  # fmt: skip
    if key == "fairness":
        params = data.get("proxy_audit", {}).get("params", {})
        n_groups = sum(int(v) for v in data.get("group_sizes", {}).values())
        excluded = sum(int(v["rows"]) for v in data.get("excluded_groups", {}).values())
        return [
            ("group metrics and gap tests", n_groups - excluded,
             "every audited row of a group large enough to test (permutation tests from "
             "per-group counts)"),
            ("proxy associations", n_groups - excluded, "every such row (counts and means)"),
            ("proxy refits, repairs and flip test", int(params.get("n_rows_used", 0)),
             f"a seeded sample of at most {params.get('max_samples', 0):,} rows: the "
             "predictability test refits an auxiliary model 40 times"),
        ]  # fmt: skip
    if key == "slices":
        from assay.auditing._slices import DISCOVERY_ROWS

        params = data.get("params", {})
        searched = params.get("n_discovery_sampled") or [data.get("n_discovery", 0)]
        return [
            ("search", int(sum(searched)),
             f"each half of the rows searches a seeded sample of at most {DISCOVERY_ROWS:,} of "
             "its rows (discovery finds where to look; more rows add time, not slices)"),
            ("confirmation", int(data.get("n_confirmation", n)),
             "every audited row, each half testing what the other half found"),
        ]  # fmt: skip
    if key == "monotonicity":
        from assay.auditing._monotonicity import MAX_ROWS as MONO_ROWS

        pool = min(n, MONO_ROWS)
        pairs = section.get("metrics", {}).get("pairs checked", 0)
        return [("rows the pairs are drawn from", pool,
                 f"a seeded sample of {MONO_ROWS:,} above that; {pairs:,} pairs of rows "
                 "checked")]  # fmt: skip
    if key == "acquisition":
        from assay.auditing._acquisition import MAX_REFERENCE_ROWS

        return [
            ("rows valued", n_explain, "the explained rows (a seeded sample)"),
            ("reference rows", min(n, MAX_REFERENCE_ROWS),
             "plausible values come from their nearest neighbours; a seeded sample of "
             f"{MAX_REFERENCE_ROWS:,} above that"),
        ]  # fmt: skip
    return [("all", n, "every audited row")]


def rows_used(key: str, ctx: Any, section: dict[str, Any]) -> dict[str, Any]:
    """The rows a finished section used, part by part, with the reason and a sentence."""
    parts = _parts(key, ctx, section)
    return {
        "n_rows": max(p[1] for p in parts),
        "n_total": int(ctx.X.shape[0]),
        "parts": [{"part": p, "n_rows": int(m), "why": why} for p, m, why in parts],
        "statement": "; ".join(f"{p}: {m:,} rows ({why})" for p, m, why in parts),
    }
