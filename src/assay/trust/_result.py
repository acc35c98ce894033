"""Result objects of the trust checks: frozen dataclasses with ``to_dict()`` and a verdict.

Every result carries a ``status`` (``"ok"``, ``"warning"`` or ``"alert"``) and a plain-language
``verdict`` string that says what was measured, against what, and what it means for how far
the explanation can be trusted. Arrays are kept as numpy arrays on the object and turned into
nested lists by ``to_dict()``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from assay._results import STATUSES, FromDict, ResultDisplay, to_jsonable, worst_status

__all__ = [
    "STATUSES",
    "AgreementResult",
    "AssessmentResult",
    "Check",
    "DisagreementResult",
    "FaithfulnessResult",
    "ManifoldResult",
    "MetricComparison",
    "RandomizationResult",
    "SeedStabilityResult",
    "SensitivityResult",
    "worst_status",
]


class _ResultMixin(ResultDisplay, FromDict):
    """``to_dict()`` over the dataclass fields plus ``status``, ``verdict`` and ``rule``;
    ``from_dict()`` reads the fields back (the derived keys are recomputed)."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": type(self).__name__, "schema_version": self.SCHEMA_VERSION}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            out[self._DICT_KEYS.get(f.name, f.name)] = to_jsonable(getattr(self, f.name))
        for extra in ("status", "verdict", "rule"):
            if extra not in out and hasattr(self, extra):
                out[extra] = getattr(self, extra)
        return out


def _fmt(x: float) -> str:
    if x is None or not np.isfinite(x):
        return "undefined"
    ax = abs(x)
    if ax != 0 and (ax < 1e-3 or ax >= 1e4):
        return f"{x:.3g}"
    return f"{x:.3f}"


@dataclass(frozen=True, eq=False)
class MetricComparison(_ResultMixin):
    """One faithfulness metric of an explanation next to the same metric for random attributions.

    Attributes
    ----------
    name : str
        ``"deletion_auc"``, ``"insertion_auc"``, ``"pgi"``, ``"pgu"`` or ``"infidelity"``.
    higher_is_better : bool
    value : float
        Mean of the per-row metric over the explained rows.
    random_value : float
        Mean over rows and random draws of the same metric for random attributions.
    random_draws : ndarray (n_random,)
        The mean over rows of each random draw (the spread of the random baseline).
    difference : float
        ``value - random_value`` (the mean paired difference over rows).
    ci_low, ci_high : float
        95% t confidence interval of the mean paired difference.
    p_value : float
        One-sided paired t-test p-value that the explanation is better than random, adjusted
        for the number of metrics tested together (Holm), so that claiming "better than
        random" on *any* of them has family-wise error at most ``alpha``.
    p_value_worse : float
        One-sided p-value that it is worse than random (Holm-adjusted likewise).
    alpha : float
        Significance level used for ``beats_random`` and ``worse_than_random``.
    p_value_raw, p_value_worse_raw : float
        The same p-values before adjustment.
    """

    name: str
    higher_is_better: bool
    value: float
    random_value: float
    random_draws: np.ndarray
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    p_value_worse: float
    alpha: float
    p_value_raw: float = np.nan
    p_value_worse_raw: float = np.nan

    @property
    def beats_random(self) -> bool:
        """Whether the explanation is significantly better than random on this metric."""
        return bool(np.isfinite(self.p_value) and self.p_value < self.alpha)

    @property
    def worse_than_random(self) -> bool:
        """Whether the explanation is significantly *worse* than random on this metric."""
        return bool(np.isfinite(self.p_value_worse) and self.p_value_worse < self.alpha)

    @property
    def status(self) -> str:
        if self.worse_than_random:
            return "alert"
        return "ok" if self.beats_random else "warning"

    @property
    def verdict(self) -> str:
        better = "higher" if self.higher_is_better else "lower"
        head = (
            f"{self.name}: {_fmt(self.value)} vs {_fmt(self.random_value)} for random "
            f"attributions ({better} is better; paired difference {_fmt(self.difference)}, "
            f"95% CI [{_fmt(self.ci_low)}, {_fmt(self.ci_high)}])"
        )
        if self.beats_random:
            return f"{head}: better than random (p={self.p_value:.2g})."
        if self.worse_than_random:
            return f"{head}: WORSE than random (p={self.p_value_worse:.2g})."
        return f"{head}: not distinguishable from random (p={self.p_value:.2g})."

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["beats_random"] = self.beats_random
        out["worse_than_random"] = self.worse_than_random
        return out


