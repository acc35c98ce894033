"""TCAV with random concepts: a concept score is reported only when it beats random sets.

Testing with concept activation vectors (Kim et al. 2018): at a layer, a linear classifier
separates the activations of a concept's examples from those of random examples; its normal
vector is the concept activation vector (CAV). The TCAV score of a concept for an output is the
share of target inputs whose output rises when the layer's representation moves along the CAV
(a positive directional derivative).

A score exists for *any* set of examples, so it means something only when it differs from the
scores of random "concepts". :func:`tcav` builds ``n_random`` counterpart sets ``R_i`` from
``random_inputs`` and, as the null, ``n_random`` random concept sets ``Q_j`` of the concept's
size from the same pool. Every concept (real or random) gets the mean of its scores against all
``R_i``. The real concept is compared with the random concepts' mean scores by a two-sided
t test for one new observation (prediction interval: ``t = (T - mean(T_Q)) / (sd(T_Q)
sqrt(1 + 1/n))``, ``n - 1`` degrees of freedom), Bonferroni-corrected over concepts.

Kim et al. compare the per-CAV scores of "concept vs R_i" with those of "R_j vs R_i" by a
t test. All the concept's CAVs share the one concept set, so its sampling noise is counted once
while the random CAVs each bring their own; a random set in the concept's place is then
"significant" far more often than ``alpha``. Building the null from random sets of the
concept's size, scored the same way, keeps the two exchangeable when the concept is random.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from assay._validation import check_int, check_seed, import_optional
from assay.errors import InvalidInputError, ModelError
from assay.probe._capture import capture
from assay.probe._checks import CheckResult

__all__ = ["tcav"]


def _subset(inputs: Any, idx: np.ndarray) -> Any:
    if isinstance(inputs, Mapping):
        return {k: v[idx] for k, v in inputs.items()}
    if isinstance(inputs, Sequence) and not isinstance(inputs, str):
        return [inputs[int(i)] for i in idx]
    return inputs[idx]


def _count(inputs: Any, name: str) -> int:
    if isinstance(inputs, str):
        msg = f"{name} must be a collection of inputs, not one string; wrap it in a list."
        raise InvalidInputError(msg)
    try:
        n = len(next(iter(inputs.values()))) if isinstance(inputs, Mapping) else len(inputs)
    except TypeError as exc:
        msg = f"{name} must be an array, tensor, list of strings or dict of tensors."
        raise InvalidInputError(msg) from exc
    if n == 0:
        msg = f"{name} is empty; pass at least one input."
        raise InvalidInputError(msg)
    return n


def _layer_module(model: Any, layer: Any) -> tuple[str, Any]:
    modules = dict(model.named_modules())
    if isinstance(layer, str):
        if layer not in modules:
            msg = f"model has no layer {layer!r}; see model.named_modules() for the names."
            raise InvalidInputError(msg)
        return layer, modules[layer]
    for name, mod in modules.items():
        if mod is layer:
            return name, mod
    msg = "layer must be a layer name or a submodule of the model."
    raise InvalidInputError(msg)


def _select_output(out: Any, output: Any, torch: Any) -> Any:
    if callable(output):
        t = output(out)
    else:
        t = getattr(out, "logits", out)
        if isinstance(t, (tuple, list)):
            t = t[0]
        if not isinstance(t, torch.Tensor) or t.dim() != 2:
            shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            msg = (
                f"output={output!r} needs a (batch, n_outputs) model output; got {shape}. "
                "Pass output=callable(model_output) -> (batch,) tensor instead."
            )
            raise ModelError(msg)
        t = t[:, output]
    if not isinstance(t, torch.Tensor) or t.dim() != 1:
        msg = "output must select one scalar per input (a (batch,) tensor)."
        raise ModelError(msg)
    return t


def _pooled_gradients(
    model: Any,
    module: Any,
    name: str,
    inputs: Any,
    output: Any,
    *,
    tokenizer: Any,
    pooling: str,
    batch_size: int,
    torch: Any,
) -> np.ndarray:
    """Gradient of the selected output w.r.t. the layer's pooled representation, per input."""
    n = _count(inputs, "target_inputs")
    state: dict[str, Any] = {}

    def hook(_module: Any, _args: Any, out: Any) -> Any:
        h = out if isinstance(out, torch.Tensor) else out[0]
        leaf = h.detach().requires_grad_(True)
        state["h"] = leaf
        return leaf if isinstance(out, torch.Tensor) else (leaf, *out[1:])

    try:
        p = next(model.parameters())
        device, dtype = p.device, p.dtype
    except StopIteration:
        device, dtype = torch.device("cpu"), torch.float32
    handle = module.register_forward_hook(hook)
    was_training = model.training
    model.eval()
    grads = []
    try:
        for start in range(0, n, batch_size):
            idx = np.arange(start, min(n, start + batch_size))
            part = _subset(inputs, idx)
            mask = None
            with torch.enable_grad():
                if isinstance(part, list):
                    if tokenizer is None:
                        msg = "target_inputs are strings; pass tokenizer= to tcav."
                        raise InvalidInputError(msg)
                    enc = dict(tokenizer(part, padding=True, return_tensors="pt"))
                    mask = enc.get("attention_mask")
                    out = model(**{k: v.to(device) for k, v in enc.items()})
                elif isinstance(part, Mapping):
                    mask = part.get("attention_mask")
                    out = model(**{k: torch.as_tensor(v).to(device) for k, v in part.items()})
                else:
                    x = torch.as_tensor(part)
                    x = x.to(device, dtype) if x.is_floating_point() else x.to(device)
                    out = model(x)
                t = _select_output(out, output, torch)
                if "h" not in state:
                    msg = f"layer {name!r} was not called during the forward pass."
                    raise ModelError(msg)
                (g,) = torch.autograd.grad(t.sum(), state.pop("h"), allow_unused=True)
            if g is None:
                msg = f"the selected output does not depend on layer {name!r}."
                raise ModelError(msg)
            if g.dim() == 3:  # shift every pooled token by the CAV: the pooled vector moves by it
                b, k = g.shape[:2]
                m = torch.ones(b, k) if mask is None else torch.as_tensor(mask).to("cpu")
                m = m.to(g.dtype).to(g.device)
                w = m
                if pooling != "mean":
                    pos = (
                        k - 1 - torch.argmax(m.flip(1), dim=1)
                        if pooling == "last_token"
                        else torch.argmax(m, dim=1)
                    )
                    w = torch.zeros_like(m)
                    w[torch.arange(b), pos] = 1.0
                # mean pooling: the mean moves by v when every non-padding token moves by v,
                # so d out / d(pooled) . v = sum_t G_t . v; otherwise only the pooled token
                g = (g * w[:, :, None]).sum(1)
            elif g.dim() != 2:
                msg = f"layer {name!r} output has {g.dim()} dimensions; tcav needs 2 or 3."
                raise ModelError(msg)
            grads.append(g.detach().to("cpu", torch.float64).numpy())
    finally:
        handle.remove()
        model.train(was_training)
    return np.concatenate(grads, axis=0)


