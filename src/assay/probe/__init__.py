"""Inside neural networks: activation capture, truth probes and their sanity checks.

- :func:`capture` / :func:`patch`: forward hooks on any ``torch.nn.Module`` (Hugging Face
  models included), pooled float32 activations, optionally streamed to disk.
- :class:`LogisticProbe`, :class:`MassMeanProbe` (LDA with ``covariance="tied"``) and
  :class:`CCS` (unsupervised, sign calibrated on a few labels); :func:`probe_layers`.
- Sanity checks returning verdicts: :func:`transfer_matrix`, :func:`selectivity`,
  :func:`random_probe_floor`, :func:`unsupervised_baselines`, :func:`distractor_check`.
- Concept explanations, checked: :class:`ConceptBottleneck` (scikit-learn concept-bottleneck
  classifier), :func:`concept_leakage` (does the head use information beyond the concepts?)
  and :func:`tcav` (TCAV scores reported only when they differ from random concepts).
- Generated statement datasets (:func:`load_statements`) and synthetic contrast-pair
  activations with planted truth and distractor directions (:func:`make_contrast_activations`).

torch and transformers are imported only when activations are captured; probes and checks
work on numpy arrays.
"""

from assay.probe._bottleneck import ConceptBottleneck
from assay.probe._capture import Activations, capture, find_layers, patch
from assay.probe._ccs import CCS
from assay.probe._checks import (
    CheckResult,
    distractor_check,
    random_probe_floor,
    selectivity,
    transfer_matrix,
    unsupervised_baselines,
)
from assay.probe._concepts import concept_leakage
from assay.probe._datasets import (
    StatementDataset,
    load_statements,
    make_contrast_activations,
    number_to_words,
    with_distractor,
)
from assay.probe._layers import LayerSweep, probe_layers, wilson_interval
from assay.probe._probes import LogisticProbe, MassMeanProbe
from assay.probe._tcav import tcav

__all__ = [
    "CCS",
    "Activations",
    "CheckResult",
    "ConceptBottleneck",
    "LayerSweep",
    "LogisticProbe",
    "MassMeanProbe",
    "StatementDataset",
    "capture",
    "concept_leakage",
    "distractor_check",
    "find_layers",
    "load_statements",
    "make_contrast_activations",
    "number_to_words",
    "patch",
    "probe_layers",
    "random_probe_floor",
    "selectivity",
    "tcav",
    "transfer_matrix",
    "unsupervised_baselines",
    "wilson_interval",
    "with_distractor",
]