@dataclass(frozen=True, eq=False)
class FaithfulnessResult(_ResultMixin):
    """Deletion / insertion curves, PGI, PGU and infidelity against a random-attribution baseline.

    Attributes
    ----------
    metrics : tuple of MetricComparison
    fractions : ndarray (n_steps,)
        Fraction of features removed (deletion) or added (insertion) at each curve point.
    deletion_curve, insertion_curve : ndarray (n_steps,)
        Mean model output over rows at each point, features ordered by the explanation.
    random_deletion_curves, random_insertion_curves : ndarray (n_random, n_steps)
        The same curves for each random attribution draw.
    full_output, empty_output : float
        Mean model output with every feature kept / every feature replaced.
    n_rows, top_k : int
    output : str
        The explained output column.
    method : str
        The explanation's method.
    params : dict
    """

    metrics: tuple[MetricComparison, ...]
    fractions: np.ndarray
    deletion_curve: np.ndarray
    insertion_curve: np.ndarray
    random_deletion_curves: np.ndarray
    random_insertion_curves: np.ndarray
    full_output: float
    empty_output: float
    n_rows: int
    top_k: int
    output: str
    method: str
    params: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> MetricComparison:
        for m in self.metrics:
            if m.name == name:
                return m
        msg = f"no metric {name!r}; available: {[m.name for m in self.metrics]}."
        raise KeyError(msg)

    @property
    def beats_random(self) -> bool:
        """Whether the explanation beats random attributions on every metric."""
        return all(m.beats_random for m in self.metrics)

    @property
    def status(self) -> str:
        # an alert needs evidence against the explanation (significantly worse than random);
        # failing to show that it beats random on few rows is a warning (low power), not proof
        if any(m.worse_than_random for m in self.metrics):
            return "alert"
        return "ok" if all(m.beats_random for m in self.metrics) else "warning"

    @property
    def rule(self) -> str:
        a = self.params.get("alpha", self.metrics[0].alpha if self.metrics else 0.05)
        names = ", ".join(m.name for m in self.metrics)
        return (
            f"faithfulness (significance test, level alpha={a:g}): each of the "
            f"{len(self.metrics)} metrics ({names}) is compared, row by row, with "
            f"{self.params.get('n_random', 'several')} random re-orderings of the same "
            f"attribution values by a one-sided paired t-test over the {self.n_rows} rows, "
            "Holm-adjusted across the metrics; ok when every metric beats random, warning "
            "when some metric is not shown to beat random (which a good explanation checked on "
            "few rows can also get: low power), alert only when a metric is significantly "
            "worse than random. An explanation no better than random passes with probability "
            "at most alpha, and one as good as random raises an alert with probability at most "
            "alpha."
        )

    @property
    def verdict(self) -> str:
        beat = [m.name for m in self.metrics if m.beats_random]
        worse = [m.name for m in self.metrics if m.worse_than_random]
        tie = [m.name for m in self.metrics if not m.beats_random and not m.worse_than_random]
        head = f"Faithfulness of the {self.method} explanation on {self.n_rows} rows: "
        if len(beat) == len(self.metrics):
            return head + (
                f"beats random attributions on all {len(beat)} metrics "
                f"({', '.join(beat)}); the features it ranks highest do drive the prediction."
            )
        parts = []
        if beat:
            parts.append(f"beats random on {', '.join(beat)}")
        if tie:
            parts.append(f"not shown to beat random on {', '.join(tie)}")
        if worse:
            parts.append(f"WORSE than random on {', '.join(worse)}")
        return (
            head
            + "; ".join(parts)
            + (
                ". Do not read its feature ranking as what drives the model where it has not "
                "been shown to beat a random ranking."
            )
        )


