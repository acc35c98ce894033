"""Concept erasure inside the model: what erasing a concept at a layer costs the model's task.

:func:`erase_in_model` fits the LEACE eraser (:class:`assay.probe.LeaceEraser`) on a layer's
pooled activations (training rows), applies the same affine map to that layer's output inside
the forward pass (every non-padding token position), runs the rest of the model, and compares
the model's own predictions before and after on held-out rows. Because the eraser is affine,
mean-pooling the erased token activations gives exactly the erased pooled activations, so the
probe accuracy after erasure is that of the activations the rest of the model receives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from assay._validation import as_vector, check_seed, import_optional
from assay.errors import InvalidInputError, ModelError
from assay.probe._checks import CheckResult

__all__ = ["erase_in_model"]


def _predictions(out: np.ndarray, predict: Callable[[np.ndarray], Any] | None) -> np.ndarray:
    if predict is not None:
        pred = np.asarray(predict(out))
        if pred.shape != (out.shape[0],):
            msg = f"predict gave shape {pred.shape}; it must give one label per input."
            raise InvalidInputError(msg)
        return pred
    if out.shape[1] == 1:
        return (out[:, 0] > 0).astype(np.int64)
    return np.argmax(out, axis=1)


def erase_in_model(
    model: Any,
    inputs: Any,
    concept: Any,
    *,
    layer: Any,
    task: Any = None,
    predict: Callable[[np.ndarray], Any] | None = None,
    tokenizer: Any = None,
    pooling: str = "mean",
    output_pooling: str = "last_token",
    probe: Any = "logistic",
    test_size: float = 0.3,
    alpha: float = 0.05,
    seed: int | None = 0,
    batch_size: int = 64,
    max_length: int | None = None,
) -> CheckResult:
    """Erase a concept at ``layer`` inside the model and measure the task accuracy it costs.

    The rows are split as in :func:`assay.probe.erase` (stratified on the concept, same
    ``seed``): the eraser and the concept probes are fitted on the training rows; the probe
    accuracy after erasure and the model's task accuracy before and after are measured on the
    held-out rows.

    Parameters
    ----------
    model : torch.nn.Module
    inputs : list of str, dict of tensors, ndarray or tensor
        As :func:`assay.probe.capture`.
    concept : array-like (n,)
        Class labels of the concept to erase.
    layer : str or nn.Module
        Where to erase (batch-first output, ``(batch, features)`` or
        ``(batch, tokens, features)``).
    task : array-like (n,), optional
        True labels of the model's task. Without it only the share of held-out predictions
        that erasure leaves unchanged is reported.
    predict : callable, optional
        Maps the model's pooled outputs ``(n, k)`` to labels; default the argmax over
        columns (one column: ``> 0``).
    tokenizer : callable, optional
    pooling : {"mean", "last_token", "cls"}
        How the layer's token activations are pooled for the eraser and the probes.
    output_pooling : {"last_token", "mean", "cls"}
        How a ``(batch, tokens, k)`` model output becomes one row per input.
    probe : {"logistic", "massmean", "lda"} or estimator
    test_size, alpha, seed
        As :func:`assay.probe.erase`.
    batch_size, max_length : int

    Returns
    -------
    CheckResult
        ``metrics``: the :func:`assay.probe.erase` metrics on the layer's activations, plus
        ``prediction_agreement`` (held-out predictions unchanged by the erasure) and, with
        ``task``, ``task_accuracy_before`` / ``_after``, ``task_cost`` and ``task_p_value``
        (exact McNemar test on the held-out rows). Status "alert" when the concept is still
        readable after erasure; "warning" when it is erased but the task accuracy falls
        significantly; "ok" otherwise.

    Examples
    --------
    >>> import numpy as np, torch
    >>> net = torch.nn.Sequential(torch.nn.Identity(), torch.nn.Linear(4, 2))
    >>> with torch.no_grad():  # the head reads feature 1 (the task), not feature 0
    ...     _ = net[1].weight.copy_(torch.tensor([[0.0, -1, 0, 0], [0.0, 1, 0, 0]]))
    ...     _ = net[1].bias.zero_()
    >>> rng = np.random.default_rng(0)
    >>> z, y = rng.integers(0, 2, 400), rng.integers(0, 2, 400)
    >>> X = rng.normal(size=(400, 4)); X[:, 0] += 3 * z; X[:, 1] += 3 * (2 * y - 1)
    >>> r = erase_in_model(net, X.astype(np.float32), z, layer="0", task=y)
    >>> r.status, round(r.metrics["task_cost"], 2)
    ('ok', 0.0)
    """
    from scipy.stats import binomtest

    from assay.probe._capture import _resolve, capture, prepare, run_patched
    from assay.probe._erase import LeaceEraser, _split, erase

    torch = import_optional("torch", purpose="erasing inside a model")
    seed = check_seed(seed)
    name = _resolve(model, [layer])[0][0]
    batches = prepare(inputs, tokenizer, batch_size, max_length)  # tokenize once
    acts = capture(model, batches, [name], pooling=pooling, batch_size=batch_size)[name]
    n = acts.shape[0]
    z = np.asarray(as_vector(concept, name="concept", n_rows=n, numeric=False))
    y = None if task is None else np.asarray(as_vector(task, name="task", n_rows=n, numeric=False))
    base = erase(acts, z, probe=probe, test_size=test_size, alpha=alpha, seed=seed)
    train, test = _split(z, test_size, seed)  # the rows erase() used
    eraser = LeaceEraser().fit(np.asarray(acts, dtype=float)[train], z[train])
    mean, proj = eraser.mean_, eraser.proj_

    def erase_fn(h: Any, sel: Any, _rows: slice) -> Any:
        if h.shape[-1] != mean.size:
            msg = f"layer {name!r} outputs {h.shape[-1]} features; expected {mean.size}."
            raise ModelError(msg)
        m = torch.as_tensor(mean, dtype=h.dtype, device=h.device)
        p = torch.as_tensor(proj, dtype=h.dtype, device=h.device)
        delta = (h - m) @ p.T
        if sel is not None:
            delta = delta * sel[..., None].to(h.dtype)
        return h - delta

    run = {"pooling": output_pooling, "batch_size": batch_size}
    pred_before = _predictions(run_patched(model, batches, name, None, **run), predict)
    pred_after = _predictions(run_patched(model, batches, name, erase_fn, **run), predict)
    metrics = dict(base.metrics)
    agree = float(np.mean(pred_before[test] == pred_after[test]))
    metrics["prediction_agreement"] = agree
    m = base.metrics
    words = (
        f"Erased at {name!r}, a probe reads the concept at {m['concept_accuracy_after']:.2f} on "
        f"held-out rows (chance {m['chance']:.2f}; {m['concept_accuracy_before']:.2f} before)."
    )
    status = base.status
    if y is not None:
        right_before = pred_before[test] == y[test]
        right_after = pred_after[test] == y[test]
        lost = int(np.sum(right_before & ~right_after))
        gained = int(np.sum(~right_before & right_after))
        p_task = (
            float(binomtest(lost, lost + gained, 0.5, alternative="greater").pvalue)
            if lost + gained
            else 1.0
        )
        t0, t1 = float(right_before.mean()), float(right_after.mean())
        metrics.update(
            task_accuracy_before=t0, task_accuracy_after=t1, task_cost=t0 - t1,
            task_p_value=p_task,
        )  # fmt: skip
        change = (
            f"falls from {t0:.2f} to {t1:.2f} (McNemar p = {p_task:.3g})"
            if p_task <= alpha
            else f"goes from {t0:.2f} to {t1:.2f}, no significant loss (McNemar p = {p_task:.2f})"
        )
        words += f" The model's own task accuracy {change}."
        if status == "ok" and p_task <= alpha:
            status = "warning"
    else:
        words += f" {agree:.0%} of the model's held-out predictions are unchanged."
    if status == "alert":
        words += " Linear erasure fitted on the training rows does not remove the concept."
    return CheckResult(
        name="erasure_in_model",
        verdict=words,
        status=status,
        passed=status == "ok",
        metrics=metrics,
        data={"n_train": int(train.size), "n_test": int(test.size)},
        params={
            **base.params,
            "layer": name,
            "pooling": pooling,
            "output_pooling": output_pooling,
        },
    )
