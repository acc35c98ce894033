"""``assay evals``: evaluation trust from files (judge bias, contamination, format spread).

Every subcommand reads JSONL/JSON/CSV/Parquet files and writes ``OUT/results.json`` and
``OUT/report.html`` in the audit's style. Judges and scorers are given as ``MODULE:FUNCTION``
(an importable module, or a path to a ``.py`` file): that code is run, as when you import it.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from assay.errors import AssayError, InvalidInputError

__all__ = ["evals_group", "load_callable", "load_hf_lm", "read_records"]


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a JSONL, JSON (a list of objects), CSV, TSV or Parquet file as dicts."""
    path = Path(path)
    if not path.exists():
        msg = f"file {str(path)!r} does not exist; check the path."
        raise InvalidInputError(msg)
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson", ".json"}:
        text = path.read_text(encoding="utf-8")
        try:
            if suffix == ".json":
                rows = json.loads(text)
            else:
                rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            msg = f"{str(path)!r} is not valid JSON{'L' if suffix != '.json' else ''}: {exc}."
            raise InvalidInputError(msg) from exc
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            msg = f"{str(path)!r} must hold JSON objects (one per line for .jsonl)."
            raise InvalidInputError(msg)
    else:
        from assay._io import read_table

        frame = read_table(path)
        rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    if not rows:
        msg = f"{str(path)!r} holds no rows."
        raise InvalidInputError(msg)
    return rows


def load_callable(spec: str, *, what: str) -> Callable:
    """``MODULE:FUNCTION`` (importable module or a ``.py`` path) -> the callable."""
    module_name, sep, attr = spec.rpartition(":")
    if not sep or not module_name or not attr:
        msg = f"{what} {spec!r} is not MODULE:FUNCTION (e.g. my_judges:gpt_judge or judges.py:fn)."
        raise InvalidInputError(msg)
    try:
        if module_name.endswith(".py"):
            file = Path(module_name)
            if not file.exists():
                msg = f"{what} file {module_name!r} does not exist."
                raise InvalidInputError(msg)
            mod_spec = importlib.util.spec_from_file_location(file.stem, file)
            module = importlib.util.module_from_spec(mod_spec)  # type: ignore[arg-type]
            mod_spec.loader.exec_module(module)  # type: ignore[union-attr]
        else:
            module = importlib.import_module(module_name)
    except InvalidInputError:
        raise
    except Exception as exc:
        msg = f"could not import {what} module {module_name!r}: {type(exc).__name__}: {exc}"
        raise InvalidInputError(msg) from exc
    fn = getattr(module, attr, None)
    if not callable(fn):
        names = sorted(n for n in dir(module) if not n.startswith("_"))[:15]
        msg = f"{module_name!r} has no callable {attr!r}; it defines {names}."
        raise InvalidInputError(msg)
    return fn


def load_hf_lm(path: str) -> tuple[Any, Any]:
    """(model, tokenizer) of a causal LM saved in a local Hugging Face directory (offline)."""
    import os

    from assay._validation import import_optional

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    transformers = import_optional("transformers", purpose="judging or scoring with a saved LM")
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(path)
        model = transformers.AutoModelForCausalLM.from_pretrained(path).eval()
    except (OSError, ValueError) as exc:
        msg = (
            f"could not load a causal LM and its tokenizer from {path!r}: {exc}. Pass a "
            "directory written by save_pretrained (config.json, weights, tokenizer files)."
        )
        raise InvalidInputError(msg) from exc
    return model, tokenizer


def _judge_from_spec(spec: str, template: str | None, what: str) -> Callable:
    """A saved LM directory becomes an LMJudge; anything else is MODULE:FUNCTION."""
    if Path(spec).is_dir():
        from assay.evals import DEFAULT_JUDGE_TEMPLATE, LMJudge

        model, tokenizer = load_hf_lm(spec)
        return LMJudge(model, tokenizer, template=template or DEFAULT_JUDGE_TEMPLATE)
    return load_callable(spec, what=what)


def _write(sections: dict[str, Any], out_dir: str, meta: dict[str, Any], quiet: bool) -> None:
    from assay.auditing._evals_report import write_evals_report

    results, html = write_evals_report(sections, out_dir, meta=meta)
    if not quiet:
        for sec in sections.values():
            click.echo(f"[{sec['status']}] {sec['verdict']}", err=True)
        click.echo(f"wrote {results} and {html}", err=True)


@click.group("evals")
def evals_group() -> None:
    """Trust in evaluations: judge bias, test-set contamination, prompt-format spread."""


_out = click.option("--out", "out_dir", required=True, type=click.Path(), help="Output directory.")
_seed = click.option("--seed", default=0, show_default=True, type=int, help="Seed.")
_quiet = click.option("--quiet", is_flag=True, help="No messages.")