def _cav(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    X = np.vstack([pos, neg])
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    mu, sd = X.mean(axis=0), X.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    clf = LogisticRegression(max_iter=1000).fit((X - mu) / sd, y)
    v = clf.coef_[0] / sd  # back to the layer's own coordinates
    return v / max(np.linalg.norm(v), 1e-12)


def tcav(
    model: Any,
    *,
    layer: Any,
    concept_inputs: Any,
    random_inputs: Any,
    target_inputs: Any,
    output: int | Callable[[Any], Any],
    n_random: int = 20,
    alpha: float = 0.05,
    tokenizer: Any = None,
    pooling: str = "last_token",
    batch_size: int = 64,
    seed: int | None = None,
) -> CheckResult:
    """TCAV scores per concept, each tested two-sided against random-concept CAVs.

    Parameters
    ----------
    model : torch.nn.Module
    layer : str or nn.Module
        The layer whose (pooled) output the CAVs live in.
    concept_inputs : dict name -> inputs, or inputs
        Examples of each concept (array/tensor, dict of tensors, or strings with
        ``tokenizer``). A bare collection is named ``"concept"``.
    random_inputs : inputs
        The pool random sets are drawn from; at least twice the largest concept set.
    target_inputs : inputs
        The inputs whose output sensitivity is measured (e.g. examples of one class).
    output : int or callable
        Output column of a ``(batch, n_outputs)`` model output (``.logits`` for Hugging Face
        outputs), or ``callable(model_output) -> (batch,)`` tensor.
    n_random : int
        Counterpart random sets per concept, and random concepts in the null.
    alpha : float
        Family-wise level (Bonferroni over concepts).
    tokenizer, pooling, batch_size
        As in :func:`assay.probe.capture`; the gradient is taken with respect to the same
        pooled vector (for ``"mean"`` pooling, a shift of every non-padding token).
    seed : int, optional

    Returns
    -------
    CheckResult
        ``data["concepts"][name]``: ``score`` (mean TCAV score over the counterpart sets, or
        ``None`` when not significant: it is not reported), ``raw_score``, ``score_sd``,
        ``random_mean`` and ``random_sd`` (random concepts), ``p_value``, ``significant``
        and ``direction`` ("raises" / "lowers" the output). Status ``"ok"`` when every concept
        differs from random, ``"warning"`` otherwise.

    Examples
    --------
    >>> import torch
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    >>> rng = np.random.default_rng(0)
    >>> a = np.zeros(4, np.float32); a[0] = 2.0
    >>> with torch.no_grad():
    ...     _ = net[2].weight.copy_((net[0].weight @ torch.tensor(a))[None])
    >>> X = rng.normal(size=(200, 4)).astype(np.float32)
    >>> r = tcav(net, layer="0", concept_inputs={"a": X[:30] + a}, random_inputs=X[30:],
    ...          target_inputs=X[:50], output=0, n_random=10, seed=0)
    >>> c = r.data["concepts"]["a"]
    >>> round(c["raw_score"], 2), c["direction"], 0 <= c["p_value"] <= 1
    (1.0, 'raises', True)
    """
    from scipy import stats

    torch = import_optional("torch", purpose="TCAV")
    seed = check_seed(seed)
    n_random = check_int(n_random, name="n_random", minimum=3)
    batch_size = check_int(batch_size, name="batch_size", minimum=1)
    if not 0.0 < float(alpha) < 1.0:
        msg = f"alpha must be in (0, 1); got {alpha!r}."
        raise InvalidInputError(msg)
    if not (callable(output) or (isinstance(output, (int, np.integer)) and output >= 0)):
        msg = f"output must be a non-negative column index or a callable; got {output!r}."
        raise InvalidInputError(msg)
    if not isinstance(concept_inputs, Mapping) or {"input_ids"} <= set(concept_inputs):
        concept_inputs = {"concept": concept_inputs}
    if not concept_inputs:
        msg = "concept_inputs is empty; pass a dict name -> examples of that concept."
        raise InvalidInputError(msg)
    name, module = _layer_module(model, layer)
    sizes = {str(k): _count(v, f"concept_inputs[{k!r}]") for k, v in concept_inputs.items()}
    n_pool = _count(random_inputs, "random_inputs")
    m_max = max(sizes.values())
    if n_pool < 2 * m_max or m_max < 2:
        msg = (
            f"random_inputs has {n_pool} examples; it must hold at least twice the largest "
            f"concept set ({m_max}) and each set at least 2, so random sets of the concept's "
            "size can be drawn as counterparts and as random concepts."
        )
        raise InvalidInputError(msg)

    def acts(inputs: Any) -> np.ndarray:
        a = capture(
            model, inputs, [name], tokenizer=tokenizer, pooling=pooling, batch_size=batch_size
        )
        return np.asarray(a[name], dtype=np.float64)

    A_pool = acts(random_inputs)
    A_concepts = {str(k): acts(v) for k, v in concept_inputs.items()}
    G = _pooled_gradients(
        model,
        module,
        name,
        target_inputs,
        output,
        tokenizer=tokenizer,
        pooling=pooling,
        batch_size=batch_size,
        torch=torch,
    )
    if G.shape[1] != A_pool.shape[1]:
        msg = f"gradient width {G.shape[1]} != activation width {A_pool.shape[1]}."
        raise ModelError(msg)
    rng = np.random.default_rng(seed)

    def mean_score(pos: np.ndarray, counterparts: list[np.ndarray]) -> np.ndarray:
        return np.array([np.mean(G @ _cav(pos, neg) > 0) for neg in counterparts])

    results: dict[str, Any] = {}
    n_concepts = len(A_concepts)
    level = float(alpha) / n_concepts
    for cname, A_c in A_concepts.items():
        m = A_c.shape[0]
        # the pool splits in two: random concepts come from one part, counterparts from the
        # other, so a random concept never shares examples with its counterparts (as the
        # concept does not); random concepts are disjoint from each other when the part holds
        # n_random of them
        perm = rng.permutation(n_pool)
        n_q = min(n_random * m, n_pool // 2)
        q_part, r_part = perm[:n_q], perm[n_q:]
        counterparts = [A_pool[rng.choice(r_part, m, replace=False)] for _ in range(n_random)]
        disjoint = n_q == n_random * m
        q_sets = [
            q_part[j * m : (j + 1) * m] if disjoint else rng.choice(q_part, m, replace=False)
            for j in range(n_random)
        ]
        scores = mean_score(A_c, counterparts)
        null = np.array([mean_score(A_pool[q], counterparts).mean() for q in q_sets])
        t_obs = scores.mean()
        sd = null.std(ddof=1)
        if sd == 0:
            p = 1.0 if t_obs == null.mean() else 0.0
        else:
            t = (t_obs - null.mean()) / (sd * np.sqrt(1 + 1 / n_random))
            p = float(2 * stats.t.sf(abs(t), df=n_random - 1))
        sig = p < level
        results[cname] = {
            "score": float(t_obs) if sig else None,
            "raw_score": float(t_obs),
            "score_sd": float(scores.std(ddof=1)),
            "random_mean": float(null.mean()),
            "random_sd": float(sd),
            "p_value": p,
            "significant": bool(sig),
            "direction": "raises" if t_obs > null.mean() else "lowers",
            "n_examples": m,
            "disjoint_random_concepts": bool(disjoint),
        }
    good = [k for k, r in results.items() if r["significant"]]
    bad = [k for k in results if k not in good]
    parts = [
        f"{k!r} {results[k]['direction']} the output (TCAV {results[k]['score']:.2f} vs random "
        f"{results[k]['random_mean']:.2f} ± {results[k]['random_sd']:.2f}, p = "
        f"{results[k]['p_value']:.2g})"
        for k in good
    ]
    if bad:
        parts.append(
            "no score reported for "
            + ", ".join(f"{k!r} (p = {results[k]['p_value']:.2g})" for k in bad)
            + ": not distinguishable from random concepts"
        )
    verdict = "; ".join(parts) + "."
    verdict = verdict[0].upper() + verdict[1:]
    return CheckResult(
        name="tcav",
        verdict=verdict,
        status="ok" if not bad else "warning",
        passed=not bad,
        metrics={f"tcav_{k}": r["raw_score"] for k, r in results.items()}
        | {f"p_value_{k}": r["p_value"] for k, r in results.items()},
        data={"concepts": results, "layer": name},
        params={
            "n_random": n_random,
            "alpha": float(alpha),
            "correction": "bonferroni",
            "pooling": pooling,
            "n_targets": int(G.shape[0]),
            "seed": seed,
        },
    )
