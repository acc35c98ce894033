"""Inside neural networks: activation capture, truth probes and their sanity checks.

- :func:`capture` / :func:`patch` / :func:`intervene`: forward hooks on any
  ``torch.nn.Module`` (Hugging Face models included), pooled float32 activations, optionally
  streamed to disk; a layer's output replaced by a function (at chosen token positions).
- :func:`causal_check`: does the model use what a probe reads? The output's change when the
  probe's direction is ablated (or steered along) against random directions of the same
  activation variance.
- :func:`erase` / :class:`LeaceEraser`: least-squares linear concept erasure (LEACE), with the
  probe accuracy after erasure against chance and the task accuracy cost;
  :func:`erase_in_model` erases inside the forward pass and measures the model's own task
  accuracy before and after.
- :func:`activation_patching` (clean activations patched into corrupted runs, per layer and
  token position) and :func:`logit_lens` (each layer decoded through the final norm and
  unembedding).
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
from assay.probe._capture import Activations, capture, find_layers, intervene, patch
from assay.probe._causal import causal_check, probe_direction
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
from assay.probe._erase import LeaceEraser, erase
from assay.probe._erase_model import erase_in_model
from assay.probe._layers import LayerSweep, probe_layers, wilson_interval
from assay.probe._patching import (
    LogitLensResult,
    PatchingResult,
    activation_patching,
    logit_lens,
)
from assay.probe._probes import LogisticProbe, MassMeanProbe
from assay.probe._tcav import tcav

__all__ = [
    "CCS",
    "Activations",
    "CheckResult",
    "ConceptBottleneck",
    "LayerSweep",
    "LeaceEraser",
    "LogisticProbe",
    "LogitLensResult",
    "MassMeanProbe",
    "PatchingResult",
    "StatementDataset",
    "activation_patching",
    "capture",
    "causal_check",
    "concept_leakage",
    "distractor_check",
    "erase",
    "erase_in_model",
    "find_layers",
    "intervene",
    "load_statements",
    "logit_lens",
    "make_contrast_activations",
    "number_to_words",
    "patch",
    "probe_direction",
    "probe_layers",
    "random_probe_floor",
    "selectivity",
    "tcav",
    "transfer_matrix",
    "unsupervised_baselines",
    "wilson_interval",
    "with_distractor",
]