@evals_group.command("judge")
@click.option(
    "--pairs",
    required=True,
    type=click.Path(),
    help="JSONL/CSV with question, answer_a, answer_b (author_a, author_b, reference optional).",
)
@click.option(
    "--judge",
    "judge_spec",
    required=True,
    metavar="MODULE:FUNCTION|DIR",
    help="judge(question, first, second) -> 0/1/0.5/P(second better) or 'A'/'B'/'tie'; or a "
    "saved causal-LM directory, read at the next-token probabilities of ' A' and ' B'.",
)
@click.option(
    "--template",
    default=None,
    help="Prompt of a saved-LM judge, with {question}, {first} and {second}; ends where the "
    "choice (' A' or ' B') comes next.",
)
@click.option("--judge-name", default=None, help="The judge's name in author_a/author_b.")
@click.option(
    "--reference",
    "reference_spec",
    default=None,
    metavar="MODULE:FUNCTION|DIR",
    help="A second judge used as quality reference for self-preference.",
)
@click.option(
    "--checks",
    default="position,verbosity,self_preference",
    show_default=True,
    help="Comma-separated checks.",
)
@click.option("--alpha", default=0.05, show_default=True, type=float)
@click.option("--n-bootstrap", default=1000, show_default=True, type=int)
@_out
@_seed
@_quiet
def judge_command(
    pairs: str,
    judge_spec: str,
    template: str | None,
    judge_name: str | None,
    reference_spec: str | None,
    checks: str,
    alpha: float,
    n_bootstrap: int,
    out_dir: str,
    seed: int,
    quiet: bool,
) -> None:
    """Test a pairwise judge for position, verbosity and self-preference bias."""
    from assay.auditing._evals_report import judge_section
    from assay.evals import judge_bias

    try:
        items = read_records(pairs)
        judge = _judge_from_spec(judge_spec, template, "--judge")
        reference = (
            _judge_from_spec(reference_spec, template, "--reference") if reference_spec else None
        )
        result = judge_bias(
            judge,
            items,
            checks=tuple(c.strip() for c in checks.split(",") if c.strip()),
            n_bootstrap=n_bootstrap,
            alpha=alpha,
            seed=seed,
            judge_name=judge_name,
            reference=reference,
        )
        meta = {
            "model": f"judge {judge_spec}", "n_rows": len(items), "n_features": 0,
            "seed": seed, "alpha": alpha, "title": "Judge bias",
        }  # fmt: skip
        _write({"judge_bias": judge_section(result)}, out_dir, meta, quiet)
    except AssayError as exc:
        _fail(str(exc))


@evals_group.command("contamination")
@click.option("--test", "test_path", required=True, type=click.Path(), help="JSONL/CSV test set.")
@click.option(
    "--corpus",
    multiple=True,
    required=True,
    type=click.Path(),
    help="Training-corpus file or directory (read recursively); repeatable.",
)
@click.option("--text-column", default="text", show_default=True, help="Text field of --test.")
@click.option("--scores-column", default=None, help="Per-example score field, to compare.")
@click.option("--n", "ngram", default=13, show_default=True, type=int, help="Words per n-gram.")
@click.option("--threshold", default=0.0, show_default=True, type=float)
@click.option("--line-docs", is_flag=True, help="Each corpus line is its own document.")
@click.option(
    "--model",
    "model_dir",
    default=None,
    type=click.Path(),
    help="A saved causal-LM directory: add loss/zlib/Min-K%/Min-K%++ membership scores.",
)
@click.option(
    "--member-column",
    default=None,
    help="Known membership (1 = in training) of each test row; default: the n-gram flags.",
)
@click.option("--alpha", default=0.05, show_default=True, type=float)
@_out
@_quiet
def contamination_command(
    test_path: str,
    corpus: tuple[str, ...],
    text_column: str,
    scores_column: str | None,
    ngram: int,
    threshold: float,
    line_docs: bool,
    model_dir: str | None,
    member_column: str | None,
    alpha: float,
    out_dir: str,
    quiet: bool,
) -> None:
    """Find test examples whose word n-grams occur in a training corpus (and, with --model,
    score each for membership)."""
    from assay.auditing._evals_report import contamination_section
    from assay.evals import ngram_overlap

    try:
        rows = read_records(test_path)
        missing = [
            c for c in (text_column, scores_column, member_column) if c and c not in rows[0]
        ]
        if missing:
            _fail(f"{test_path} lacks field(s) {missing}; it has {sorted(rows[0])[:20]}.")
        texts = [str(r.get(text_column) or "") for r in rows]
        paths = [Path(p) for p in corpus]
        absent = [str(p) for p in paths if not p.exists()]
        if absent:
            _fail(f"--corpus path(s) {absent} do not exist.")
        scores = [float(r[scores_column]) for r in rows] if scores_column else None
        report = ngram_overlap(
            texts, paths, n=ngram, threshold=threshold, scores=scores, line_docs=line_docs
        )
        meta = {
            "model": f"corpus {', '.join(corpus)}", "n_rows": len(texts), "n_features": 0,
            "seed": None, "title": "Contamination",
        }  # fmt: skip
        sections = {"contamination": contamination_section(report, examples=texts)}
        if model_dir:
            sections["membership"] = _membership(
                model_dir, texts, rows, member_column, report.contaminated, alpha
            )
            meta["model"] = f"{model_dir}; {meta['model']}"
        _write(sections, out_dir, meta, quiet)
    except AssayError as exc:
        _fail(str(exc))
    except (TypeError, ValueError) as exc:
        _fail(f"--scores-column {scores_column!r} must hold numbers: {exc}")


