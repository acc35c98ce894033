"""LIME for text: token masking for any callable classifier (strings in, probabilities out).

Each text is split into tokens (``token_pattern``, default words ``\\w+``). A sample keeps a
random subset of the tokens: the number removed is uniform on ``1..n_tokens`` and the removed
positions are uniform given that number (as the ``lime`` package, but the all-removed text is
allowed, which pins the intercept). Removed tokens are replaced by ``mask`` (default: deleted,
the surrounding text kept as is). The interpretable features are the keep indicators
``phi_j in {0, 1}``; the kernel is ``exp(-D^2 / (2 w^2))`` with ``D = 100 * cosine distance``
between ``phi`` and the all-ones vector and ``w = 25`` (``lime``'s defaults). A K-lasso plus
weighted ridge surrogate (shared with tabular LIME) is fitted per text and output.

Attribution of token ``j``: ``beta_j``, its effect of being present versus masked
(``phi_j(x) - 0``); ``base_values`` is the surrogate at the fully masked text, so
``values.sum(0) + base_values`` is the surrogate's prediction for the full text.

Also defines :class:`TokenExplanation`, the result type for token-level attributions (texts
have different lengths, so values are one array per text).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from assay._deprecation import renamed
from assay._results import FromDict, ResultDisplay, to_jsonable
from assay._validation import check_int, check_seed
from assay.attribution._lime import fit_sparse_surrogates
from assay.errors import InvalidInputError, ModelError

__all__ = ["LimeText", "TokenExplanation"]


@dataclass(frozen=True, eq=False)
class TokenExplanation(ResultDisplay, FromDict):
    """Per-token attributions for a list of texts.

    Attributes
    ----------
    tokens : list of list of str
        The tokens of each text.
    values : list of ndarray, each of shape (n_tokens_i, n_outputs)
        Attribution of each token of text ``i`` to each output.
    base_values : ndarray of shape (n_texts, n_outputs)
        Reference output (masked text for LIME, baseline embeddings for gradients).
    output_names : list of str
    method : str
    params : dict
        Options, seed and per-text diagnostics (lists).
    schema_version : int

    Examples
    --------
    >>> import numpy as np
    >>> e = TokenExplanation(tokens=[["a", "b"]], values=[np.array([[1.0], [2.0]])],
    ...                      base_values=np.zeros((1, 1)), output_names=["y"], method="lime")
    >>> e.to_dict()["values"]
    [[[1.0], [2.0]]]
    """

    tokens: list[list[str]]
    values: list[np.ndarray]
    base_values: np.ndarray
    output_names: list[str]
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    SCHEMA_VERSION: ClassVar[int] = 1  # this kind's one schema version
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        values = [np.asarray(v, dtype=np.float64) for v in self.values]
        base = np.asarray(self.base_values, dtype=np.float64)
        k = len(self.output_names)
        if len(values) != len(self.tokens) or base.shape != (len(values), k):
            msg = (
                f"need one value array per text ({len(self.tokens)}) and base_values of shape "
                f"({len(self.tokens)}, {k}); got {len(values)} arrays and {base.shape}."
            )
            raise InvalidInputError(msg)
        for i, (v, t) in enumerate(zip(values, self.tokens, strict=True)):
            if v.shape != (len(t), k):
                msg = f"values[{i}] must have shape {(len(t), k)}; got {v.shape}."
                raise InvalidInputError(msg)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "base_values", base)
        object.__setattr__(self, "tokens", [[str(s) for s in t] for t in self.tokens])
        object.__setattr__(self, "output_names", [str(o) for o in self.output_names])
        object.__setattr__(self, "params", dict(self.params))

    def __len__(self) -> int:
        return len(self.values)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable dict; inverse of :meth:`from_dict`."""
        return {
            "schema_version": self.schema_version,
            "kind": "TokenExplanation",
            "method": self.method,
            "tokens": self.tokens,
            "values": [v.tolist() for v in self.values],
            "base_values": self.base_values.tolist(),
            "output_names": self.output_names,
            "params": to_jsonable(self.params),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TokenExplanation:
        """Rebuild from :meth:`to_dict` output."""
        k = len(d["output_names"])
        return cls(
            tokens=d["tokens"],
            values=[np.asarray(v, dtype=np.float64).reshape(-1, k) for v in d["values"]],
            base_values=np.asarray(d["base_values"], dtype=np.float64),
            output_names=d["output_names"],
            method=d["method"],
            params=d.get("params", {}),
            schema_version=d.get("schema_version", cls.SCHEMA_VERSION),
        )

    def __repr__(self) -> str:
        return (
            f"TokenExplanation(method={self.method!r}, texts={len(self.values)}, "
            f"outputs={len(self.output_names)})"
        )


class LimeText:
    """LIME for any text classifier ``f(list[str]) -> array (n_texts, n_outputs)``.

    Parameters
    ----------
    classifier : callable
        Takes a list of strings, returns probabilities (or any scores) of shape
        (n_texts, n_outputs) or (n_texts,).
    n_samples : int, default 1000
        Masked variants per text, the full text included.
    n_select : int, default 10
        K-lasso: at most this many tokens per text and output get a nonzero attribution.
    kernel_width : float, default 25.0
        Width on ``100 * cosine distance``.
    l2 : float, default 1.0
        Ridge penalty.
    alpha : float, optional
        Deprecated name of ``l2`` (``alpha`` is kept for significance levels).
    mask : str, default ""
        Replacement for a removed token ("" deletes it; e.g. "[MASK]" or "[UNK]").
    token_pattern : str, default r"\\w+"
        Regular expression of a token; text between tokens is always kept.
    batch_size : int, default 1000
        Texts per classifier call (samples of many texts are pooled).
    output_names : sequence of str, optional

    Examples
    --------
    >>> import numpy as np
    >>> clf = lambda ts: np.array([[0.2 + 0.5 * ("great" in t.split())] for t in ts])
    >>> res = LimeText(clf, n_samples=300, l2=0.0).explain(["a great film"], seed=0)
    >>> np.round(res.values[0][:, 0], 6).tolist()
    [0.0, 0.5, 0.0]
    """

    method = "lime_text"

    def __init__(
        self,
        classifier: Callable[[list[str]], Any],
        *,
        n_samples: int = 1000,
        n_select: int = 10,
        kernel_width: float = 25.0,
        l2: float = 1.0,
        mask: str = "",
        token_pattern: str = r"\w+",
        batch_size: int = 1000,
        output_names: Sequence[str] | None = None,
        alpha: float | None = None,
    ) -> None:
        l2 = renamed(alpha, l2, old="alpha", new="l2", default=1.0, where="LimeText")
        if not callable(classifier):
            msg = (
                f"classifier must be callable (list of str -> array); got "
                f"{type(classifier).__name__}."
            )
            raise InvalidInputError(msg)
        self.classifier = classifier
        self.n_samples = check_int(n_samples, name="n_samples", minimum=10)
        self.n_select = check_int(n_select, name="n_select", minimum=1)
        if not isinstance(kernel_width, (int, float)) or not kernel_width > 0:
            msg = f"kernel_width must be a positive number; got {kernel_width!r}."
            raise InvalidInputError(msg)
        self.kernel_width = float(kernel_width)
        if not isinstance(l2, (int, float)) or not np.isfinite(l2) or l2 < 0:
            msg = f"l2 (the ridge penalty) must be a finite number >= 0; got {l2!r}."
            raise InvalidInputError(msg)
        self.l2 = float(l2)
        self.mask = str(mask)
        try:
            self._pattern = re.compile(token_pattern)
        except re.error as exc:
            msg = f"token_pattern {token_pattern!r} is not a valid regular expression ({exc})."
            raise InvalidInputError(msg) from exc
        self.token_pattern = token_pattern
        self.batch_size = check_int(batch_size, name="batch_size", minimum=1)
        self.output_names = None if output_names is None else [str(o) for o in output_names]

    def _call(self, texts: list[str]) -> np.ndarray:
        outs = []
        for start in range(0, len(texts), self.batch_size):
            chunk = texts[start : start + self.batch_size]
            try:
                out = np.asarray(self.classifier(chunk), dtype=np.float64)
            except Exception as exc:
                msg = (
                    f"the text classifier failed on {len(chunk)} texts: {type(exc).__name__}: {exc}"
                )
                raise ModelError(msg) from exc
            if out.ndim == 1:
                out = out[:, None]
            if out.ndim != 2 or out.shape[0] != len(chunk):
                msg = (
                    f"the text classifier returned shape {out.shape} for {len(chunk)} texts; "
                    "expected (n_texts, n_outputs)."
                )
                raise ModelError(msg)
            outs.append(out)
        return np.concatenate(outs, axis=0)

    def explain(self, texts: Sequence[str], *, seed: int | None = None) -> TokenExplanation:
        """Token attributions for each text.

        Parameters
        ----------
        texts : str or sequence of str
        seed : int, optional
            Text ``i`` uses ``SeedSequence(seed, spawn_key=(i,))``; None draws a seed, recorded
            in ``params["seed"]``.

        Returns
        -------
        TokenExplanation
            ``params`` holds ``surrogate_r2`` (n_texts, n_outputs) and
            ``model_prediction`` (the classifier on the full texts).
        """
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        if not texts or not all(isinstance(t, str) for t in texts):
            msg = "texts must be a non-empty list of strings."
            raise InvalidInputError(msg)
        seed = check_seed(seed)
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % 2**63)
        m = self.n_samples
        spans, keeps, variants = [], [], []
        for i, text in enumerate(texts):
            sp = [mt.span() for mt in self._pattern.finditer(text)]
            if not sp:
                msg = f"text {i} ({text[:40]!r}) has no tokens matching {self.token_pattern!r}."
                raise InvalidInputError(msg)
            d = len(sp)
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(i,)))
            keep = np.ones((m, d), dtype=bool)
            n_remove = rng.integers(1, d + 1, size=m - 1)
            order = rng.random((m - 1, d)).argsort(axis=1)
            keep[1:] = order >= n_remove[:, None]
            spans.append(sp)
            keeps.append(keep)
            variants.extend(self._render(text, sp, row) for row in keep)
        f = self._call(variants)
        k = f.shape[1]
        names = self.output_names or [f"output_{j}" for j in range(k)]
        if len(names) != k:
            msg = f"{len(names)} output_names were given but the classifier returns {k} outputs."
            raise InvalidInputError(msg)
        values, base, r2, pred = [], np.empty((len(texts), k)), [], []
        for i, keep in enumerate(keeps):
            fi = f[i * m : (i + 1) * m]
            phi = keep.astype(np.float64)
            kept = phi.sum(axis=1)
            cos = np.sqrt(kept / phi.shape[1])  # cosine similarity with the all-ones vector
            dist = 100.0 * (1.0 - cos)
            w = np.exp(-(dist**2) / (2.0 * self.kernel_width**2))
            fit = fit_sparse_surrogates(
                phi[None], w[None], fi[None], n_select=self.n_select, l2=self.l2
            )
            values.append(fit["coef"][0])
            base[i] = fit["intercept"][0]
            r2.append(fit["r2"][0].tolist())
            pred.append(fi[0].tolist())
        tokens = [[t[a:b] for a, b in sp] for t, sp in zip(texts, spans, strict=True)]
        return TokenExplanation(
            tokens=tokens,
            values=values,
            base_values=base,
            output_names=names,
            method=self.method,
            params={
                "seed": seed,
                "n_samples": m,
                "n_select": self.n_select,
                "kernel_width": self.kernel_width,
                "l2": self.l2,
                "mask": self.mask,
                "token_pattern": self.token_pattern,
                "surrogate_r2": r2,
                "model_prediction": pred,
                "model_texts_evaluated": len(variants),
            },
        )

    def _render(self, text: str, spans: list[tuple[int, int]], keep: np.ndarray) -> str:
        parts, pos = [], 0
        for (a, b), kept in zip(spans, keep, strict=True):
            parts.append(text[pos:a])
            parts.append(text[a:b] if kept else self.mask)
            pos = b
        parts.append(text[pos:])
        return "".join(parts)