@dataclass(frozen=True, eq=False)
class SeedStabilityResult(_ResultMixin):
    """Agreement of one method's explanations of the same rows across random seeds.

    Attributes
    ----------
    seeds : tuple of int or None
    top_k : int
    jaccard : ndarray (n_rows,)
        Mean over seed pairs of the Jaccard index of the top-k features (by absolute value).
    spearman : ndarray (n_rows,)
        Mean over seed pairs of the Spearman correlation of the signed attributions.
    chance_jaccard : float
        Expected Jaccard index of two independent random top-k sets (the chance level).
    min_jaccard, min_spearman : float
        Thresholds below which the result is a warning (half of them: an alert).
    method : str
    params : dict
    """

    seeds: tuple[Any, ...]
    top_k: int
    jaccard: np.ndarray
    spearman: np.ndarray
    chance_jaccard: float
    min_jaccard: float
    min_spearman: float
    method: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def mean_jaccard(self) -> float:
        return float(np.mean(self.jaccard))

    @property
    def mean_spearman(self) -> float:
        return float(np.nanmean(self.spearman)) if np.isfinite(self.spearman).any() else np.nan

    @property
    def status(self) -> str:
        j, s = self.mean_jaccard, self.mean_spearman
        s = 1.0 if not np.isfinite(s) else s
        if j < self.min_jaccard / 2 or s < self.min_spearman / 2:
            return "alert"
        if j < self.min_jaccard or s < self.min_spearman:
            return "warning"
        return "ok"

    @property
    def rule(self) -> str:
        return (
            "seed_stability (heuristic thresholds; agreement is an effect size, not a test): "
            f"the rows are re-explained with {len(self.seeds) - 1} other seed(s); warning when "
            f"the mean top-{self.top_k} Jaccard index is below {self.min_jaccard:g} (chance "
            f"level {_fmt(self.chance_jaccard)}) or the mean Spearman correlation of the values "
            f"below {self.min_spearman:g}, alert below half of either. Only sampled methods "
            "are re-run: an exact method gives identical values for every seed."
        )

    @property
    def verdict(self) -> str:
        head = (
            f"Across {len(self.seeds)} seeds the {self.method} explanation's top-{self.top_k} "
            f"features overlap with mean Jaccard {_fmt(self.mean_jaccard)} (chance "
            f"{_fmt(self.chance_jaccard)}) and its values have mean Spearman correlation "
            f"{_fmt(self.mean_spearman)}"
        )
        if self.status == "ok":
            return head + ": the explanation is stable under re-sampling."
        return head + (
            ": the ranking depends on the random seed; increase the sampling budget before "
            "trusting it."
        )


# methods whose values are a deterministic function of the model and the rows: re-running them
# reproduces the values (to float tolerance), whatever the seed
DETERMINISTIC_METHODS = (
    "exact",
    "tree",
    "linear_closed_form",
    "additive_closed_form",
    "saliency",
    "integrated_gradients",
    "input_x_gradient",
)
REPRODUCE_TOL = 1e-6  # relative change that counts as "reproduced" for a deterministic method
# the model is called sensitive when a jitter of r standard deviations moves its output by at
# least r of its own standard deviation: about twice what a linear model shows (r/2 with one
# feature, ~0.46 r with several independent ones)
MODEL_SENSITIVE_RATIO = 1.0

_OUTPUT_WORDS = {
    "probability": "predicted probability",
    "log_odds": "output (log-odds)",
    "raw": "prediction",
}


