"""The ``assay`` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from assay._version import __version__
from assay.errors import AssayError

__all__ = ["main"]


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def _echo(quiet: bool, message: str) -> None:
    if not quiet:
        click.echo(message, err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="assay")
def cli() -> None:
    """assay: explain, audit and align machine-learning models."""


def _demo_model(seed: int, quiet: bool) -> tuple[Any, Any, Any, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    from assay.datasets import load_clinical

    _echo(quiet, "loading the demo cohort (load_clinical) and fitting a gradient-boosting model...")
    data = load_clinical(seed=seed)
    model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, random_state=seed)
    model.fit(data.X, data.y)
    return model, data.X, data.y, data.sensitive


@cli.command()
@click.option("--demo", is_flag=True, help="Audit a model fitted on the bundled demo cohort.")
@click.option(
    "--data", "data_path", type=click.Path(), help="CSV or Parquet file with features and target."
)
@click.option("--target", help="Name of the target column in --data.")
@click.option(
    "--model",
    "model_path",
    type=click.Path(),
    help="Saved model (.skops, XGBoost .json/.ubj, LightGBM .txt).",
)
@click.option(
    "--sensitive", multiple=True, help="Sensitive column (not a model input); repeatable."
)
@click.option(
    "--expect",
    multiple=True,
    metavar="FEATURE=DIRECTION",
    help="Declared direction of an effect, e.g. creatinine=increasing; repeatable.",
)
@click.option(
    "--trust-model",
    is_flag=True,
    help="Allow loading pickle/joblib model files (runs code from the file).",
)
@click.option("--out", "out_dir", required=True, type=click.Path(), help="Output directory.")
@click.option(
    "--seed", default=0, show_default=True, type=int, help="Seed for every random choice."
)
@click.option("--sample", default=None, type=int, help="Audit a random sample of N rows.")
@click.option("--quiet", is_flag=True, help="No progress messages.")
def audit(
    demo: bool,
    data_path: str | None,
    target: str | None,
    model_path: str | None,
    sensitive: tuple[str, ...],
    expect: tuple[str, ...],
    trust_model: bool,
    out_dir: str,
    seed: int,
    sample: int | None,
    quiet: bool,
) -> None:
    """Audit a model and write OUT/results.json and OUT/report.html."""
    from assay.auditing import audit as run_audit
    from assay.report import write_report

    try:
        if demo:
            if data_path or model_path:
                _fail("--demo cannot be combined with --data/--model; use one or the other.")
            model, X, y, sens = _demo_model(seed, quiet)
        else:
            model, X, y, sens = _load_user_inputs(
                data_path, target, model_path, sensitive, trust_model
            )
        if sample is not None:
            if sample < 1:
                _fail(f"--sample must be a positive number of rows; got {sample}.")
            if sample < len(X):
                idx = X.sample(n=sample, random_state=seed).index if hasattr(X, "sample") else None
                X, y = X.loc[idx], y.loc[idx]
                sens = None if sens is None else sens.loc[idx]
        directions = _parse_expect(expect)
        if demo and not directions:
            directions = {"creatinine": "increasing", "age": "increasing"}
        _echo(quiet, f"auditing {len(X):,} rows x {X.shape[1]} features...")
        result = run_audit(
            model,
            X,
            y,
            sensitive=sens,
            expected_directions=directions,
            seed=seed,
            progress=None if quiet else (lambda msg: click.echo(f"  {msg}...", err=True)),
        )
        out = Path(out_dir)
        result.save(out / "results.json")
        write_report(result, out / "report.html")
    except AssayError as exc:
        _fail(str(exc))
    _echo(quiet, f"wrote {out / 'results.json'} and {out / 'report.html'}")


def _parse_expect(items: tuple[str, ...]) -> dict[str, str]:
    directions = {}
    for item in items:
        feature, sep, direction = item.partition("=")
        if not sep or direction not in ("increasing", "decreasing") or not feature:
            _fail(
                f"--expect {item!r} is not FEATURE=increasing or FEATURE=decreasing "
                "(e.g. --expect creatinine=increasing)."
            )
        directions[feature] = direction
    return directions


def _load_user_inputs(
    data_path: str | None,
    target: str | None,
    model_path: str | None,
    sensitive: tuple[str, ...],
    trust_model: bool,
) -> tuple[Any, Any, Any, Any]:
    import pandas as pd

    from assay._io import read_model, read_table

    if not data_path or not target or not model_path:
        _fail("pass --data FILE --target COL --model FILE (or --demo).")
    frame = read_table(data_path)
    if target not in frame.columns:
        _fail(
            f"target column {target!r} is not in {data_path}; columns: {list(frame.columns)[:20]}."
        )
    missing = [c for c in sensitive if c not in frame.columns]
    if missing:
        _fail(f"sensitive column(s) {missing} are not in {data_path}.")
    y = frame[target]
    if not pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y):
        _fail(
            f"target column {target!r} is not numeric (dtype {y.dtype}); "
            "encode it as 0/1 or numbers."
        )
    model = read_model(model_path, trust=trust_model)
    sens = frame[list(sensitive)] if sensitive else None
    X = frame.drop(columns=[target, *sensitive])
    return model, X, y, sens


@cli.command()
@click.argument("results", type=click.Path())
@click.option(
    "--out",
    "out_path",
    type=click.Path(),
    default=None,
    help="HTML file (default: beside RESULTS).",
)
def report(results: str, out_path: str | None) -> None:
    """Rebuild report.html from a results.json file."""
    from assay.auditing import AuditResult
    from assay.report import write_report

    try:
        result = AuditResult.load(results)
        target = Path(out_path) if out_path else Path(results).with_name("report.html")
        write_report(result, target)
    except AssayError as exc:
        _fail(str(exc))
    click.echo(f"wrote {target}", err=True)


def _register_subcommands() -> None:
    from assay.probe._cli import probe_command

    cli.add_command(probe_command, name="probe")


_register_subcommands()


def main() -> None:
    """Entry point of the ``assay`` console script."""
    cli()


if __name__ == "__main__":
    main()
