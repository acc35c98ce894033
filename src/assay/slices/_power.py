"""What a slice search on ``n`` rows could have confirmed: the detectable slice at a given power.

"No slice confirmed" is only informative next to what the data could have shown. For a slice
covering a share ``s`` of the rows whose error rate is ``L`` times that of the other rows (the
overall rate held at its observed value), the one-sided two-proportion z-test on the
confirmation rows at the level a top-ranked candidate faces has power

    Phi((d - z_level * se0) / se1),   d = p_in - p_out,

with ``se0`` the standard error under the null (pooled rate) and ``se1`` under the
alternative (the usual normal-approximation power of Fisher's exact test). Under cross-fitting
each half confirms the slice the other half found; the two confirmation tests use disjoint
rows, so a slice found in both halves is confirmed with probability ``1 - (1 - pi)^2``.
The search must also find the slice: its z-score on the discovery rows (the search score,
about normal with unit variance) must beat the best score the search reaches on the same
rows with the errors permuted (``z_null``, measured by ``find_slices``); the power per half
is the product of the two probabilities. ``benchmarks/validity_slices.py`` compares the
prediction with simulation.
Continuous losses use Welch's z with the overall standard deviation on both sides.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr, ndtri

__all__ = ["detectable"]


def _power(share: float, lift: float, *, n_conf: float, base: float, sd: float | None,
           level: float, halves: int, z_null: float | None = None,
           n_disc: float | None = None) -> float:  # fmt: skip
    """Probability of confirming a slice (share of rows, lift over the other rows)."""
    n_in, n_out = share * n_conf, (1.0 - share) * n_conf
    found = 1.0
    if z_null is not None:
        # discovery: the slice's search z-score must beat the best one on null data
        spread = math.sqrt(base * (1 - base)) if sd is None else sd
        out0 = base / (share * lift + 1.0 - share)
        nd = share * (n_disc if n_disc is not None else n_conf)
        mu = math.sqrt(nd) * (lift * out0 - base) / spread if spread > 0 else 0.0
        found = float(ndtr(mu - z_null))
    if n_in < 2 or n_out < 2:
        return 0.0
    out = base / (share * lift + 1.0 - share)
    inside = lift * out
    z = -float(ndtri(level))
    if sd is None:  # 0/1 errors
        if inside > 1.0:
            return 0.0
        pooled = base
        se0 = math.sqrt(pooled * (1 - pooled) * (1 / n_in + 1 / n_out))
        se1 = math.sqrt(inside * (1 - inside) / n_in + out * (1 - out) / n_out)
    else:
        se0 = se1 = sd * math.sqrt(1 / n_in + 1 / n_out)
    if se1 <= 0:
        return found if inside > out else 0.0
    pi = found * float(ndtr((inside - out - z * se0) / se1))
    return 1.0 - (1.0 - pi) ** halves


def _solve(f, lo: float, hi: float, target: float) -> float | None:
    """Smallest x in [lo, hi] with increasing f(x) >= target (bisection), None if f(hi) < target."""
    if f(hi) < target:
        return None
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if f(mid) >= target:
            hi = mid
        else:
            lo = mid
    return hi


def detectable(
    *,
    n_conf: int,
    base: float,
    sd: float | None,
    level: float,
    halves: int,
    power: float = 0.8,
    shares: tuple[float, ...] = (0.05, 0.1, 0.2),
    lift: float = 2.0,
    z_null: float | None = None,
    n_disc: int | None = None,
) -> dict:
    """The smallest slice a search with ``n_conf`` confirmation rows per half would confirm.

    Parameters
    ----------
    n_conf : int
        Confirmation rows of one direction (half the rows under cross-fitting).
    base : float
        Overall mean of the metric (error rate for 0/1 errors).
    sd : float or None
        Standard deviation of a continuous loss; None for 0/1 errors.
    level : float
        One-sided test level that the top-ranked candidate faces.
    halves : int
        Number of independent confirmations (2 under cross-fitting, else 1).
    power, shares, lift
        Target power; slice shares for which the detectable lift is computed; the lift for
        which the smallest detectable share is computed.
    z_null, n_disc : float and int, optional
        The best search z-score on the discovery rows with the errors permuted (what noise
        reaches), and the discovery rows: the slice must also be found, i.e. its discovery
        z-score (normal, unit variance) must exceed ``z_null``.

    Returns
    -------
    dict
        ``power``, ``level``, ``lift_at_share`` (share -> smallest lift over the other rows
        confirmed with that power if the search ranks the slice first, None if no lift is),
        ``min_share_at_lift`` (the smallest such share at ``lift``, None if none up to 50%),
        ``lift``; with ``z_null``, the same two also counting the search's own noise
        (``lift_at_share_with_search``, ``min_share_at_lift_with_search``); the truth lies
        between (``benchmarks/validity_slices.py``); ``assumes`` (text).

    Examples
    --------
    >>> d = detectable(n_conf=200, base=0.2, sd=None, level=0.01, halves=2)
    >>> round(d["lift_at_share"]["0.2"], 2) > 1
    True
    """
    base_kw = {"n_conf": float(n_conf), "base": float(base), "sd": sd, "level": float(level),
               "halves": int(halves)}  # fmt: skip
    ok = base > 0 and np.isfinite(base) and n_conf >= 4

    def solve(kw: dict) -> tuple[dict[str, float | None], float | None]:
        lifts: dict[str, float | None] = {}
        for s in shares:
            if not ok:
                lifts[f"{s:g}"] = None
                continue
            hi = max(1.0 / base if sd is None else 1e3, 1.0 + 1e-6)  # p_in <= 1
            x = _solve(lambda L, s=s: _power(s, L, **kw), 1.0, hi, power)
            lifts[f"{s:g}"] = None if x is None else float(x)
        share = None
        if ok:
            x = _solve(lambda s: _power(s, lift, **kw), 1e-4, 0.5, power)
            share = None if x is None else float(x)
        return lifts, share

    lifts, share = solve(base_kw)
    out = {
        "power": power,
        "level": float(level),
        "lift": lift,
        "lift_at_share": lifts,
        "min_share_at_lift": share,
        "z_null": z_null,
        "lift_at_share_with_search": None,
        "min_share_at_lift_with_search": None,
    }
    if z_null is not None:
        lifts_s, share_s = solve({**base_kw, "z_null": z_null, "n_disc": n_disc})
        out["lift_at_share_with_search"] = lifts_s
        out["min_share_at_lift_with_search"] = share_s
    out["assumes"] = (
        "lift = the slice's mean metric over that of the other rows, the overall mean held at "
        f"{base:.3g}; normal approximation of the one-sided test at level {level:.2g} that a "
        f"top-ranked candidate faces, {n_conf} confirmation rows"
        + (", confirmed in either of two halves" if halves == 2 else "")
        + ". lift_at_share / min_share_at_lift assume the search ranks the slice first (an "
        "optimistic bound: smaller or weaker slices are found less than "
        f"{100 * power:.0f}% of the time)"
        + (
            "; the *_with_search figures also require the slice's discovery z-score to beat "
            f"{z_null:.2f}, the best the search reaches on these rows with permuted errors (a "
            "pessimistic figure)"
            if z_null is not None
            else ""
        )
        + "."
    )
    return out


def sentence(d: dict, *, n_rows: int, metric: str = "error rate") -> str:
    """One readable sentence: what this ``n`` could have found."""
    p = round(100 * d["power"])
    s = d["min_share_at_lift"]
    lift = d["lift"]
    times = "twice" if lift == 2 else f"{lift:g} times"
    if s is not None:
        head = (
            f"with {n_rows} rows only a slice of >= {100 * s:.0f}% of rows with {times} the "
            f"{metric} of the other rows would be found {p}% of the time"
        )
        s2 = d.get("min_share_at_lift_with_search")
        if d.get("z_null") is not None:
            head += " (at best, if the search ranks it first; counting the search's own noise, "
            head += f">= {100 * s2:.0f}%)" if s2 is not None else "none up to 50%)"
    else:
        head = (
            f"with {n_rows} rows no slice of up to 50% of rows with {times} the {metric} of the "
            f"other rows would be found {p}% of the time"
        )
    parts = [f"x{v:.2g} at {100 * float(k):.0f}% of rows"
             for k, v in d["lift_at_share"].items() if v is not None]  # fmt: skip
    if parts:
        head += f"; lift needed: {', '.join(parts)}"
    return head
