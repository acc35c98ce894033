"""Compiled word n-gram hashing over raw bytes (the hot loop of the contamination scan).

Normalization follows lm-evaluation-harness's decontamination janitor: ASCII letters are
lower-cased, ASCII punctuation is deleted (``"don't"`` -> ``"dont"``), words are split on ASCII
whitespace. Every other byte (digits, UTF-8 continuation bytes of non-ASCII text) is part of a
word, so a chunk boundary may fall anywhere, even inside a multi-byte character.

Each word is hashed with 64-bit FNV-1a and mixed with the splitmix64 finalizer; an n-gram's hash
is a polynomial of its word hashes modulo 2**64, updated in O(1) per word. The scanning state
(the last ``n`` word hashes, the word in progress) lives in small arrays so that a file can be
fed in chunks of any size with results identical to one pass over the whole file.
"""

from __future__ import annotations

import re
import string

import numba
import numpy as np

__all__ = ["CHAR_CLASS", "LOWER", "new_state", "normalize_words", "reference_ngram_hashes"]

# byte classes: 0 separates words, 1 is deleted, 2 is kept (after lower-casing)
CHAR_CLASS = np.full(256, 2, dtype=np.uint8)
for _c in string.whitespace:
    CHAR_CLASS[ord(_c)] = 0
for _c in string.punctuation:
    CHAR_CLASS[ord(_c)] = 1
LOWER = np.arange(256, dtype=np.uint8)
LOWER[ord("A") : ord("Z") + 1] += 32

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_POLY = np.uint64(0x9E3779B97F4A7C15)  # odd multiplier of the n-gram polynomial

_ASCII_SPACE = re.compile(f"[{re.escape(string.whitespace)}]+")

# state slots (int64 array): words seen in this document, ring position, a word is open
_COUNT, _POS, _OPEN = 0, 1, 2


def normalize_words(text: str) -> list[str]:
    """The words of ``text`` after normalization (the pure-Python definition of the kernel).

    Examples
    --------
    >>> normalize_words("Don't PANIC -- it's fine!")
    ['dont', 'panic', 'its', 'fine']
    """
    table = str.maketrans(string.ascii_uppercase, string.ascii_lowercase, string.punctuation)
    # str.split() would also split on non-ASCII whitespace; the kernel works on bytes
    return [w for w in _ASCII_SPACE.split(text.translate(table)) if w]


def new_state(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fresh scanning state: ``(ring of n word hashes, int64 slots, uint64 [word, ngram])``."""
    return np.zeros(n, np.uint64), np.zeros(3, np.int64), np.array([_FNV_OFFSET, 0], np.uint64)


@numba.njit(cache=True, inline="always")
def _mix(h):
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return h


@numba.njit(cache=True)
def _power(n):
    p = np.uint64(1)
    for _ in range(n):
        p *= _POLY
    return p


@numba.njit(cache=True, inline="always")
def _push_word(ring, st, hs, n, pn):
    """Close the open word; returns True when an n-gram hash is ready in ``hs[1]``."""
    w = _mix(hs[0])
    pos = st[_POS]
    old = ring[pos]
    ring[pos] = w
    st[_POS] = (pos + 1) % n
    # rolling polynomial: H <- H * P + w - old * P**n (old is 0 while fewer than n words)
    hs[1] = hs[1] * _POLY + w - old * pn
    st[_COUNT] += 1
    st[_OPEN] = 0
    hs[0] = _FNV_OFFSET
    return st[_COUNT] >= n


@numba.njit(cache=True, inline="always")
def _reset_doc(ring, st, hs):
    ring[:] = 0
    st[_COUNT] = 0
    st[_POS] = 0
    st[_OPEN] = 0
    hs[0] = _FNV_OFFSET
    hs[1] = 0


@numba.njit(cache=True)
def ngram_hashes(buf, n, ring, st, hs, final, out):
    """Append the n-gram hashes of ``buf`` to ``out``; returns how many were written.

    ``out`` must hold at least ``len(buf) // 2 + 1`` entries (a word needs a byte and a
    separator). With ``final`` the open word is closed at the end of ``buf``.
    """
    cls = CHAR_CLASS
    low = LOWER
    pn = _power(n)
    k = 0
    for i in range(buf.shape[0]):
        b = buf[i]
        c = cls[b]
        if c == 2:
            hs[0] = (hs[0] ^ np.uint64(low[b])) * _FNV_PRIME
            st[_OPEN] = 1
        elif c == 0 and st[_OPEN] == 1:
            if _push_word(ring, st, hs, n, pn):
                out[k] = hs[1]
                k += 1
    if final and st[_OPEN] == 1:
        if _push_word(ring, st, hs, n, pn):
            out[k] = hs[1]
            k += 1
    return k


@numba.njit(cache=True)
def scan_chunk(buf, n, ring, st, hs, final, line_docs, bitmap, shift, table, hits):
    """Count, per entry of the sorted ``table``, how often its n-gram occurs in ``buf``.

    A bitmap over the hash's top bits screens out almost every corpus n-gram with one memory
    read; only bitmap hits pay for the binary search. With ``line_docs`` a newline ends a
    document (JSON-lines corpora): n-grams never span two lines. Returns the number of
    corpus n-grams seen.
    """
    cls = CHAR_CLASS
    low = LOWER
    pn = _power(n)
    m = table.shape[0]
    seen = 0
    for i in range(buf.shape[0] + (1 if final else 0)):
        if i < buf.shape[0]:
            b = buf[i]
            c = cls[b]
        else:  # virtual separator that closes the last word of the stream
            b = np.uint8(32)
            c = 0
        if c == 2:
            hs[0] = (hs[0] ^ np.uint64(low[b])) * _FNV_PRIME
            st[_OPEN] = 1
            continue
        if c == 0 and st[_OPEN] == 1 and _push_word(ring, st, hs, n, pn):
            seen += 1
            h = hs[1]
            bit = h >> shift
            if bitmap[bit >> np.uint64(6)] & (np.uint64(1) << (bit & np.uint64(63))):
                lo, hi = 0, m
                while lo < hi:
                    mid = (lo + hi) >> 1
                    if table[mid] < h:
                        lo = mid + 1
                    else:
                        hi = mid
                if lo < m and table[lo] == h:
                    hits[lo] += 1
        if line_docs and b == 10:
            _reset_doc(ring, st, hs)
    return seen


@numba.njit(cache=True)
def build_bitmap(table, shift, n_words):
    bitmap = np.zeros(n_words, np.uint64)
    for j in range(table.shape[0]):
        bit = table[j] >> shift
        bitmap[bit >> np.uint64(6)] |= np.uint64(1) << (bit & np.uint64(63))
    return bitmap


def reference_ngram_hashes(text: str, n: int) -> np.ndarray:
    """Hashes of the n-grams of ``text`` computed in pure Python (the oracle for the kernel)."""
    mask = (1 << 64) - 1

    def mix(h: int) -> int:
        h ^= h >> 30
        h = (h * 0xBF58476D1CE4E5B9) & mask
        h ^= h >> 27
        h = (h * 0x94D049BB133111EB) & mask
        return h ^ (h >> 31)

    words = []
    for word in normalize_words(text):
        h = int(_FNV_OFFSET)
        for byte in word.encode("utf-8"):
            h = ((h ^ byte) * int(_FNV_PRIME)) & mask
        words.append(mix(h))
    out = []
    for i in range(len(words) - n + 1):
        h = 0
        for w in words[i : i + n]:
            h = (h * int(_POLY) + w) & mask
        out.append(h)
    return np.array(out, dtype=np.uint64)