@dataclass(frozen=True, eq=False)
class SensitivityResult(_ResultMixin):
    """How much attributions move under small input perturbations, and whose fault it is.

    Attributes
    ----------
    radius : float
        Half-width of the uniform perturbation box, in units of each feature's standard
        deviation.
    max_sensitivity : ndarray (n_rows,)
        ``max_p ||phi(x + delta_p) - phi(x)||_2`` (Yeh et al. 2019; captum's
        ``sensitivity_max`` with the L2 norm), in attribution units.
    relative_sensitivity : ndarray (n_rows,)
        ``max_sensitivity / ||phi(x)||_2``.
    relative_input_stability : ndarray (n_rows,)
        ``max_p (||phi(x') - phi(x)||_2 / ||phi(x)||_2) / ||(x' - x) / sigma||_2``
        (Agarwal et al. 2022, with standardized instead of element-wise relative changes).
    max_relative_change : float
        Pooled ``repeat_change`` (:attr:`mean_repeat_change`) above which the result is a
        warning (twice: alert).
    method : str
    params : dict
    repeat_change : ndarray (n_repeat,) or None
        ``||phi_again(x) - phi(x)||_2 / ||phi(x)||_2`` where ``phi_again`` re-explains the
        unperturbed row with fresh random draws: the explainer's own instability (zero for a
        method that reproduces its values). Every row for a sampled method, the first 10 for
        a deterministic one. None only for results built by hand.
    output_change : ndarray (n_rows,) or None
        Mean over perturbations of ``|f(x') - f(x)|`` in the explanation's output space: the
        model's own sensitivity (NaN when the model was not given).
    feature_output_change : ndarray (n_features,) or None
        Mean over rows of ``|f(x') - f(x)|`` when only that feature is jittered (same box).
    output_spread : float
        Standard deviation of ``f(x)`` over the explained rows.
    attribution_norm : ndarray (n_rows,) or None
        ``||phi(x)||_2``.
    feature_names : tuple of str
    output_space : str
    """

    radius: float
    max_sensitivity: np.ndarray
    relative_sensitivity: np.ndarray
    relative_input_stability: np.ndarray
    max_relative_change: float
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    repeat_change: np.ndarray | None = None
    output_change: np.ndarray | None = None
    feature_output_change: np.ndarray | None = None
    output_spread: float = np.nan
    attribution_norm: np.ndarray | None = None
    feature_names: tuple[str, ...] = ()
    output_space: str = "raw"

    @property
    def deterministic(self) -> bool:
        """Whether the method's values are a deterministic function of model and rows."""
        return self.method in DETERMINISTIC_METHODS

    @property
    def mean_repeat_change(self) -> float:
        """Zero-jitter change pooled over rows: ``sum_i ||phi_again - phi||_2 / sum_i ||phi||_2``.

        Pooled rather than a mean of per-row ratios, so rows whose attributions are all near
        zero (predictions at the base value) do not dominate. NaN if not measured.
        """
        if self.repeat_change is None or self.repeat_change.size == 0:
            return np.nan
        if self.attribution_norm is None:
            return float(np.mean(self.repeat_change))
        w = self.attribution_norm[: self.repeat_change.size]
        total = float(np.sum(w))
        if total <= 0:
            return float(np.mean(self.repeat_change))
        return float(np.sum(self.repeat_change * w) / total)

    @property
    def mean_output_change(self) -> float:
        """Mean ``|f(x') - f(x)|`` over rows and perturbations; NaN if not measured."""
        if self.output_change is None or not np.isfinite(self.output_change).any():
            return np.nan
        return float(np.nanmean(self.output_change))

    @property
    def model_sensitive(self) -> bool:
        """Whether the jitter moves the model's output more than a smooth model's would.

        Descriptive (it never sets the status): the mean output change is at least ``radius``
        times the standard deviation of ``f`` over the explained rows, about twice what a
        linear model of the same spread shows under the same jitter (``radius / 2`` with one
        feature, ``~0.46 radius`` with several independent ones).
        """
        m = self.mean_output_change
        spread = self.output_spread
        if not np.isfinite(m) or m <= 0:
            return False
        if not np.isfinite(spread) or spread <= 0:
            return True  # a constant output over the rows that still moves under jitter
        return bool(m >= MODEL_SENSITIVE_RATIO * self.radius * spread)

    @property
    def not_reproduced(self) -> bool:
        """A deterministic method whose re-run does not give these values (to 1e-6)."""
        return bool(
            self.deterministic
            and self.repeat_change is not None
            and self.repeat_change.size
            and float(np.max(self.repeat_change)) > REPRODUCE_TOL
        )

    @property
    def status(self) -> str:
        if self.repeat_change is None:  # hand-built result: only the total change is known
            r = float(np.mean(self.relative_sensitivity))
        else:
            r = self.mean_repeat_change
        if r > 2 * self.max_relative_change:
            return "alert"
        if r > self.max_relative_change or self.not_reproduced:
            return "warning"
        return "ok"

    @property
    def rule(self) -> str:
        t = self.max_relative_change
        return (
            f"input_sensitivity (heuristic; the change is an effect size, not a test): the "
            "explained rows are re-explained unperturbed, with fresh random draws; warning "
            f"when that zero-jitter change (pooled over rows) is more than {100 * t:g}% of "
            f"the attribution norm, alert above {200 * t:g}% (the explainer's own noise, or "
            "values the method does not reproduce); a deterministic method (exact, tree, "
            f"closed form, gradients) that does not reproduce its values to {REPRODUCE_TOL:g} "
            f"is a warning. The change under a jitter of {self.radius:g} standard deviations "
            "and the model's own output change are reported as properties of the model and do "
            "not set the status: a "
            "faithful explanation of a jagged model must move with it."
        )

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["mean_repeat_change"] = to_jsonable(self.mean_repeat_change)
        out["mean_output_change"] = to_jsonable(self.mean_output_change)
        out["model_sensitive"] = self.model_sensitive
        out["deterministic"] = self.deterministic
        out["not_reproduced"] = self.not_reproduced
        return out

    def model_finding(self) -> str:
        """One sentence on the model's own sensitivity (empty when it was not measured)."""
        m = self.mean_output_change
        if not np.isfinite(m):
            return ""
        what = _OUTPUT_WORDS.get(self.output_space, "output")
        if not self.model_sensitive:
            spread = self.output_spread
            share = (
                f", {100 * m / spread:.1f}% of its standard deviation across the rows"
                if np.isfinite(spread) and spread > 0
                else ""
            )
            return (
                f"The model's own {what} moves little under the same jitter ({_fmt(m)} on "
                f"average{share}), as a smooth model's would."
            )
        text = (
            f"The model itself is sensitive: a jitter of up to {self.radius:g} standard "
            f"deviations moves its {what} by {_fmt(m)} on average"
        )
        fo = self.feature_output_change
        if fo is not None and np.isfinite(fo).any() and len(self.feature_names) == fo.size:
            j = int(np.nanargmax(fo))
            text += f" ({_fmt(float(fo[j]))} when {self.feature_names[j]} alone is jittered)"
        spread = self.output_spread
        if np.isfinite(spread) and spread > 0:
            text += (
                f", {100 * m / spread:.1f}% of its standard deviation across the rows (a "
                f"linear model would move about {50 * self.radius:.1f}%)"
            )
        return text + ". That is a property of the model, not of the explanation."

    @property
    def verdict(self) -> str:
        r = float(np.mean(self.relative_sensitivity))
        head = (
            f"Moving each feature by up to {self.radius:g} standard deviations changes the "
            f"{self.method} attributions by {100 * r:.1f}% of their norm on average (worst row "
            f"{100 * float(np.max(self.relative_sensitivity)):.1f}%)."
        )
        model = self.model_finding()
        parts = [head] + ([model] if model else [])
        e = self.mean_repeat_change
        if not np.isfinite(e):
            if self.status == "ok":
                parts.append("Stable under small input changes.")
            else:
                parts.append(
                    "Nearby, practically identical inputs get noticeably different explanations."
                )
            return " ".join(parts)
        if self.status == "ok":
            again = (
                "reproduces them exactly"
                if float(np.max(self.repeat_change)) <= REPRODUCE_TOL
                else f"changes them by {100 * e:.1f}% of their norm on average"
            )
            tail = (
                f"Re-explaining the unperturbed rows {again}, so the explanation itself is stable"
            )
            tail += "; what moves is the model." if self.model_sensitive and r > 0.05 else "."
            parts.append(tail)
        elif self.not_reproduced and e <= self.max_relative_change:
            parts.append(
                f"Re-running the deterministic {self.method} method on the unperturbed rows "
                f"does not reproduce these values (largest change "
                f"{100 * float(np.max(self.repeat_change)):.2g}% of their norm): they are not "
                "what the method gives for these rows."
            )
        else:
            parts.append(
                f"Re-explaining the unperturbed rows already changes the attributions by "
                f"{100 * e:.1f}% of their norm on average: that is the explainer's own "
                "instability, not the model's (increase its sampling budget, or check that "
                "these values are what the method gives for these rows)."
            )
        return " ".join(parts)


