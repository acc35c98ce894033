"""Integrated Gradients: model evaluations at equal completeness error, assay vs captum.

captum's default is 50 Gauss-Legendre steps. For each network we measure captum's relative
completeness error at its default, then the fewest Gauss-Legendre steps with which assay
reaches the same (max over rows) error, and what assay's adaptive mode spends at that tolerance.

Run: .venv/bin/python benchmarks/bench_ig.py
"""

from __future__ import annotations

import time

import numpy as np
import torch
from captum.attr import IntegratedGradients as CaptumIG

from assay.attribution.gradients import IntegratedGradients


def mlp(act, d=20, width=64, seed=0):
    torch.manual_seed(seed)
    return (
        torch.nn.Sequential(
            torch.nn.Linear(d, width),
            act(),
            torch.nn.Linear(width, width),
            act(),
            torch.nn.Linear(width, 1),
        )
        .double()
        .eval()
    )


def main():
    X = torch.as_tensor(np.random.default_rng(0).normal(size=(200, 20)) * 2.0)
    print(
        "| network | captum default evals/row | captum max rel. error | assay GL steps for "
        "that error | evals/row ratio | assay adaptive evals/row | captum s | assay s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, act in (
        ("tanh MLP", torch.nn.Tanh),
        ("GELU MLP", torch.nn.GELU),
        ("softplus MLP", torch.nn.Softplus),
        ("ReLU MLP", torch.nn.ReLU),
    ):
        net = mlp(act)
        t0 = time.perf_counter()
        _, delta = CaptumIG(net).attribute(X, target=0, return_convergence_delta=True)
        t_c = time.perf_counter() - t0
        with torch.no_grad():
            diff = (net(X) - net(torch.zeros_like(X)))[:, 0].numpy()
        rel_c = np.abs(delta.detach().numpy()) / np.maximum(np.abs(diff), 1e-8)
        target = float(rel_c.max())
        steps = None
        for n in range(1, 51):
            e = IntegratedGradients(net, n_steps=n).explain(X)
            if e.params["max_completeness_error"] <= target:
                steps = n
                break
        t0 = time.perf_counter()
        IntegratedGradients(net, n_steps=steps or 50).explain(X)
        t_a = time.perf_counter() - t0
        ada = IntegratedGradients(
            net, n_steps=4, adaptive=True, tol=max(target, 1e-12), max_steps=4096
        ).explain(X)
        ratio = f"{50 / steps:.1f}x fewer" if steps else "n/a (>50)"
        print(
            f"| {name} | 50 | {target:.1e} | {steps} | {ratio} | "
            f"{ada.params['model_evaluations_per_row']:.1f} | {t_c:.3f} | {t_a:.3f} |"
        )


if __name__ == "__main__":
    main()
