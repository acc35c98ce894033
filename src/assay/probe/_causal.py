"""Does the model use what a probe reads? Interventions along a probe's direction.

A probe shows that a feature is *decodable* from a layer, not that the model *uses* it.
:func:`causal_check` asks the model: it removes the probe's direction ``u`` from the layer's
output and measures how much the model's output moves, then does the same along random
directions, which give the null distribution:

- ``mode="ablate"`` (mean ablation): ``h <- h - ((h - mu) . u) u`` with ``mu`` the mean
  activation, so the projection on ``u`` is pinned to its average;
- ``mode="project"``: ``h <- h - (h . u) u`` (the direction projected out);
- ``mode="steer"``: ``h <- h + s * sd_u * u`` for each scale ``s`` (``sd_u`` the standard
  deviation of the activations along ``u``), with the dose-response of the output reported.

The effect of a direction is the root-mean-square change of the output over inputs (and
output components, and scales when steering). Two nulls, each of ``n_random`` random unit
directions:

- *isotropic*: uniform on the sphere;
- *variance-matched*: ``cos(t) r1 + sin(t) r2`` with ``r1`` and ``r2`` random in the spans of
  the covariance eigenvectors below and above ``u``'s variance,
  ``t`` chosen so the activation variance along it equals ``u . Sigma u`` exactly. Activations
  vary much more along some directions than others, and a direction with more variance moves
  the output more when ablated whatever it encodes; this null compares like with like.

The status comes from the variance-matched null: ``p = (1 + #{null >= effect}) / (1 + n)``;
"ok" when ``p <= alpha`` (the probe direction moves the output more than random directions of
the same variance), "alert" otherwise: the probe reads something the model does not use, at
this layer, for this output.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from assay._validation import check_int, check_seed, import_optional
from assay.errors import InvalidInputError, ModelError
from assay.probe._capture import run_patched
from assay.probe._checks import CheckResult

__all__ = ["causal_check", "probe_direction"]

MODES = ("ablate", "project", "steer")
STACK_BYTES = 32 * 2**20  # interventions stacked per call while the layer output stays below
MAX_STACK = 16


def probe_direction(direction: Any) -> np.ndarray:
    """A unit vector in activation space from a fitted probe or a vector.

    ``LogisticProbe`` and ``MassMeanProbe`` give their weight vector (which acts on raw
    activations); :class:`CCS` gives its weight divided by the per-feature scale of the
    positive side (its weights act on normalized activations).

    Examples
    --------
    >>> probe_direction([3.0, 4.0])
    array([0.6, 0.8])
    """
    if hasattr(direction, "coef_") and hasattr(direction, "scale_pos_"):  # CCS
        w = np.asarray(direction.coef_, float) / np.asarray(direction.scale_pos_, float)
    elif hasattr(direction, "coef_"):
        w = np.asarray(direction.coef_, float)
    elif hasattr(direction, "fit") and hasattr(direction, "predict"):
        msg = f"the {type(direction).__name__} probe is not fitted yet; call fit first."
        raise InvalidInputError(msg)
    else:
        w = np.asarray(direction, dtype=float)
    w = np.squeeze(w)
    if w.ndim != 1 or w.size < 2:
        msg = (
            f"direction must be a fitted probe or a 1-D vector of the layer's width; got shape "
            f"{np.shape(direction)}."
        )
        raise InvalidInputError(msg)
    norm = float(np.linalg.norm(w))
    if not np.isfinite(norm) or norm == 0.0:
        msg = "direction is zero or not finite; pass a fitted probe or a non-zero vector."
        raise InvalidInputError(msg)
    return w / norm


def null_directions(
    u: np.ndarray, sigma: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, bool]:
    """``n`` isotropic and ``n`` variance-matched random unit directions.

    Neither is constrained to be orthogonal to ``u``: in a small layer that constraint would
    push the nulls away from whatever ``u`` aligns with and make ``u`` look special by
    construction. Returns (isotropic (n, d), matched (n, d), whether the variance match is
    exact; it is not when ``u`` has the largest or smallest variance of any direction).
    """
    d = u.size
    g = rng.standard_normal((n, d))
    iso = g / np.linalg.norm(g, axis=1, keepdims=True)
    target = float(u @ sigma @ u)
    lam, V = np.linalg.eigh(sigma)
    low, high = lam < target, lam >= target
    exact = bool(low.any() and high.any())
    if not high.any():
        high = lam >= lam.max()
    if not low.any():
        low = lam <= lam.min()
    matched = np.empty((n, d))
    for i in range(n):
        s1 = np.where(low, rng.standard_normal(d), 0.0)  # coordinates in the eigenbasis
        s2 = np.where(high, rng.standard_normal(d), 0.0)
        s1 /= np.linalg.norm(s1)
        s2 /= np.linalg.norm(s2)
        v1, v2 = float(lam @ (s1 * s1)), float(lam @ (s2 * s2))
        if v2 - v1 <= 1e-12 * max(abs(v2), 1.0):
            c2 = 0.5
        else:
            c2 = float(np.clip((v2 - target) / (v2 - v1), 0.0, 1.0))
        s = np.sqrt(c2) * s1 + np.sqrt(1.0 - c2) * s2  # s1, s2 orthogonal and sigma-orthogonal
        matched[i] = V @ (s / np.linalg.norm(s))
    return iso, matched, exact


def _select_output(out: np.ndarray, output: Any) -> np.ndarray:
    if output is None:
        res = out
    elif isinstance(output, (int, np.integer)) and not isinstance(output, bool):
        if not -out.shape[1] <= int(output) < out.shape[1]:
            msg = f"output={output} but the model has {out.shape[1]} output columns."
            raise InvalidInputError(msg)
        res = out[:, int(output)]
    elif callable(output):
        res = np.asarray(output(out), dtype=float)
    else:
        msg = (
            f"output must be None, a column index or a callable on the (n, k) outputs; got "
            f"{type(output).__name__}."
        )
        raise InvalidInputError(msg)
    res = np.asarray(res, dtype=float)
    if res.ndim == 1:
        res = res[:, None]
    if res.ndim != 2 or res.shape[0] != out.shape[0]:
        msg = f"output gave shape {res.shape}; it must give one value (or row) per input."
        raise InvalidInputError(msg)
    return res


def _by_length(inputs: Any, tokenizer: Any, max_length: int | None) -> Any:
    """Strings sorted by their number of tokens (stable), so that a batch pads little; the
    check's statistics are sums over inputs, so their order does not matter."""
    if tokenizer is None or isinstance(inputs, str) or not isinstance(inputs, Sequence):
        return inputs
    if not inputs or not all(isinstance(x, str) for x in inputs):
        return inputs
    try:
        enc = tokenizer(list(inputs), truncation=max_length is not None, max_length=max_length)
        lengths = [len(ids) for ids in enc["input_ids"]]
    except (TypeError, ValueError, KeyError):  # a tokenizer that only makes padded tensors
        return inputs
    return [inputs[i] for i in np.argsort(lengths, kind="stable")]