def _membership(
    model_dir: str, texts: list[str], rows: list[dict], member_column: str | None,
    contaminated: Any, alpha: float,
) -> dict[str, Any]:  # fmt: skip
    import numpy as np

    from assay.auditing._evals_report import membership_section
    from assay.evals import membership_scores

    model, tokenizer = load_hf_lm(model_dir)
    labels, source = None, ""
    if member_column:
        try:
            labels = np.array([int(float(r[member_column])) for r in rows])
        except (TypeError, ValueError) as exc:
            msg = f"--member-column {member_column!r} must hold 0/1: {exc}"
            raise InvalidInputError(msg) from exc
        source = f"column {member_column!r}"
    elif 0 < int(np.sum(contaminated)) < len(texts):
        labels, source = np.asarray(contaminated, dtype=int), "the n-gram overlap flags"
    result = membership_scores(model, texts, labels=labels, tokenizer=tokenizer, seed=0)
    return membership_section(result, examples=texts, label_source=source, alpha=alpha)


@evals_group.command("spread")
@click.option(
    "--examples",
    "examples_path",
    required=True,
    type=click.Path(),
    help="JSONL/CSV; every field except --labels-column is a prompt field.",
)
@click.option(
    "--scorer",
    "scorer_spec",
    required=True,
    metavar="MODULE:FUNCTION|DIR",
    help="score_fn(prompts) -> one score (or prediction, with --labels-column) per prompt; or "
    "a saved causal-LM directory with --choices.",
)
@click.option(
    "--choices",
    default=None,
    help="Comma-separated answer options a saved LM chooses between (the most likely one is "
    "its prediction); labels may be an option or its index.",
)
@click.option("--labels-column", default=None, help="Gold answers: scores become correctness.")
@click.option("--n-formats", default=10, show_default=True, type=int)
@click.option("--n-bootstrap", default=1000, show_default=True, type=int)
@_out
@_seed
@_quiet
def spread_command(
    examples_path: str,
    scorer_spec: str,
    labels_column: str | None,
    choices: str | None,
    n_formats: int,
    n_bootstrap: int,
    out_dir: str,
    seed: int,
    quiet: bool,
) -> None:
    """Score a task across prompt formats and report how far the score moves."""
    from assay.auditing._evals_report import spread_section
    from assay.evals import format_spread

    try:
        rows = read_records(examples_path)
        labels = None
        if labels_column:
            if labels_column not in rows[0]:
                _fail(f"{examples_path} has no field {labels_column!r}; it has {sorted(rows[0])}.")
            labels = [r.pop(labels_column) for r in rows]
        # a blank CSV cell is an empty field (e.g. the answer slot); numbers become text
        rows = [
            {k: "" if v is None else v if isinstance(v, (str, list)) else str(v)
             for k, v in r.items()}
            for r in rows
        ]  # fmt: skip
        if Path(scorer_spec).is_dir():
            from assay.evals import ChoiceScorer

            options = [c for c in (choices or "").split(",") if c]
            if len(options) < 2 or labels is None:
                _fail("a saved-LM --scorer needs --choices A,B[,...] and --labels-column.")
            model, tokenizer = load_hf_lm(scorer_spec)
            fn = ChoiceScorer(model, [" " + c.strip() for c in options], tokenizer=tokenizer)
            names = [c.strip() for c in options]
            known = set(names) | {str(i) for i in range(len(names))}
            bad = [v for v in labels if str(v) not in known]
            if bad:
                _fail(f"labels {bad[:5]} are neither one of --choices {names} nor its index.")
            labels = [names.index(str(v)) if str(v) in names else int(v) for v in labels]
        else:
            fn = load_callable(scorer_spec, what="--scorer")
        result = format_spread(
            {scorer_spec: fn}, rows, labels=labels, n_formats=n_formats, seed=seed,
            n_bootstrap=n_bootstrap,
        )  # fmt: skip
        meta = {
            "model": f"scorer {scorer_spec}", "n_rows": len(rows), "n_features": 0,
            "seed": seed, "title": "Format spread",
        }  # fmt: skip
        _write({"format_spread": spread_section(result)}, out_dir, meta, quiet)
    except AssayError as exc:
        _fail(str(exc))