@dataclass(frozen=True, eq=False)
class RandomizationResult(_ResultMixin):
    """Adebayo et al. (2018) sanity check: attributions before vs after randomization.

    Attributes
    ----------
    kind : str
        ``"cascading"`` (layers re-initialized from the top down) or ``"label_permutation"``.
    steps : tuple of str
        What was randomized at each step (cumulative for the cascading check).
    spearman : ndarray (n_steps,)
        Mean over rows of the Spearman rank correlation between the original and the
        randomized attributions.
    spearman_rows : ndarray (n_steps, n_rows)
    top_k_overlap : ndarray (n_steps,)
        Mean fraction of the original top-k features still in the top k.
    absolute : bool
        Whether ranks were taken of absolute attributions.
    threshold : float
        A final rank correlation at or above this fails the check.
    method : str
    params : dict
    """

    _DICT_KEYS: ClassVar[dict[str, str]] = {"kind": "randomization"}  # "kind" names the class

    kind: str
    steps: tuple[str, ...]
    spearman: np.ndarray
    spearman_rows: np.ndarray
    top_k_overlap: np.ndarray
    absolute: bool
    threshold: float
    method: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def final_spearman(self) -> float:
        return float(self.spearman[-1]) if self.spearman.size else np.nan

    @property
    def passed(self) -> bool:
        return bool(np.isfinite(self.final_spearman) and self.final_spearman < self.threshold)

    @property
    def status(self) -> str:
        return "ok" if self.passed else "alert"

    @property
    def rule(self) -> str:
        return (
            "randomization (fixed threshold, Adebayo et al. 2018): alert when the attributions "
            "after randomizing the model keep a mean rank correlation of at least "
            f"{self.threshold:g} with the originals, else ok."
        )

    @property
    def verdict(self) -> str:
        what = (
            "re-initializing the model's layers from the top down"
            if self.kind == "cascading"
            else "retraining on permuted labels"
        )
        head = (
            f"After {what}, the {self.method} attributions have rank correlation "
            f"{_fmt(self.final_spearman)} with the originals"
        )
        if self.passed:
            return head + (
                f" (below {self.threshold:g}): they depend on what the model learned, as they "
                "should."
            )
        return head + (
            f" (at least {self.threshold:g}): they barely change when the model's learned "
            "parameters are destroyed, so they describe the input or the architecture more "
            "than the model (Adebayo et al. 2018)."
        )


