"""Streaming n-gram overlap on a generated 1 GB corpus: throughput and peak memory.

Generates (once) a corpus of random Zipf-distributed words into /tmp with 100 evaluation
examples injected at known places, scans it with ``assay.evals.ngram_overlap`` (13-grams,
8 MB chunks) and checks that exactly the injected examples are found. The anchor is
lm-evaluation-harness's decontamination Janitor (``lm_eval.decontamination.janitor``, its
pure-Python mode as installed from PyPI), timed on a slice of the same corpus because it
holds each document in memory and is far slower.

    python benchmarks/bench_ngram.py [--size-mb 1024] [--anchor-mb 16]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

CORPUS = Path("/tmp/assay_bench_ngram/corpus.txt")
N_EVAL, N_INJECT, BLOCK_MB = 200, 100, 32


def _words(rng: np.random.Generator, n: int, vocab: np.ndarray, p: np.ndarray) -> list[str]:
    return vocab[rng.choice(vocab.shape[0], size=n, p=p)].tolist()


def generate(size_mb: int) -> None:
    rng = np.random.default_rng(0)
    vocab = np.array([f"word{i}" for i in range(20_000)])
    p = 1.0 / np.arange(1, vocab.shape[0] + 1)
    p /= p.sum()
    evals = [" ".join(_words(rng, 40, vocab, p)) for _ in range(N_EVAL)]
    CORPUS.parent.mkdir(parents=True, exist_ok=True)
    (CORPUS.parent / "eval.txt").write_text("\n".join(evals))
    blocks = []
    for _ in range(4):  # a few distinct blocks written in turn keep generation quick
        words = _words(rng, BLOCK_MB * 2**20 // 9, vocab, p)
        lines = [" ".join(words[i : i + 100]) for i in range(0, len(words), 100)]
        blocks.append(("\n".join(lines) + "\n").encode())
    n_blocks = -(-size_mb * 2**20 // len(blocks[0]))  # at least size_mb in total
    where = set(rng.choice(n_blocks, size=N_INJECT, replace=n_blocks < N_INJECT).tolist())
    with open(CORPUS, "wb") as f:
        j = 0
        for b in range(n_blocks):
            f.write(blocks[b % 4])
            while b in where and j < N_INJECT:  # inject eval examples 0..N_INJECT-1
                f.write(("xx " + evals[j] + " yy\n").encode())
                j += 1
                if j % max(1, N_INJECT // len(where)) == 0:
                    break
        for k in range(j, N_INJECT):
            f.write(("xx " + evals[k] + " yy\n").encode())


class PeakRSS:
    """Samples this process's resident memory in a thread; ``peak`` in bytes."""

    def __init__(self) -> None:
        import psutil

        self.proc = psutil.Process()
        self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self) -> PeakRSS:
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--anchor-mb", type=int, default=16)
    args = ap.parse_args()
    if not CORPUS.exists() or CORPUS.stat().st_size < args.size_mb * 2**20 * 0.99:
        t = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--generate", str(args.size_mb)], check=True)
        print(f"generated {CORPUS} in {time.perf_counter() - t:.0f} s")
    evals = (CORPUS.parent / "eval.txt").read_text().split("\n")
    size = CORPUS.stat().st_size

    from assay.evals import build_index, ngram_overlap

    index = build_index(evals, n=13)
    ngram_overlap(index, [evals[0]])  # compile the kernels outside the timing
    import psutil

    base = psutil.Process().memory_info().rss
    with PeakRSS() as mem:
        t, c = time.perf_counter(), time.process_time()
        rep = ngram_overlap(index, CORPUS, chunk_bytes=8 << 20)
        dt, dc = time.perf_counter() - t, time.process_time() - c
    found = rep.contaminated_indices.tolist()
    exact = found == list(range(N_INJECT))
    mbps = size / 2**20 / dc  # CPU time: the shared machine's load does not distort it

    # anchor: lm-eval Janitor (python mode) on the first anchor-mb of the corpus
    anchor = "lm_eval not importable"
    a_mbps = float("nan")
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            from lm_eval.decontamination.janitor import Janitor

            jan = Janitor(ngram_n=13, too_dirty_cutoff=10**9)
            for e in evals:
                jan.register_contaminant_python(e)
        with open(CORPUS, "rb") as f:
            text = f.read(args.anchor_mb * 2**20).decode("utf-8", "ignore")
        docs = text.split("\n")
        t = time.process_time()
        for d in docs:
            jan.clean_python(d)
        a_dt = time.process_time() - t
        a_mbps = len(text.encode()) / 2**20 / a_dt
        anchor = f"Janitor.clean_python on {args.anchor_mb} MB"
    except ImportError:
        pass

    print(
        f"corpus {size / 2**30:.2f} GiB, {rep.params['corpus_ngrams']:,} 13-grams, "
        f"{len(evals)} eval examples, {N_INJECT} injected"
    )
    print("| tool | MB/s (CPU time) | CPU time for corpus | wall | peak extra RSS | exact set |")
    print("|---|---|---|---|---|---|")
    print(
        f"| assay ngram_overlap (8 MB chunks) | {mbps:.0f} | {dc:.1f} s | {dt:.1f} s | "
        f"{(mem.peak - base) / 2**20:.0f} MiB | {exact} |"
    )
    if np.isfinite(a_mbps):
        print(
            f"| lm-eval {anchor} | {a_mbps:.2f} | {size / 2**20 / a_mbps:.0f} s (extrapolated) "
            "| - | holds each document | n/a |"
        )
        print(f"\nthroughput ratio assay / lm-eval janitor: {mbps / a_mbps:.0f}x")
    else:
        print(f"(anchor skipped: {anchor}; add lm_eval to PYTHONPATH)")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--generate":
        generate(int(sys.argv[2]))
    else:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        main()