def _replay_check(model: Any, batches: Any, layer: Any, cache: Any, raw: np.ndarray,
                  run: dict[str, Any]) -> int:  # fmt: skip
    """Switch ``cache`` to replay if a replayed clean pass reproduces ``raw`` (else off), and
    return how many interventions one forward call may stack (1 unless replay works and two
    stacked copies of the clean pass reproduce it too)."""
    if cache is None:
        return 1
    from assay.probe._capture import run_patched

    torch = import_optional("torch", purpose="causal checks")
    scale = max(1.0, float(np.max(np.abs(raw))))

    def same(x: np.ndarray) -> bool:
        return bool(np.allclose(x, raw, rtol=1e-5, atol=1e-6 * scale))

    cache.mode = "replay"
    out = cache.layer_outputs[0] if cache.layer_outputs else None
    out = out[0] if isinstance(out, (tuple, list)) and out else out
    n_bytes = out.numel() * out.element_size() if hasattr(out, "numel") else 0
    stack = int(np.clip(STACK_BYTES // max(n_bytes, 1), 1, MAX_STACK)) if n_bytes else 1
    if stack > 1:  # copy 0 as is, copy 1 negated: copy 0 must not feel copy 1 (batch mixing)

        def negate_second(h: Any, _sel: Any, _rows: slice) -> Any:
            half = h.shape[0] // 2
            return torch.cat([h[:half], -h[half:]])

        two = run_patched(model, batches, layer, negate_second, prefix=cache, tile=2, **run)
        if same(two[0]):
            return stack
    if not same(run_patched(model, batches, layer, None, prefix=cache, **run)):
        cache.mode = "off"  # the model is not a pure function of its inputs here
    return 1


def _stacked_intervention(V: np.ndarray, coef: np.ndarray, steer: bool, touched: Callable,
                          torch: Any, shortcut: Any = None) -> Callable:  # fmt: skip
    """Hook for ``k = len(V)`` stacked copies of a batch: copy ``i`` gets direction ``V[i]``
    added ``coef[i]`` times (steer) or its projection pinned to ``coef[i]`` (ablate/project).
    Every change is ``a * V[i]`` with a scalar ``a`` per row: ``shortcut`` (a
    :class:`assay.probe._rank1.LinearShortcut`) is told ``a`` so that the linear maps reading
    the new output take the rank-one route."""
    k, d = V.shape

    def fn(h: Any, sel: Any, rows: slice) -> Any:
        sel = touched(h, sel)
        hv = h.reshape(k, h.shape[0] // k, *h.shape[1:])
        Vt = torch.as_tensor(V, dtype=h.dtype, device=h.device)
        c = torch.as_tensor(coef, dtype=h.dtype, device=h.device)
        lead = (k,) + (1,) * (h.dim() - 1)
        if steer:
            a = c.reshape(lead).expand(hv.shape[:-1])
        else:
            a = c.reshape(lead) - torch.bmm(hv.reshape(k, -1, d), Vt[:, :, None]).reshape(
                hv.shape[:-1]
            )
        if sel is not None:
            a = a * sel.reshape(k, -1, *sel.shape[1:]).to(h.dtype)
        new = (hv + a[..., None] * Vt.reshape(*lead, d)).reshape(h.shape)
        if shortcut is not None:
            shortcut.offer(new, a, Vt, rows.start)
        return new

    return fn


def _run_jobs(model: Any, batches: Any, layer: Any, directions: np.ndarray, jobs: list,
              stack: int, mode: str, scales: list, sigma: np.ndarray, mu: np.ndarray,
              touched: Callable, shortcut: Any, cache: Any, run: dict, output: Any,
              clean: np.ndarray, torch: Any) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Run every (direction, scale) job, ``stack`` per forward call; return the sum of squared
    output changes per direction and the mean change per scale for the first direction."""
    n_scales = len(scales) if mode == "steer" else 1
    sq = np.zeros(len(directions))  # sum of squared output changes per direction
    dose = np.zeros((n_scales, clean.shape[1]))
    for first in range(0, len(jobs), stack):  # ``stack`` interventions per forward call
        chunk = jobs[first : first + stack]
        V = directions[[i for i, _ in chunk]]
        if mode == "steer":
            sd = np.sqrt(np.maximum(np.einsum("kd,de,ke->k", V, sigma, V), 0.0))
            coef = np.array([scales[j] for _, j in chunk]) * sd
        else:
            coef = V @ mu if mode == "ablate" else np.zeros(len(chunk))
        fn = _stacked_intervention(V, coef, mode == "steer", touched, torch, shortcut)
        out = run_patched(model, batches, layer, fn, prefix=cache, tile=len(chunk), **run)
        for (i, j), o in zip(chunk, out if len(chunk) > 1 else out[None], strict=True):
            diff = _select_output(o, output) - clean
            sq[i] += float(np.sum(diff * diff))
            if i == 0:
                dose[j] = diff.mean(axis=0)
    return sq, dose


def causal_check(
    model: Any,
    inputs: Any,
    *,
    layer: Any,
    direction: Any,
    output: int | Callable[[np.ndarray], Any] | None = None,
    mode: str = "ablate",
    n_random: int = 50,
    alpha: float = 0.05,
    seed: int | None = 0,
    positions: Any = None,
    scales: Sequence[float] = (-2.0, -1.0, 1.0, 2.0),
    tokenizer: Any = None,
    pooling: str = "last_token",
    batch_size: int = 64,
    max_length: int | None = None,
    reuse_prefix: bool = True,
) -> CheckResult:
    """Whether removing a probe's direction changes the model's output more than chance.

    Parameters
    ----------
    model : torch.nn.Module
    inputs : list of str, dict of tensors, ndarray or tensor
        As :func:`assay.probe.capture`.
    layer : str or nn.Module
        The layer the probe was fitted on (batch-first output).
    direction : LogisticProbe, MassMeanProbe, CCS or array-like (d,)
        Fitted on activations of ``layer`` (its token positions pooled in any way).
    output : None, int or callable
        The quantity whose change is measured: ``None`` the model's whole (pooled) output, an
        int one column of it (a logit), or a callable mapping the ``(n, k)`` output array to
        ``(n,)`` or ``(n, m)`` (a class probability, a per-input loss).
    mode : {"ablate", "project", "steer"}
    n_random : int
        Random directions in each null (isotropic and variance-matched);
        ``1 / (n_random + 1)`` must be at most ``alpha``.
    alpha : float
    seed : int or None
    positions : int or list of int, optional
        Token positions to intervene on (default: all non-padding positions).
    scales : sequence of float
        For ``mode="steer"``: multiples of the activations' standard deviation along the
        direction that are added.
    tokenizer, pooling, batch_size, max_length
        As :func:`assay.probe.intervene`.
    reuse_prefix : bool
        The fast path: what runs before ``layer``, and the layer's own output, are computed
        once and replayed; several interventions (up to 16) run as stacked copies of a batch
        in one forward call. Replay is checked against a real clean pass, and stacking against
        a clean copy stacked with a perturbed one (rows must not interact); whatever fails its
        check is not used. Plain ``nn.Linear`` maps fed the layer's output tensor itself (the
        query, key and value maps of the block above) return their recorded clean output plus
        the rank-one change ``a (W v)`` instead of a full matrix product. Same random
        directions as the reference path, and effects equal up to float rounding.
        ``False``: one full forward pass per direction (the reference). Either way, strings
        are batched by token length unless ``positions`` are given.

    Returns
    -------
    CheckResult
        ``metrics``: ``effect``, ``null_median``, ``p_value`` (variance-matched),
        ``p_value_isotropic``, ``effect_ratio`` (effect / null median). ``data``: the null
        effects, the directions' activation variances and, for ``"steer"``, the
        ``dose_response`` (mean output change per scale).

    Examples
    --------
    >>> import numpy as np, torch
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> net = torch.nn.Sequential(torch.nn.Identity(), torch.nn.Linear(6, 1))
    >>> with torch.no_grad():
    ...     _ = net[1].weight.copy_(torch.tensor([[3.0, 0, 0.2, 0.2, 0.2, 0.2]]))
    >>> X = np.random.default_rng(0).normal(size=(300, 6))
    >>> causal_check(net, X, layer="0", direction=np.eye(6)[0], n_random=30).status
    'ok'
    >>> causal_check(net, X, layer="0", direction=np.eye(6)[1], n_random=30).status
    'alert'
    """
    torch = import_optional("torch", purpose="causal checks")
    if mode not in MODES:
        msg = f"mode must be one of {MODES}; got {mode!r}."
        raise InvalidInputError(msg)
    n_random = check_int(n_random, name="n_random", minimum=1)
    if not 0.0 < float(alpha) < 1.0:
        msg = f"alpha must be in (0, 1); got {alpha!r}."
        raise InvalidInputError(msg)
    if 1.0 / (n_random + 1) > alpha:
        msg = (
            f"with n_random={n_random} the smallest possible p-value is 1/{n_random + 1} > "
            f"alpha={alpha}; use n_random >= {int(np.ceil(1 / alpha)) - 1}."
        )
        raise InvalidInputError(msg)
    seed = check_seed(seed)
    scales = [float(s) for s in scales]
    if mode == "steer" and (not scales or any(s == 0.0 for s in scales)):
        msg = f"scales must be non-empty and non-zero for mode='steer'; got {scales}."
        raise InvalidInputError(msg)
    u = probe_direction(direction)
    d = u.size
    from assay.probe._capture import _positions_index, _resolve, prepare
    from assay.probe._prefix import PrefixCache
    from assay.probe._rank1 import LinearShortcut

    if positions is None:  # similar lengths batched together: less padding (not with
        # positions: a negative position counts from the end of the padded batch). Both paths
        # batch alike, so their clean passes, covariances and random directions are identical
        inputs = _by_length(inputs, tokenizer, max_length)
    batches = prepare(inputs, tokenizer, batch_size, max_length)  # tokenize once
    run = {"pooling": pooling, "batch_size": batch_size}
    module = _resolve(model, [layer])[0][1]
    cache = PrefixCache(model, module, include_layer=True) if reuse_prefix else None

    def touched(h: Any, sel: Any) -> Any:
        if h.shape[-1] != d:
            msg = (
                f"direction has {d} entries but layer {layer!r} outputs {h.shape[-1]} features; "
                "fit the probe on this layer's activations."
            )
            raise InvalidInputError(msg)
        if sel is None and positions is not None:
            msg = (
                f"positions were given but layer {layer!r} outputs {tuple(h.shape)}, which has "
                "no token axis; drop positions."
            )
            raise InvalidInputError(msg)
        if sel is None or positions is None:
            return sel
        keep = torch.zeros(h.shape[1], dtype=torch.bool, device=h.device)
        keep[torch.as_tensor(_positions_index(positions, h.shape[1]), device=h.device)] = True
        return sel & keep[None, :]

    # clean pass: the outputs and the first two moments of the touched activations
    acc = {"n": 0, "s": np.zeros(d), "ss": np.zeros((d, d))}

    shortcut = LinearShortcut(model, module, torch) if reuse_prefix else None

    def record(h: Any, sel: Any, rows: slice) -> None:
        if shortcut is not None:
            shortcut.note_rows(rows.start)
        sel = touched(h, sel)
        flat = h if sel is None else h[sel]
        flat = flat.to("cpu", torch.float64).numpy()
        acc["n"] += flat.shape[0]
        acc["s"] += flat.sum(axis=0)
        acc["ss"] += flat.T @ flat
        return None

    if shortcut is not None:
        shortcut.start_recording()
    try:
        raw_clean = run_patched(model, batches, layer, record, prefix=cache, **run)
    finally:
        if shortcut is not None:
            shortcut.stop()
    if shortcut is not None and not shortcut.active:
        shortcut = None
    clean = _select_output(raw_clean, output)
    stack = _replay_check(model, batches, layer, cache, raw_clean, run)
    if acc["n"] < 2:
        msg = "fewer than two activations were touched; pass more inputs or positions."
        raise InvalidInputError(msg)
    mu = acc["s"] / acc["n"]
    sigma = (acc["ss"] - acc["n"] * np.outer(mu, mu)) / (acc["n"] - 1)
    rng = np.random.default_rng(seed)
    iso, matched, exact = null_directions(u, sigma, n_random, rng)

    directions = np.vstack([u[None, :], iso, matched])
    n_scales = len(scales) if mode == "steer" else 1
    jobs = [(i, j) for i in range(len(directions)) for j in range(n_scales)]
    if shortcut is not None:
        shortcut.enable()
    try:
        sq, dose = _run_jobs(model, batches, layer, directions, jobs, stack, mode, scales,
                             sigma, mu, touched, shortcut, cache, run, output, clean,
                             torch)  # fmt: skip
    finally:
        if shortcut is not None:
            shortcut.stop()
    rms = np.sqrt(sq / (n_scales * clean.size))
    effect, null_iso, null_matched = float(rms[0]), rms[1 : 1 + n_random], rms[1 + n_random :]
    dose = dose if mode == "steer" else None
    if not np.isfinite(effect) or not np.all(np.isfinite(null_matched)):
        msg = "the model's output is not finite under the intervention."
        raise ModelError(msg)
    p = (1 + int(np.sum(null_matched >= effect))) / (n_random + 1)
    p_iso = (1 + int(np.sum(null_iso >= effect))) / (n_random + 1)
    med = float(np.median(null_matched))
    ratio = effect / med if med > 0 else float("inf") if effect > 0 else 1.0
    what = {
        "ablate": "Mean-ablating",
        "project": "Projecting out",
        "steer": "Steering along",
    }[mode]
    beaten = int(np.sum(null_matched < effect))
    if p <= alpha:
        status, passed = "ok", True
        verdict = (
            f"{what} the probe direction at {layer!r} changes the output by {effect:.3g} "
            f"(RMS), {ratio:.1f} times the median of {n_random} random directions with the same "
            f"activation variance and more than {'all ' if beaten == n_random else ''}"
            f"{beaten} of them (p = {p:.3f}): the model uses "
            "what the probe reads."
        )
    else:
        status, passed = "alert", False
        verdict = (
            f"{what} the probe direction at {layer!r} changes the output by {effect:.3g} "
            f"(RMS), no more than random directions with the same activation variance "
            f"(median {med:.3g}; p = {p:.2f}): the probe reads something the model does not "
            "use at this layer for this output."
        )
    data: dict[str, Any] = {
        "null_matched": null_matched,
        "null_isotropic": null_iso,
        "direction_variance": float(u @ sigma @ u),
        "matched_variance": np.einsum("ij,jk,ik->i", matched, sigma, matched),
        "variance_matched_exactly": exact,
    }
    if dose is not None:
        data["dose_response"] = {"scales": scales, "mean_change": dose}
        slope = float(np.polyfit(scales, dose.mean(axis=1), 1)[0])
        data["dose_response"]["slope"] = slope
    return CheckResult(
        name="causal",
        verdict=verdict,
        status=status,
        passed=passed,
        metrics={
            "effect": effect,
            "null_median": med,
            "null_isotropic_median": float(np.median(null_iso)),
            "p_value": p,
            "p_value_isotropic": p_iso,
            "effect_ratio": ratio,
        },
        data=data,
        params={
            "layer": str(layer),
            "mode": mode,
            "n_random": n_random,
            "alpha": alpha,
            "seed": seed,
            "positions": None if positions is None else np.atleast_1d(positions).tolist(),
            "scales": scales if mode == "steer" else None,
            "pooling": pooling,
            "n_activations": acc["n"],
            "prefix_modules_replayed": (
                cache.n_modules if cache is not None and cache.mode == "replay" else 0
            ),
            "layer_replayed": bool(
                cache is not None and cache.mode == "replay" and cache.layer_replayed
            ),
            "interventions_per_pass": stack,
            "rank_one_linears": 0 if shortcut is None else len(shortcut.clean),
        },
    )
