"""The sharded exchangeability test for test-set contamination (Oren et al. 2023).

Examples of a test set are exchangeable: without contamination a model has no reason to prefer
the order in which the set was published over any shuffled order. A model that saw the set in
its canonical order does. The set is cut into contiguous shards; in each shard the
log-likelihood of the canonical concatenation is compared with the mean over shuffled orders,
and a one-sided t-test across shards asks whether the canonical order is systematically more
likely. Sharding keeps every concatenation inside the model's context and averages away the
heavy tails of single permutation tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import stats

from assay._validation import check_int, check_seed
from assay.errors import InvalidInputError, ModelError
from assay.evals._lm import CausalLM, as_causal_lm
from assay.evals._results import ExchangeabilityResult

__all__ = ["exchangeability_test"]


def _lm_scorer(lm: CausalLM, examples: list[Any], separator: Any) -> Callable:
    """Log-likelihood of orderings, built by concatenating token ids (tokenize once)."""
    texts = all(isinstance(e, str) for e in examples)
    ids = lm.as_ids(examples)
    if separator is None:
        sep: list[int] = []
    elif isinstance(separator, str):
        sep = lm.encode([separator])[0] if texts else []
        if not texts and separator:
            msg = "With token id examples give separator as a list of ids (or None)."
            raise InvalidInputError(msg)
    else:
        sep = [int(s) for s in separator]

    def score(orders: list[np.ndarray]) -> np.ndarray:
        seqs = []
        for order in orders:
            seq: list[int] = []
            for j, i in enumerate(order):
                seq.extend(ids[i] if j == 0 else [*sep, *ids[i]])
            seqs.append(seq)
        return lm.sequence_logprob(seqs)

    return score


def exchangeability_test(
    model: Any,
    examples: Sequence[Any],
    *,
    tokenizer: Any = None,
    n_shards: int | None = None,
    n_permutations: int = 25,
    separator: Any = "\n",
    seed: int | None = None,
) -> ExchangeabilityResult:
    """P-value for "this model saw this test set in its canonical order".

    Parameters
    ----------
    model : CausalLM, Hugging Face causal LM, torch module, or callable
        A language model (see :class:`CausalLM`), or a callable ``fn(orders)`` that receives a
        list of index arrays (each an ordering of a shard's examples) and returns their
        log-likelihoods.
    examples : sequence of str or token id sequences
        The test set in its canonical (published) order.
    n_shards : int, optional
        Contiguous shards (at least 2 examples each); default ``max(2, len(examples) // 4)``.
    n_permutations : int
        Shuffled orders per shard.
    separator : str, list of int or None
        Put between consecutive examples (text, or token ids for id examples).

    Examples
    --------
    >>> import numpy as np
    >>> def fn(orders):  # a model that rewards the canonical order
    ...     return np.array([-np.abs(np.diff(o) - 1).sum() for o in orders], float)
    >>> res = exchangeability_test(fn, list("abcdefghijklmnop"), n_shards=4, seed=0)
    >>> bool(res.p_value < 0.01)
    True
    """
    examples = list(examples)
    if len(examples) < 4:
        msg = f"The exchangeability test needs at least 4 examples; got {len(examples)}."
        raise InvalidInputError(msg)
    if n_shards is None:
        n_shards = max(2, len(examples) // 4)
    n_shards = check_int(n_shards, name="n_shards", minimum=2, maximum=len(examples) // 2)
    n_permutations = check_int(n_permutations, name="n_permutations", minimum=1)
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)

    if (
        isinstance(model, CausalLM)
        or tokenizer is not None
        or hasattr(model, "config")
        or any(c.__module__.startswith("torch.nn") for c in type(model).__mro__)
    ):
        score = _lm_scorer(as_causal_lm(model, tokenizer), examples, separator)
    elif callable(model):

        def score(orders: list[np.ndarray]) -> np.ndarray:
            # a user callable sees global indices into ``examples``
            return np.asarray(model(orders), dtype=float)
    else:
        msg = f"model must be a language model or a callable; got {type(model).__name__}."
        raise InvalidInputError(msg)

    shards = np.array_split(np.arange(len(examples)), n_shards)
    canonical = np.empty(n_shards)
    perm_mean = np.empty(n_shards)
    perm_std = np.empty(n_shards)
    for s, idx in enumerate(shards):
        orders = [idx] + [rng.permutation(idx) for _ in range(n_permutations)]
        ll = np.asarray(score(orders), dtype=float).ravel()
        if ll.shape[0] != len(orders) or not np.isfinite(ll).all():
            msg = (
                f"The scorer returned {ll.shape[0]} values (finite: {np.isfinite(ll).all()}) for "
                f"{len(orders)} orderings; expected one finite log-likelihood each."
            )
            raise ModelError(msg)
        canonical[s] = ll[0]
        perm_mean[s] = ll[1:].mean()
        perm_std[s] = ll[1:].std(ddof=1) if n_permutations > 1 else float("nan")
    diff = canonical - perm_mean
    if np.all(diff == diff[0]):  # the t statistic is undefined for constant differences
        t, p = float("nan"), 0.0 if diff[0] > 0 else 1.0
    else:
        res = stats.ttest_1samp(diff, 0.0, alternative="greater")
        t, p = float(res.statistic), float(res.pvalue)
    return ExchangeabilityResult(
        p_value=p,
        t_statistic=t,
        canonical=canonical,
        permuted_mean=perm_mean,
        permuted_std=perm_std,
        shard_sizes=np.array([len(i) for i in shards], dtype=np.int64),
        params={
            "n_shards": n_shards,
            "n_permutations": n_permutations,
            "seed": seed,
            "n_examples": len(examples),
        },
    )
