"""Word n-gram overlap between an evaluation set and a training corpus, streamed.

The evaluation set's n-grams (normalized words, ``n = 13`` as in GPT-3 and
lm-evaluation-harness) are hashed into a small sorted table; the corpus is then streamed
through a compiled scanner in fixed-size chunks, so memory stays bounded by the chunk size and
the table whatever the corpus size. A corpus can be files (read in chunks), an iterable of
documents, or a Dask bag of documents (scanned per partition on a cluster).

Hashes are 64-bit: a corpus n-gram falsely matching an evaluation n-gram has probability about
``len(table) / 2**64`` per corpus n-gram; the expected number of such false matches is reported
in ``params["expected_false_matches"]`` (about 1e-8 for a 1 GB corpus and a 1,000-example set).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assay._validation import check_int
from assay.errors import InvalidInputError
from assay.evals import _hashing as hz
from assay.evals._results import ContaminationReport, subset_metrics

__all__ = ["NgramIndex", "build_index", "ngram_overlap"]


@dataclass(frozen=True, eq=False)
class NgramIndex:
    """The hashed n-grams of an evaluation set and which examples own each.

    Attributes
    ----------
    n : int
        Words per n-gram.
    hashes : ndarray of uint64, shape (n_unique,)
        Sorted unique n-gram hashes.
    owner_ptr, owner_idx : ndarray of int64
        Examples owning ``hashes[j]`` are ``owner_idx[owner_ptr[j]:owner_ptr[j + 1]]``.
    n_ngrams : ndarray of int64, shape (n_examples,)
        Distinct n-grams per example (0 for examples shorter than ``n`` words).

    Examples
    --------
    >>> idx = build_index(["the cat sat on the mat", "a dog"], n=3)
    >>> idx.n_ngrams.tolist()
    [4, 0]
    """

    n: int
    hashes: np.ndarray
    owner_ptr: np.ndarray
    owner_idx: np.ndarray
    n_ngrams: np.ndarray

    @property
    def n_examples(self) -> int:
        return int(self.n_ngrams.shape[0])

    def save(self, path: str | os.PathLike) -> None:
        """Write the n-gram hashes themselves (npz, no pickle) to ``path``."""
        np.savez_compressed(
            path,
            n=np.int64(self.n),
            hashes=self.hashes,
            owner_ptr=self.owner_ptr,
            owner_idx=self.owner_idx,
            n_ngrams=self.n_ngrams,
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> NgramIndex:
        """Read an index written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as z:
            return cls(
                n=int(z["n"]),
                hashes=z["hashes"],
                owner_ptr=z["owner_ptr"],
                owner_idx=z["owner_idx"],
                n_ngrams=z["n_ngrams"],
            )


def _as_texts(examples: Any, name: str) -> list[str]:
    if isinstance(examples, str) or not isinstance(examples, Iterable):
        msg = f"{name} must be a sequence of strings; got {type(examples).__name__}."
        raise InvalidInputError(msg)
    texts = list(examples)
    if not texts:
        msg = f"{name} is empty; pass at least one example text."
        raise InvalidInputError(msg)
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        msg = (
            f"{name} must hold strings; item {bad[0]} is {type(texts[bad[0]]).__name__}. "
            "Render each example to its text first."
        )
        raise InvalidInputError(msg)
    return texts


