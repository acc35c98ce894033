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
The figure assumes the search ranks the slice first; a slice the search misses, or ranks
lower, needs a larger effect (``benchmarks/validity_slices.py`` measures how close it is).
Continuous losses use Welch's z with the overall standard deviation on both sides.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr, ndtri

__all__ = ["detectable"]


def _power(share: float, lift: float, *, n_conf: float, base: float, sd: float | None,
           level: float, halves: int) -> float:  # fmt: skip
    """Probability of confirming a slice (share of rows, lift over the other rows)."""
    n_in, n_out = share * n_conf, (1.0 - share) * n_conf
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
        return 1.0 if inside > out else 0.0
    pi = float(ndtr((inside - out - z * se0) / se1))
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

    Returns
    -------
    dict
        ``power``, ``level``, ``lift_at_share`` (share -> smallest lift over the other rows
        confirmed with that power, None if no lift is), ``min_share_at_lift`` (the smallest
        share at ``lift``, None if none up to 50%), ``lift``, ``assumes`` (text).

    Examples
    --------
    >>> d = detectable(n_conf=200, base=0.2, sd=None, level=0.01, halves=2)
    >>> round(d["lift_at_share"]["0.2"], 2) > 1
    True
    """
    kw = {"n_conf": float(n_conf), "base": float(base), "sd": sd, "level": float(level),
          "halves": int(halves)}  # fmt: skip
    lifts: dict[str, float | None] = {}
    ok = base > 0 and np.isfinite(base) and n_conf >= 4
    for s in shares:
        if not ok:
            lifts[f"{s:g}"] = None
            continue
        hi = 1.0 / base if sd is None else 1e3  # p_in <= 1 needs lift <= 1 / base roughly
        hi = max(hi, 1.0 + 1e-6)
        x = _solve(lambda L, s=s: _power(s, L, **kw), 1.0, hi, power)
        lifts[f"{s:g}"] = None if x is None else float(x)
    share = None
    if ok:
        x = _solve(lambda s: _power(s, lift, **kw), 1e-4, 0.5, power)
        share = None if x is None else float(x)
    return {
        "power": power,
        "level": float(level),
        "lift_at_share": lifts,
        "lift": lift,
        "min_share_at_lift": share,
        "assumes": (
            "lift = the slice's mean metric over that of the other rows, the overall mean held "
            f"at {base:.3g}; normal approximation of the one-sided test at level {level:.2g} "
            f"that a top-ranked candidate faces, {n_conf} confirmation rows"
            + (", confirmed in either of two halves" if halves == 2 else "")
            + "; assumes the search ranks the slice first."
        ),
    }


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
    else:
        head = (
            f"with {n_rows} rows no slice of up to 50% of rows with {times} the {metric} of the "
            f"other rows would be found {p}% of the time"
        )
    parts = [f"{100 * float(k):.0f}% of rows: x{v:.2g}" for k, v in d["lift_at_share"].items()
             if v is not None]  # fmt: skip
    if parts:
        head += f" (lift needed at share {', '.join(parts)})"
    return head