@dataclass(frozen=True, eq=False)
class AgreementResult(_ResultMixin):
    """Agreement between an explanation and a reference (e.g. closed-form ground truth).

    Per-row metrics (Krishna et al. 2022), all computed on features ranked by absolute value:
    ``feature_agreement`` (fraction of the top-k shared), ``rank_agreement`` (fraction of the
    top-k at the same rank), ``sign_agreement`` (fraction of the top-k shared and of the same
    sign), ``rank_correlation`` (Spearman over all features, signed values) and
    ``max_abs_error`` (largest absolute difference of values).

    Attributes
    ----------
    top_k : int
    feature_agreement, rank_agreement, sign_agreement, rank_correlation, max_abs_error :
        ndarray (n_rows,)
    min_agreement : float
        Mean feature agreement below which the result is a warning (half of it: alert).
    method, reference : str
    params : dict
    """

    top_k: int
    feature_agreement: np.ndarray
    rank_agreement: np.ndarray
    sign_agreement: np.ndarray
    rank_correlation: np.ndarray
    max_abs_error: np.ndarray
    min_agreement: float
    method: str
    reference: str
    params: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, float]:
        """Means over rows of each metric."""
        return {
            "feature_agreement": float(np.mean(self.feature_agreement)),
            "rank_agreement": float(np.mean(self.rank_agreement)),
            "sign_agreement": float(np.mean(self.sign_agreement)),
            "rank_correlation": float(np.nanmean(self.rank_correlation))
            if np.isfinite(self.rank_correlation).any()
            else np.nan,
            "max_abs_error": float(np.max(self.max_abs_error)),
        }

    @property
    def status(self) -> str:
        s = self.summary()
        fa = min(s["feature_agreement"], s["sign_agreement"])
        if fa < self.min_agreement / 2:
            return "alert"
        return "warning" if fa < self.min_agreement else "ok"

    @property
    def rule(self) -> str:
        return (
            "ground_truth (heuristic threshold): warning when the mean top-"
            f"{self.top_k} feature or sign agreement with the reference is below "
            f"{self.min_agreement:g}, alert below half of it."
        )

    @property
    def verdict(self) -> str:
        s = self.summary()
        head = (
            f"Against the {self.reference}, the {self.method} explanation shares "
            f"{100 * s['feature_agreement']:.0f}% of the top-{self.top_k} features "
            f"({100 * s['sign_agreement']:.0f}% with the same sign, "
            f"{100 * s['rank_agreement']:.0f}% at the same rank; rank correlation "
            f"{_fmt(s['rank_correlation'])}, largest value error {_fmt(s['max_abs_error'])})"
        )
        if self.status == "ok":
            return head + "."
        return head + ": it does not recover the known attributions."