def _text_hashes(text: str, n: int) -> np.ndarray:
    buf = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    out = np.empty(buf.shape[0] // 2 + 2, dtype=np.uint64)
    k = hz.ngram_hashes(buf, n, *hz.new_state(n), True, out)
    return out[:k]


def build_index(examples: Sequence[str], *, n: int = 13) -> NgramIndex:
    """Hash the word n-grams of each evaluation example.

    Examples
    --------
    >>> idx = build_index(["one two three four"], n=2)
    >>> len(idx.hashes)
    3
    """
    texts = _as_texts(examples, "examples")
    n = check_int(n, name="n", minimum=1, maximum=1000)
    per = [np.unique(_text_hashes(t, n)) for t in texts]
    counts = np.array([p.shape[0] for p in per], dtype=np.int64)
    allh = np.concatenate(per) if counts.sum() else np.empty(0, np.uint64)
    owner = np.repeat(np.arange(len(texts), dtype=np.int64), counts)
    order = np.lexsort((owner, allh))
    allh, owner = allh[order], owner[order]
    hashes, starts = np.unique(allh, return_index=True)
    ptr = np.append(starts, allh.shape[0]).astype(np.int64)
    return NgramIndex(n=n, hashes=hashes, owner_ptr=ptr, owner_idx=owner, n_ngrams=counts)


class _Scanner:
    """Holds the table, the bitmap prefilter and the hit counts of one scan."""

    def __init__(self, table: np.ndarray, n: int, line_docs: bool) -> None:
        self.table, self.n, self.line_docs = table, n, line_docs
        bits = 1 << 16
        while bits < 32 * max(table.shape[0], 1) and bits < (1 << 30):
            bits <<= 1
        self.shift = np.uint64(64 - (bits.bit_length() - 1))
        self.bitmap = hz.build_bitmap(table, self.shift, bits // 64)
        self.hits = np.zeros(table.shape[0], dtype=np.int64)
        self.seen = 0
        self.bytes = 0
        self.documents = 0

    def scan(self, chunks: Iterable[np.ndarray]) -> None:
        """One document given as a stream of byte chunks."""
        state = hz.new_state(self.n)
        for buf in chunks:
            self.bytes += int(buf.shape[0])
            self.seen += hz.scan_chunk(
                buf,
                self.n,
                *state,
                False,
                self.line_docs,
                self.bitmap,
                self.shift,
                self.table,
                self.hits,
            )
        empty = np.empty(0, dtype=np.uint8)
        self.seen += hz.scan_chunk(
            empty,
            self.n,
            *state,
            True,
            self.line_docs,
            self.bitmap,
            self.shift,
            self.table,
            self.hits,
        )
        self.documents += 1


def _file_chunks(source: Any, chunk_bytes: int) -> Iterable[np.ndarray]:
    buffer = bytearray(chunk_bytes)
    view = np.frombuffer(buffer, dtype=np.uint8)
    owns = not hasattr(source, "read")
    fh = open(source, "rb") if owns else source
    try:
        while True:
            if hasattr(fh, "readinto"):
                got = fh.readinto(buffer)
                if not got:
                    return
                yield view[:got]
            else:
                data = fh.read(chunk_bytes)
                if not data:
                    return
                if isinstance(data, str):
                    data = data.encode("utf-8")
                yield np.frombuffer(data, dtype=np.uint8)
    finally:
        if owns:
            fh.close()


def _text_chunk(text: str) -> list[np.ndarray]:
    return [np.frombuffer(text.encode("utf-8"), dtype=np.uint8)]


def _scan_partition(texts: Iterable[str], table: np.ndarray, n: int, line_docs: bool) -> list:
    sc = _Scanner(table, n, line_docs)
    for t in texts:
        sc.scan(_text_chunk(t))
    return [(sc.hits, sc.seen, sc.bytes, sc.documents)]


def _is_dask_bag(obj: Any) -> bool:
    return type(obj).__module__.startswith("dask.bag") and hasattr(obj, "map_partitions")


def _expand_paths(corpus: Any) -> list[Any] | None:
    """Files to read, or None when the corpus is an iterable of document strings."""
    if isinstance(corpus, str):
        msg = (
            "corpus is a single string; pass pathlib.Path(...) for a file or directory, or a "
            "list of document strings."
        )
        raise InvalidInputError(msg)

    def is_file(x: Any) -> bool:
        return isinstance(x, os.PathLike) or hasattr(x, "read")

    if is_file(corpus):
        items = [corpus]
    elif isinstance(corpus, (list, tuple)) and corpus and all(is_file(x) for x in corpus):
        items = list(corpus)
    else:
        return None
    files: list[Any] = []
    for item in items:
        if hasattr(item, "read"):
            files.append(item)
            continue
        p = Path(item)
        if p.is_dir():
            files.extend(sorted(q for q in p.rglob("*") if q.is_file()))
        elif p.is_file():
            files.append(p)
        else:
            msg = f"corpus path {str(p)!r} does not exist."
            raise InvalidInputError(msg)
    return files


def ngram_overlap(
    examples: Sequence[str],
    corpus: Any,
    *,
    n: int = 13,
    threshold: float = 0.0,
    scores: Any = None,
    line_docs: bool = False,
    chunk_bytes: int = 8 << 20,
    ci_level: float = 0.95,
) -> ContaminationReport:
    """Find evaluation examples whose word n-grams occur in a training corpus.

    Parameters
    ----------
    examples : sequence of str, or NgramIndex
        The evaluation examples as text (or an index built by :func:`build_index`).
    corpus : Path, list of Path, file object, iterable of str, or dask.bag.Bag of str
        ``pathlib.Path`` objects (files, or directories read recursively) and binary file
        objects are streamed in ``chunk_bytes`` chunks; strings are documents (an n-gram never
        spans two documents); a Dask bag is scanned partition by partition where it lives.
    n : int
        Words per n-gram (13 by default, as lm-evaluation-harness).
    threshold : float
        An example is contaminated when the share of its distinct n-grams found in the corpus
        is above ``threshold`` (default: any n-gram found).
    scores : array-like of float, optional
        Per-example correctness or scores; the report then compares the clean subset with the
        contaminated one (means, intervals, Welch t-test).
    line_docs : bool
        Treat each line of a file as its own document (JSON-lines corpora).
    chunk_bytes : int
        Read size for files; peak memory is about this plus the table.

    Examples
    --------
    >>> report = ngram_overlap(["a b c d", "w x y z"], ["xx a b c d yy"], n=3)
    >>> report.contaminated.tolist()
    [True, False]
    """
    index = examples if isinstance(examples, NgramIndex) else build_index(examples, n=n)
    n = index.n
    chunk_bytes = check_int(chunk_bytes, name="chunk_bytes", minimum=1024)
    if not 0.0 <= float(threshold) < 1.0:
        msg = f"threshold must be in [0, 1); got {threshold!r}."
        raise InvalidInputError(msg)
    score_arr = None
    if scores is not None:
        score_arr = np.asarray(scores, dtype=float).ravel()
        if score_arr.shape[0] != index.n_examples or not np.isfinite(score_arr).all():
            msg = (
                f"scores must hold one finite number per example ({index.n_examples}); got "
                f"{score_arr.shape[0]} values."
            )
            raise InvalidInputError(msg)
    if corpus is None:
        msg = "corpus is None; pass files (pathlib.Path), document strings or a dask bag."
        raise InvalidInputError(msg)

    table = index.hashes
    if _is_dask_bag(corpus):
        parts = corpus.map_partitions(_scan_partition, table, n, bool(line_docs)).compute()
        hits = np.zeros(table.shape[0], np.int64)
        seen = n_bytes = docs = 0
        for h, s, b, d in parts:
            hits += h
            seen, n_bytes, docs = seen + s, n_bytes + b, docs + d
        source = "dask"
    else:
        sc = _Scanner(table, n, bool(line_docs))
        files = _expand_paths(corpus)
        if files is not None:
            for f in files:
                sc.scan(_file_chunks(f, chunk_bytes))
            source = "files"
        else:
            for i, doc in enumerate(corpus):
                if not isinstance(doc, str):
                    msg = (
                        f"corpus item {i} is {type(doc).__name__}, not str; pass document "
                        "strings, or pathlib.Path objects for files."
                    )
                    raise InvalidInputError(msg)
                sc.scan(_text_chunk(doc))
            source = "documents"
        hits, seen, n_bytes, docs = sc.hits, sc.seen, sc.bytes, sc.documents

    # per example: how many of its distinct n-grams were found
    found = np.repeat(hits > 0, np.diff(index.owner_ptr))
    matched = np.bincount(index.owner_idx[found], minlength=index.n_examples)
    with np.errstate(invalid="ignore", divide="ignore"):
        overlap = np.where(index.n_ngrams > 0, matched / np.maximum(index.n_ngrams, 1), 0.0)
    contaminated = (matched > 0) & (overlap > threshold)
    metrics = subset_metrics(score_arr, contaminated, ci_level) if score_arr is not None else {}
    return ContaminationReport(
        overlap=overlap.astype(float),
        n_ngrams=index.n_ngrams.astype(np.int64),
        n_matched=matched.astype(np.int64),
        contaminated=contaminated,
        too_short=index.n_ngrams == 0,
        metrics=metrics,
        params={
            "n": n,
            "threshold": float(threshold),
            "line_docs": bool(line_docs),
            "source": source,
            "bytes_scanned": int(n_bytes),
            "documents": int(docs),
            "corpus_ngrams": int(seen),
            "expected_false_matches": float(seen) * table.shape[0] / 2.0**64,
            "ci_level": float(ci_level),
        },
    )
