"""How far to trust an explanation: faithfulness, stability, sanity checks and more.

Every check returns a frozen result with ``status`` (``"ok"``, ``"warning"``, ``"alert"``),
a plain-language ``verdict``, the decision ``rule`` behind the status (a significance test
at a stated level, or a named heuristic threshold) and ``to_dict()``; :func:`assess` runs
those that apply.

- :func:`faithfulness` — deletion / insertion AUC, PGI, PGU and infidelity, each against a
  random-attribution baseline with a paired test;
- :func:`seed_stability`, :func:`explain_seeds`, :func:`input_sensitivity` — stability across
  seeds and under small input changes (the model's own sensitivity is reported apart from
  the explainer's instability);
- :func:`cascading_randomization`, :func:`label_permutation_check` — Adebayo et al. (2018)
  randomization sanity checks;
- :func:`linear_shapley`, :func:`linear_model_shapley`, :func:`additive_shapley`,
  :func:`agreement` — closed-form ground truth and agreement metrics;
- :func:`off_manifold_test`, :func:`perturbation_samples` (and the samplers) — are the
  explainer's queries distinguishable from real data (Slack et al. 2020)?;
- :func:`disagreement` — pairwise agreement between methods (Krishna et al. 2022).
"""

from assay.trust._assess import CHECKS, assess
from assay.trust._disagreement import disagreement
from assay.trust._faithfulness import faithfulness
from assay.trust._ground_truth import (
    additive_shapley,
    agreement,
    linear_model_shapley,
    linear_shapley,
)
from assay.trust._manifold import (
    coalition_samples,
    gaussian_samples,
    off_manifold_test,
    path_samples,
    perturbation_samples,
)
from assay.trust._randomization import (
    cascading_randomization,
    label_permutation_check,
    parameter_layers,
)
from assay.trust._result import (
    AgreementResult,
    AssessmentResult,
    Check,
    DisagreementResult,
    FaithfulnessResult,
    ManifoldResult,
    MetricComparison,
    RandomizationResult,
    SeedStabilityResult,
    SensitivityResult,
)
from assay.trust._stability import explain_seeds, input_sensitivity, seed_stability

__all__ = [
    "CHECKS",
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
    "additive_shapley",
    "agreement",
    "assess",
    "cascading_randomization",
    "coalition_samples",
    "disagreement",
    "explain_seeds",
    "faithfulness",
    "gaussian_samples",
    "input_sensitivity",
    "label_permutation_check",
    "linear_model_shapley",
    "linear_shapley",
    "off_manifold_test",
    "parameter_layers",
    "path_samples",
    "perturbation_samples",
    "seed_stability",
]