@dataclass(frozen=True, eq=False)
class DisagreementResult(_ResultMixin):
    """Pairwise agreement of several explanations of the same rows (Krishna et al. 2022).

    Attributes
    ----------
    names : tuple of str
        One name per explanation.
    top_k : int
    feature_agreement, rank_agreement, sign_agreement, signed_rank_agreement,
    rank_correlation, pairwise_rank_agreement : ndarray (n_methods, n_methods)
        Mean over rows of each pairwise metric (the diagonal is 1).
    min_agreement : float
        Lowest pairwise feature agreement that is not flagged.
    params : dict
    """

    names: tuple[str, ...]
    top_k: int
    feature_agreement: np.ndarray
    rank_agreement: np.ndarray
    sign_agreement: np.ndarray
    signed_rank_agreement: np.ndarray
    rank_correlation: np.ndarray
    pairwise_rank_agreement: np.ndarray
    min_agreement: float
    params: dict[str, Any] = field(default_factory=dict)

    def worst_pair(self) -> tuple[str, str, float]:
        """The pair of methods with the lowest top-k sign agreement, and that agreement."""
        m = len(self.names)
        best = (self.names[0], self.names[0], 1.0)
        for i in range(m):
            for j in range(i + 1, m):
                v = float(self.sign_agreement[i, j])
                if v < best[2] or best[0] == best[1]:
                    best = (self.names[i], self.names[j], v)
        return best

    @property
    def status(self) -> str:
        a, b, v = self.worst_pair()
        if a == b:
            return "ok"
        if v < self.min_agreement / 2:
            return "alert"
        return "warning" if v < self.min_agreement else "ok"

    @property
    def rule(self) -> str:
        return (
            "disagreement (heuristic threshold): warning when the least agreeing pair of "
            f"methods shares fewer than {100 * self.min_agreement:g}% of its top-{self.top_k} "
            "features with the same sign, alert below half of that."
        )

    @property
    def verdict(self) -> str:
        a, b, v = self.worst_pair()
        if a == b:
            return "Only one explanation was given; there is nothing to compare."
        head = (
            f"Across {len(self.names)} methods, the least agreeing pair is {a} vs {b}: they "
            f"share {100 * v:.0f}% of their top-{self.top_k} features with the same sign"
        )
        if self.status == "ok":
            return head + "; the methods tell a consistent story."
        return head + (
            "; the methods tell different stories about these rows, so no single one should "
            "be trusted on its own."
        )


