"""A synthetic clinical cohort with planted, documented effects.

The data imitate a hospital cohort whose recorded one-year mortality carries the traps that
make models look right for the wrong reasons: treatment confounding (kidney failure and
asthma look protective), a policy discontinuity at age 65, a sensitive attribute that is not
a feature but leaks through proxies, an informatively missing lab value, and a small
subgroup where the outcome follows a different mechanism. Every effect is recorded in
``ClinicalData.truth`` so that explanation, fairness and slice-finding methods can be
checked against the answer.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from assay.errors import InvalidInputError

__all__ = ["ClinicalData", "load_clinical"]

TARGET_NAME = "mortality_1y"

FEATURE_NAMES = (
    "age",
    "sex",
    "income",
    "zip_region",
    "creatinine",
    "lactate",
    "asthma",
    "pneumonia",
    "diabetes",
    "systolic_bp",
    "heart_rate",
    "bmi",
)

# P(race == "B"); race "A" otherwise.
_SHARE_B = 0.4

# P(zip_region = k | race) for k = 0..9. Regions 0-5 are mostly group A, 6-9 mostly group B.
_ZIP_PROBS = {
    "A": (0.17, 0.17, 0.16, 0.15, 0.14, 0.11, 0.04, 0.03, 0.02, 0.01),
    "B": (0.01, 0.02, 0.02, 0.03, 0.04, 0.08, 0.20, 0.20, 0.20, 0.20),
}

# Median income in thousands of dollars per group; log-income has standard deviation 0.45.
_INCOME_MEDIAN = {"A": 58.0, "B": 36.0}
_INCOME_LOG_SD = 0.45

# Logit of the recorded outcome, outside the subgroup (see load_clinical's docstring).
_INTERCEPT = -2.7
_COEF = {
    "age": 0.035,  # per year, centred at 60
    "age_65_jump": 0.7,  # added when age >= 65
    "creatinine": 1.2,  # per mg/dL above 1.0, creatinine capped at 4.0
    "kidney_treatment": -1.7,  # added when creatinine >= 2.0
    "lactate": 0.8,  # per mmol/L above 1.5, on the true (partly unobserved) lactate
    "pneumonia": 1.0,
    "asthma": 0.2,
    "asthma_x_pneumonia": -1.5,  # added when asthma == 1 and pneumonia == 1
    "diabetes": 0.3,
    "sex": -0.2,  # female (sex == 1)
    "systolic_bp": -0.015,  # per mmHg, centred at 130
    "heart_rate": 0.02,  # per beat/min, centred at 85
    "bmi": 0.02,  # per kg/m^2, centred at 28
    "log_income": -0.3,  # per unit of log(income / 50)
    "race_B": 0.4,  # direct effect of group B (unequal care)
}
_CENTERS = {
    "age": 60.0,
    "creatinine": 1.0,
    "lactate": 1.5,
    "systolic_bp": 130.0,
    "heart_rate": 85.0,
    "bmi": 28.0,
    "income": 50.0,
}
_AGE_THRESHOLD = 65.0
_KIDNEY_THRESHOLD = 2.0
_CREATININE_CAP = 4.0

# Subgroup with a different outcome mechanism: flat risk, labels are coin flips.
_SUBGROUP_CONDITIONS = {"zip_region": ("==", 7.0), "age": ("<", 45.0)}
_SUBGROUP_RISK = 0.5

# Lactate is measured with probability sigmoid(logit) (missing not at random).
_LACTATE_MEASURE = {
    "intercept": -0.55,
    "lactate": 1.2,  # per mmol/L above 1.5 (the value that may go unmeasured)
    "heart_rate": 0.03,  # per beat/min above 85
    "pneumonia": 0.8,
}

_EXPECTED_DIRECTIONS = {
    "age": "increasing",
    "creatinine": "increasing",
    "lactate": "increasing",
    "asthma": "increasing",
    "pneumonia": "increasing",
    "diabetes": "increasing",
    "heart_rate": "increasing",
    "systolic_bp": "decreasing",
    "income": "decreasing",
}


@dataclass(frozen=True, eq=False)
class ClinicalData:
    """The synthetic clinical cohort returned by :func:`load_clinical`.

    Attributes
    ----------
    X : pandas.DataFrame
        Model features, one float64 column per name in ``feature_names``. ``lactate`` holds
        NaN where it was not measured. Race is *not* a column.
    y : pandas.Series
        Recorded one-year mortality, int64 in {0, 1}, named ``"mortality_1y"``.
    sensitive : pandas.DataFrame
        Sensitive attributes, one column ``"race"`` with string values ``"A"`` and ``"B"``.
    risk : pandas.Series
        The true probability of death of each row, named ``"risk"``; ``y`` is a Bernoulli
        draw from it.
    truth : dict
        The generating process, parameter by parameter (see :func:`load_clinical`).
    feature_names : tuple of str
        Column names of ``X``.
    target_name : str
        ``"mortality_1y"``.
    """

    X: pd.DataFrame
    y: pd.Series
    sensitive: pd.DataFrame
    risk: pd.Series
    truth: dict[str, Any]
    feature_names: tuple[str, ...]
    target_name: str

    @property
    def frame(self) -> pd.DataFrame:
        """Features, target and race in one DataFrame (a new copy each call)."""
        return pd.concat([self.X, self.y, self.sensitive], axis=1)


def _check_args(n_samples: object, seed: object) -> None:
    if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral):
        msg = (
            f"n_samples must be an integer >= 100, got {n_samples!r} of type "
            f"{type(n_samples).__name__}; pass a whole number such as n_samples=20000."
        )
        raise InvalidInputError(msg)
    if n_samples < 100:
        msg = (
            f"n_samples must be at least 100, got {n_samples}; the planted effects need rows "
            "to show up, so pass n_samples=100 or more (20000 is the default)."
        )
        raise InvalidInputError(msg)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        msg = (
            f"seed must be a non-negative integer or None, got {seed!r} of type "
            f"{type(seed).__name__}; pass e.g. seed=0 for reproducible data."
        )
        raise InvalidInputError(msg)
    if seed is not None and seed < 0:
        msg = f"seed must be a non-negative integer or None, got {seed}; pass e.g. seed=0."
        raise InvalidInputError(msg)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def load_clinical(n_samples: int = 20000, seed: int | None = 0) -> ClinicalData:
    """Generate a synthetic clinical cohort with planted, documented effects.

    Each row is a hospital patient; the target is recorded one-year mortality. The data
    are built so that a model trained on them is accurate on average yet learns several
    things a careful audit should flag. Everything below is recorded in ``truth``.

    Parameters
    ----------
    n_samples : int, default 20000
        Number of patients (at least 100). The planted effects are sized to be clearly
        detectable by a model trained on about 20000 rows.
    seed : int or None, default 0
        Seed for ``numpy.random.default_rng``. The same seed gives identical data; ``None``
        draws fresh entropy.

    Returns
    -------
    ClinicalData
        Frozen bundle with ``X``, ``y``, ``sensitive``, ``risk``, ``truth``,
        ``feature_names``, ``target_name`` and the ``frame`` property.

    Raises
    ------
    InvalidInputError
        If ``n_samples`` is not an integer or is below 100, or ``seed`` is not a
        non-negative integer or None.

    Notes
    -----
    **Population.** Race is ``"B"`` with probability 0.4 and ``"A"`` otherwise. It is a
    sensitive attribute (``sensitive["race"]``) and never a column of ``X``.

    **Features** (all float64; binary and categorical ones are integer-valued):

    - ``age`` : whole years, ``18 + floor(73 * Beta(2, 2))`` (18 to 90, mean about 54).
    - ``sex`` : 1 = female with probability 0.5, else 0.
    - ``income`` : thousands of dollars, lognormal with median 58 (group A) or 36 (group B)
      and log-sd 0.45, rounded to 0.1. A proxy of race.
    - ``zip_region`` : codes 0..9 drawn from ``P(zip | race)``; regions 0-5 are mostly
      group A, 6-9 mostly group B (``truth["zip_probs"]``). Race is predictable from
      ``zip_region`` alone with ROC AUC about 0.9.
    - ``pneumonia`` : Bernoulli(0.2). ``asthma`` : Bernoulli(0.12).
    - ``bmi`` : Normal(28, 5) clipped to [15, 55], rounded to 0.1.
    - ``diabetes`` : Bernoulli(sigmoid(-2 + 0.12 (bmi - 28) + 0.03 (age - 55))).
    - ``creatinine`` : mg/dL, ``exp(log 1.2 + 0.005 (age - 55) + 0.15 diabetes
      + 0.55 z)`` with z standard normal, clipped to [0.3, 12], rounded to 0.01; about
      19% of patients have creatinine >= 2.0.
    - ``systolic_bp`` : Normal(130, 20) clipped to [70, 220], whole mmHg.
    - ``heart_rate`` : Normal(85 + 10 pneumonia, 15) clipped to [40, 180], whole beats/min.
    - ``lactate`` : mmol/L, true value lognormal with median 1.5 and log-sd 0.45 (times
      1.2 with pneumonia), clipped to [0.3, 15] and rounded to 0.1. It is *measured* with
      probability ``sigmoid(-0.55 + 1.2 (lactate - 1.5) + 0.03 (heart_rate - 85)
      + 0.8 pneumonia)`` and NaN otherwise: missing not at random, since sicker patients
      with high lactate are tested more often. About half the values are missing. The true
      lactate of every row (measured or not) is ``truth["lactate_true"]``.

    **Outcome.** Outside the subgroup below, the logit of the true risk is ::

        -2.7
        + 0.035 (age - 60) + 0.7 [age >= 65]                   # policy change at 65
        + 1.2 (min(creatinine, 4) - 1.0) - 1.7 [creatinine >= 2.0]   # hidden treatment
        + 0.8 (lactate_true - 1.5)
        + 1.0 pneumonia + 0.2 asthma - 1.5 asthma * pneumonia  # ICU for asthmatics
        + 0.3 diabetes - 0.2 sex
        - 0.015 (systolic_bp - 130) + 0.02 (heart_rate - 85) + 0.02 (bmi - 28)
        - 0.3 log(income / 50)
        + 0.4 [race == "B"]                                    # unequal care

    ``risk = sigmoid(logit)`` and ``y ~ Bernoulli(risk)``. The base rate is about 20%.

    **Planted effects** (keys of ``truth``):

    - ``"kidney_treatment"`` -- patients with creatinine >= 2.0 receive an aggressive
      treatment that is not recorded. Risk rises with creatinine and then drops sharply at
      2.0 (-1.7 on the logit), so kidney failure *looks* protective right above 2.0:
      counter-causal.
    - ``"age_jump"`` -- a step of +0.7 on the logit at age 65 (a policy change) on top of
      the smooth age slope.
    - ``"asthma_pneumonia"`` -- pneumonia patients with asthma are sent straight to
      intensive care, so asthma *lowers* their recorded mortality (net -1.3 on the logit
      among pneumonia patients): counter-causal.
    - ``"race_direct_effect"`` -- group B has +0.4 on the logit at equal features. A model
      trained without race still treats the groups differently through ``zip_region``
      (segregated) and ``income`` (group B earns less); see ``"proxies"``.
    - ``"subgroup"`` -- patients with ``zip_region == 7`` and ``age < 45`` (about 3% of rows,
      mostly group B) have risk 0.5 regardless of their features (an unrecorded local
      exposure), so their labels are coin flips with a high base rate; a model that is good
      on average errs far more often there. ``truth["subgroup_mask"]`` marks the rows.
    - ``"lactate"`` -- informative where measured (+0.8 logit per mmol/L) and missing for
      about half of the rows, not at random.

    ``truth["expected_directions"]`` gives the direction clinical knowledge expects for each
    feature's causal effect; the planted confounding makes the recorded data contradict it
    for ``creatinine`` (at 2.0) and ``asthma`` (among pneumonia patients).
    ``truth["coefficients"]``, ``truth["intercept"]`` and ``truth["centers"]`` reproduce the
    logit above exactly.

    Examples
    --------
    >>> from assay.datasets import load_clinical
    >>> data = load_clinical(n_samples=2000, seed=0)
    >>> data.X.shape
    (2000, 12)
    >>> "race" in data.X.columns
    False
    >>> sorted(data.sensitive["race"].unique())
    ['A', 'B']
    >>> data.y.name
    'mortality_1y'
    >>> data.truth["kidney_treatment"]["threshold"]
    2.0
    >>> data.truth["subgroup"]["conditions"]
    {'zip_region': ('==', 7.0), 'age': ('<', 45.0)}
    >>> bool(data.truth["subgroup_mask"].mean() < 0.05)
    True
    >>> list(data.frame.columns[-2:])
    ['mortality_1y', 'race']
    """
    _check_args(n_samples, seed)
    n = int(n_samples)
    rng = np.random.default_rng(None if seed is None else int(seed))

    # Population and proxies of race.
    is_b = rng.random(n) < _SHARE_B
    race = np.where(is_b, "B", "A")
    u = rng.random(n)
    cum_a = np.cumsum(_ZIP_PROBS["A"])
    cum_b = np.cumsum(_ZIP_PROBS["B"])
    zip_a = np.minimum(np.searchsorted(cum_a, u, side="right"), 9)
    zip_b = np.minimum(np.searchsorted(cum_b, u, side="right"), 9)
    zip_region = np.where(is_b, zip_b, zip_a).astype(np.float64)
    income_median = np.where(is_b, _INCOME_MEDIAN["B"], _INCOME_MEDIAN["A"])
    income = np.round(income_median * np.exp(_INCOME_LOG_SD * rng.standard_normal(n)), 1)
    income = np.maximum(income, 1.0)

    # Demographics and history.
    age = 18.0 + np.floor(73.0 * rng.beta(2.0, 2.0, n))
    sex = (rng.random(n) < 0.5).astype(np.float64)
    pneumonia = (rng.random(n) < 0.2).astype(np.float64)
    asthma = (rng.random(n) < 0.12).astype(np.float64)
    bmi = np.round(np.clip(rng.normal(28.0, 5.0, n), 15.0, 55.0), 1)
    p_diabetes = _sigmoid(-2.0 + 0.12 * (bmi - 28.0) + 0.03 * (age - 55.0))
    diabetes = (rng.random(n) < p_diabetes).astype(np.float64)

    # Vitals and labs.
    log_creat = np.log(1.2) + 0.005 * (age - 55.0) + 0.15 * diabetes + 0.55 * rng.standard_normal(n)
    creatinine = np.round(np.clip(np.exp(log_creat), 0.3, 12.0), 2)
    systolic_bp = np.round(np.clip(rng.normal(130.0, 20.0, n), 70.0, 220.0))
    heart_rate = np.round(np.clip(rng.normal(85.0 + 10.0 * pneumonia, 15.0), 40.0, 180.0))
    lactate_true = np.exp(np.log(1.5) + 0.45 * rng.standard_normal(n)) * (1.0 + 0.2 * pneumonia)
    lactate_true = np.round(np.clip(lactate_true, 0.3, 15.0), 1)
    m = _LACTATE_MEASURE
    p_measured = _sigmoid(
        m["intercept"]
        + m["lactate"] * (lactate_true - _CENTERS["lactate"])
        + m["heart_rate"] * (heart_rate - _CENTERS["heart_rate"])
        + m["pneumonia"] * pneumonia
    )
    measured = rng.random(n) < p_measured
    lactate = np.where(measured, lactate_true, np.nan)

    # Outcome.
    c = _COEF
    logit = (
        _INTERCEPT
        + c["age"] * (age - _CENTERS["age"])
        + c["age_65_jump"] * (age >= _AGE_THRESHOLD)
        + c["creatinine"] * (np.minimum(creatinine, _CREATININE_CAP) - _CENTERS["creatinine"])
        + c["kidney_treatment"] * (creatinine >= _KIDNEY_THRESHOLD)
        + c["lactate"] * (lactate_true - _CENTERS["lactate"])
        + c["pneumonia"] * pneumonia
        + c["asthma"] * asthma
        + c["asthma_x_pneumonia"] * asthma * pneumonia
        + c["diabetes"] * diabetes
        + c["sex"] * sex
        + c["systolic_bp"] * (systolic_bp - _CENTERS["systolic_bp"])
        + c["heart_rate"] * (heart_rate - _CENTERS["heart_rate"])
        + c["bmi"] * (bmi - _CENTERS["bmi"])
        + c["log_income"] * np.log(income / _CENTERS["income"])
        + c["race_B"] * is_b
    )
    subgroup_mask = (zip_region == 7.0) & (age < 45.0)
    risk = np.where(subgroup_mask, _SUBGROUP_RISK, _sigmoid(logit))
    y = (rng.random(n) < risk).astype(np.int64)

    columns = {
        "age": age,
        "sex": sex,
        "income": income,
        "zip_region": zip_region,
        "creatinine": creatinine,
        "lactate": lactate,
        "asthma": asthma,
        "pneumonia": pneumonia,
        "diabetes": diabetes,
        "systolic_bp": systolic_bp,
        "heart_rate": heart_rate,
        "bmi": bmi,
    }
    X = pd.DataFrame({name: np.asarray(columns[name], dtype=np.float64) for name in FEATURE_NAMES})
    y_series = pd.Series(y, name=TARGET_NAME)
    sensitive = pd.DataFrame({"race": race})
    risk_series = pd.Series(risk, name="risk")

    truth = _make_truth(
        n=n,
        seed=seed,
        subgroup_mask=subgroup_mask,
        lactate_true=lactate_true,
        missing_share=float(np.mean(~measured)),
        base_rate=float(np.mean(y)),
        race_b_share=float(np.mean(is_b)),
    )
    return ClinicalData(
        X=X,
        y=y_series,
        sensitive=sensitive,
        risk=risk_series,
        truth=truth,
        feature_names=FEATURE_NAMES,
        target_name=TARGET_NAME,
    )


def _make_truth(
    *,
    n: int,
    seed: object,
    subgroup_mask: np.ndarray,
    lactate_true: np.ndarray,
    missing_share: float,
    base_rate: float,
    race_b_share: float,
) -> dict[str, Any]:
    return {
        "n_samples": n,
        "seed": seed,
        "features": list(FEATURE_NAMES),
        "target": TARGET_NAME,
        "sensitive": ["race"],
        "base_rate": base_rate,
        "intercept": _INTERCEPT,
        "coefficients": dict(_COEF),
        "centers": dict(_CENTERS),
        "expected_directions": dict(_EXPECTED_DIRECTIONS),
        "kidney_treatment": {
            "feature": "creatinine",
            "threshold": _KIDNEY_THRESHOLD,
            "logit_effect": _COEF["kidney_treatment"],
            "slope_per_mg_dl": _COEF["creatinine"],
            "slope_cap": _CREATININE_CAP,
            "description": (
                "unrecorded aggressive treatment for creatinine >= 2.0 sharply lowers "
                "mortality; risk rises with creatinine, then drops at 2.0"
            ),
        },
        "age_jump": {
            "feature": "age",
            "threshold": _AGE_THRESHOLD,
            "logit_jump": _COEF["age_65_jump"],
            "slope_per_year": _COEF["age"],
            "description": "policy change: +0.7 logit from age 65 on top of the smooth slope",
        },
        "asthma_pneumonia": {
            "features": ["asthma", "pneumonia"],
            "asthma_logit": _COEF["asthma"],
            "interaction_logit": _COEF["asthma_x_pneumonia"],
            "net_asthma_logit_with_pneumonia": _COEF["asthma"] + _COEF["asthma_x_pneumonia"],
            "description": (
                "pneumonia patients with asthma go straight to intensive care, so asthma "
                "lowers their recorded mortality"
            ),
        },
        "race_direct_effect": {
            "attribute": "race",
            "group": "B",
            "reference": "A",
            "logit": _COEF["race_B"],
            "share_B": race_b_share,
            "description": "unequal care: group B has a higher logit at equal features",
        },
        "proxies": {
            "zip_region": "segregated by race; P(zip | race) in truth['zip_probs']",
            "income": "lognormal, median 58 (A) vs 36 (B) thousand dollars",
        },
        "zip_probs": {k: list(v) for k, v in _ZIP_PROBS.items()},
        "income_median": dict(_INCOME_MEDIAN),
        "subgroup": {
            "conditions": dict(_SUBGROUP_CONDITIONS),
            "risk": _SUBGROUP_RISK,
            "share": float(np.mean(subgroup_mask)),
            "description": (
                "zip_region == 7 and age < 45: risk is 0.5 whatever the features "
                "(labels are coin flips)"
            ),
        },
        "subgroup_mask": subgroup_mask,
        "lactate": {
            "feature": "lactate",
            "logit_per_mmol_l": _COEF["lactate"],
            "missing_share": missing_share,
            "missing_share_range": (0.4, 0.6),
            "mechanism": "missing not at random",
            "measure_logit": dict(_LACTATE_MEASURE),
            "description": (
                "measured with probability sigmoid(-0.55 + 1.2 (lactate - 1.5) "
                "+ 0.03 (heart_rate - 85) + 0.8 pneumonia); NaN otherwise"
            ),
        },
        "lactate_true": lactate_true,
    }
