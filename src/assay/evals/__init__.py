"""Trust in evaluations: prompt-format sensitivity and test-set contamination.

- :func:`format_spread` — how much a score moves across plausible prompt formats;
- :func:`ngram_overlap` — evaluation examples whose word n-grams occur in a training corpus
  (streamed, bounded memory; files, documents or a Dask bag);
- :func:`membership_scores` — loss, zlib, Min-K% and Min-K%++ membership scores with AUROC and
  TPR at low FPR;
- :func:`exchangeability_test` — Oren et al.'s sharded test that a model saw a test set in order;
- :func:`judge_bias` — position, verbosity and self-preference bias of a pairwise (LLM) judge,
  and the consistency-corrected win rates; :class:`LMJudge` (a causal LM read at "A"/"B") and
  :class:`APIJudge` (batching, retries and a budget around your API call) as judges;
- :class:`CausalLM` — token log-probabilities of a Hugging Face causal LM, a torch module or a
  callable.
"""

from assay.evals._exchangeability import exchangeability_test
from assay.evals._formats import Format, FormatGrammar
from assay.evals._judge import PADDING_TEMPLATES, JudgeBiasResult, judge_bias
from assay.evals._judges import DEFAULT_JUDGE_TEMPLATE, APIJudge, LMJudge
from assay.evals._lm import CausalLM, ChoiceScorer, TokenLogprobs, as_causal_lm
from assay.evals._membership import membership_metrics, membership_scores, tpr_at_fpr
from assay.evals._ngram import NgramIndex, build_index, ngram_overlap
from assay.evals._results import (
    ContaminationReport,
    ExchangeabilityResult,
    FormatSpreadResult,
    MembershipResult,
)
from assay.evals._spread import format_spread

__all__ = [
    "DEFAULT_JUDGE_TEMPLATE",
    "PADDING_TEMPLATES",
    "APIJudge",
    "CausalLM",
    "ChoiceScorer",
    "ContaminationReport",
    "ExchangeabilityResult",
    "Format",
    "FormatGrammar",
    "FormatSpreadResult",
    "JudgeBiasResult",
    "LMJudge",
    "MembershipResult",
    "NgramIndex",
    "TokenLogprobs",
    "as_causal_lm",
    "build_index",
    "exchangeability_test",
    "format_spread",
    "judge_bias",
    "membership_metrics",
    "membership_scores",
    "ngram_overlap",
    "tpr_at_fpr",
]