@dataclass(frozen=True, eq=False)
class ManifoldResult(_ResultMixin):
    """Classifier two-sample test: can perturbation samples be told apart from real rows?

    Attributes
    ----------
    auc : float
        Held-out ROC AUC of a classifier trained to separate perturbed from real rows.
    p_value : float
        Permutation p-value of the AUC (held-out labels permuted ``n_permutations`` times).
    n_real, n_perturbed : int
        Rows of each kind used (after balancing).
    sampler : str
        What produced the perturbation samples.
    warn_auc, alert_auc, alpha : float
        An AUC above ``warn_auc`` (``alert_auc``) with ``p_value < alpha`` is a warning (alert).
    params : dict
    """

    auc: float
    p_value: float
    n_real: int
    n_perturbed: int
    sampler: str
    warn_auc: float
    alert_auc: float
    alpha: float
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def flagged(self) -> bool:
        """Whether the perturbations are distinguishable from real rows (warning or alert)."""
        return self.status != "ok"

    @property
    def status(self) -> str:
        if not (self.p_value < self.alpha):
            return "ok"
        if self.auc >= self.alert_auc:
            return "alert"
        return "warning" if self.auc >= self.warn_auc else "ok"

    @property
    def rule(self) -> str:
        return (
            f"off_manifold (classifier two-sample test, level alpha={self.alpha:g}): a "
            f"classifier is trained to tell the explainer's {self.sampler} perturbation samples "
            "from real rows on half of each; warning when its held-out AUC is at least "
            f"{self.warn_auc:g} and the permutation p-value is below alpha, alert from AUC "
            f"{self.alert_auc:g}. Perturbations drawn from the data distribution itself are "
            "flagged with probability at most alpha."
        )

    @property
    def verdict(self) -> str:
        head = (
            f"A classifier tells the {self.sampler} perturbation samples from real rows with "
            f"held-out AUC {self.auc:.3f} (permutation p={self.p_value:.2g})"
        )
        if self.status == "ok":
            return head + ": the explainer queries the model close to the data distribution."
        return head + (
            ": the explainer queries the model off the data manifold. A model can behave "
            "differently there than on real rows, so this explanation may be manipulable "
            "(Slack et al. 2020); prefer a data-distribution background or a conditional "
            "method."
        )


@dataclass(frozen=True, eq=False)
class Check(_ResultMixin):
    """One check run by :func:`assay.trust.assess`.

    Attributes
    ----------
    name : str
    status : str
        ``"ok"``, ``"warning"`` or ``"alert"``.
    verdict : str
    result : object
        The full result object of the check (has ``to_dict()``).
    """

    name: str
    status: str
    verdict: str
    result: Any

    @property
    def rule(self) -> str:
        """The decision rule of the check (from its result)."""
        return str(getattr(self.result, "rule", ""))


@dataclass(frozen=True, eq=False)
class AssessmentResult(_ResultMixin):
    """Everything :func:`assay.trust.assess` ran, with one overall status and verdict.

    Attributes
    ----------
    checks : tuple of Check
    skipped : tuple of (str, str)
        Checks that did not apply, with the reason.
    method : str
        The assessed explanation's method.
    params : dict
    """

    checks: tuple[Check, ...]
    skipped: tuple[tuple[str, str], ...]
    method: str
    params: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        msg = f"no check {name!r}; ran: {[c.name for c in self.checks]}."
        raise KeyError(msg)

    @property
    def status(self) -> str:
        return worst_status(c.status for c in self.checks)

    @property
    def rules(self) -> dict[str, str]:
        """The decision rule of each check that ran, by name."""
        return {c.name: c.rule for c in self.checks}

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["rules"] = self.rules
        return out

    @property
    def verdict(self) -> str:
        bad = [c for c in self.checks if c.status != "ok"]
        head = f"{len(self.checks)} trust checks on the {self.method} explanation"
        if not bad:
            return head + ": all passed."
        lines = "; ".join(f"{c.name} ({c.status})" for c in bad)
        return head + f": {len(bad)} raised concerns — {lines}."
