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


# the demo cohort's region code is a label, not an amount
DEMO_CATEGORICAL = ("zip_region",)


def _demo_model(seed: int, quiet: bool) -> tuple[Any, Any, Any, Any, dict[str, str]]:
    """A gradient-boosting model fitted on half of the demo cohort; the other half is audited."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from assay.datasets import load_clinical

    _echo(quiet, "loading the demo cohort (load_clinical) and fitting a gradient-boosting model...")
    data = load_clinical(seed=seed)
    half = len(data.X) // 2  # rows are i.i.d., so the first half trains and the second audits
    model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, random_state=seed)
    model.fit(data.X.iloc[:half], data.y.iloc[:half])
    rest = slice(half, None)
    return (
        model,
        data.X.iloc[rest].reset_index(drop=True),
        data.y.iloc[rest].reset_index(drop=True),
        data.sensitive.iloc[rest].reset_index(drop=True),
        dict(data.truth["expected_directions"]),
    )


class _Progress:
    """A tqdm bar over the audit's sections (stderr); silent with --quiet."""

    def __init__(self, total: int, quiet: bool) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc="audit", unit="section", disable=quiet, file=sys.stderr)
        self.started = False

    def __call__(self, message: str) -> None:
        if self.started:
            self.bar.update(1)
        self.started = True
        self.bar.set_postfix_str(message)

    def close(self) -> None:
        if self.started:
            self.bar.update(1)
        self.bar.close()


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
    "--categorical",
    multiple=True,
    metavar="FEATURE",
    help="Integer-coded feature whose values are labels (e.g. a region code); repeatable.",
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
    categorical: tuple[str, ...],
    trust_model: bool,
    out_dir: str,
    seed: int,
    sample: int | None,
    quiet: bool,
) -> None:
    """Audit a model and write OUT/results.json, OUT/report.html and OUT/figures/*.svg.

    Ctrl-C stops the audit; the sections finished so far are written (marked interrupted).
    """
    from assay.auditing import audit as run_audit
    from assay.auditing._run import STEPS, estimate_seconds
    from assay.report import write_report

    try:
        directions = _parse_expect(expect)
        if demo:
            if data_path or model_path:
                _fail("--demo cannot be combined with --data/--model; use one or the other.")
            model, X, y, sens, demo_directions = _demo_model(seed, quiet)
            directions = directions or demo_directions
            categorical = categorical or DEMO_CATEGORICAL
            unknown = [c for c in sensitive if c not in sens.columns]
            if unknown:
                _fail(f"--sensitive {unknown} not in the demo cohort; it has {list(sens.columns)}.")
            sens = sens[list(sensitive)] if sensitive else sens
        else:
            model, X, y, sens = _load_user_inputs(
                data_path, target, model_path, sensitive, trust_model
            )
        if sample is not None:
            if sample < 1:
                _fail(f"--sample must be a positive number of rows; got {sample}.")
            if sample < len(X):
                idx = X.sample(n=sample, random_state=seed).index
                X, y = X.loc[idx], y.loc[idx]
                sens = None if sens is None else sens.loc[idx]
        estimate = estimate_seconds(model, X, sensitive=sens is not None)
        _echo(
            quiet,
            f"auditing {len(X):,} rows x {X.shape[1]} features "
            f"(estimated {_duration(estimate)} on one core; Ctrl-C keeps finished sections)...",
        )
        bar = _Progress(len(STEPS), quiet)
        try:
            result = run_audit(
                model, X, y, sensitive=sens, expected_directions=directions,
                categorical_features=list(categorical) or None, seed=seed, progress=bar,
            )  # fmt: skip
        finally:
            bar.close()
        out = Path(out_dir)
        result.save(out / "results.json")
        write_report(result, out / "report.html", figures_dir=out / "figures")
    except AssayError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        click.echo("interrupted before any section finished; nothing written.", err=True)
        sys.exit(130)
    if result.meta.get("interrupted"):
        _echo(quiet, "interrupted: the report holds the sections finished before Ctrl-C.")
    _echo(quiet, f"wrote {out / 'results.json'}, {out / 'report.html'} and {out / 'figures'}/")


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


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
        write_report(result, target, figures_dir=target.parent / "figures")
    except AssayError as exc:
        _fail(str(exc))
    click.echo(f"wrote {target}", err=True)


@cli.command()
@click.option("--data", "data_path", required=True, type=click.Path(), help="CSV or Parquet file.")
@click.option(
    "--model",
    "model_path",
    required=True,
    type=click.Path(),
    help="Saved model (.skops, XGBoost .json/.ubj, LightGBM .txt).",
)
@click.option("--target", default=None, help="Target column to drop from --data, if present.")
@click.option(
    "--method",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "tree", "exact", "kernel", "permutation", "lime"]),
    help="Attribution method (auto: tree for tree ensembles, else exact up to 12 features).",
)
@click.option(
    "--rows", default=100, show_default=True, type=int, help="Explain the first N rows."
)
@click.option(
    "--trust-model",
    is_flag=True,
    help="Allow loading pickle/joblib model files (runs code from the file).",
)
@click.option("--out", "out_path", required=True, type=click.Path(), help="FILE.parquet or .csv.")
@click.option(
    "--seed", default=0, show_default=True, type=int, help="Seed for every random choice."
)
@click.option("--quiet", is_flag=True, help="No progress messages.")
def explain(
    data_path: str,
    model_path: str,
    target: str | None,
    method: str,
    rows: int,
    trust_model: bool,
    out_path: str,
    seed: int,
    quiet: bool,
) -> None:
    """Write attributions of the first N rows of --data to a Parquet or CSV file.

    One line per (row, feature, output): row, feature, output, value, stderr, feature_value.
    The background (reference rows) is a seeded sample of up to 100 rows of --data.
    """
    from assay._explain import explain as run_explain
    from assay._io import read_model, read_table
    from assay.errors import MissingDependencyError

    out = Path(out_path)
    suffix = out.suffix.lower()
    if suffix not in {".parquet", ".pq", ".csv"}:
        _fail(f"--out {out_path!r} has suffix {suffix!r}; use .parquet or .csv.")
    if rows < 1:
        _fail(f"--rows must be a positive number of rows; got {rows}.")
    try:
        frame = read_table(data_path)
        if target is not None:
            if target not in frame.columns:
                _fail(
                    f"target column {target!r} is not in {data_path}; "
                    f"columns: {list(frame.columns)[:20]}."
                )
            frame = frame.drop(columns=[target])
        if len(frame) < 2:
            _fail(
                f"--data {data_path!r} has {len(frame)} row(s); the background (reference rows) "
                "is drawn from --data, so a single row would be its own reference and every "
                "attribution would be 0. Put the row first in a file with more rows of the "
                "same columns (e.g. the training data) and pass --rows 1."
            )
        model = read_model(model_path, trust=trust_model)
        background = frame.sample(n=min(100, len(frame)), random_state=seed)
        _echo(quiet, f"explaining {min(rows, len(frame)):,} rows with method={method}...")
        exp = run_explain(
            model, frame.iloc[:rows], method=method, background=background, seed=seed
        )
        table = exp.to_frame()
        out.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".csv":
            table.to_csv(out, index=False)
        else:
            try:
                table.to_parquet(out, index=False)
            except ImportError as exc:
                msg = (
                    f"writing Parquet needs pyarrow ({exc}); install it with "
                    '`pip install "assay[all]"` or pass --out FILE.csv.'
                )
                raise MissingDependencyError(msg) from exc
    except AssayError as exc:
        _fail(str(exc))
    _echo(quiet, f"wrote {len(table):,} attributions ({exp.method}) to {out}")


def _register_subcommands() -> None:
    from assay.probe._cli import probe_command

    cli.add_command(probe_command, name="probe")


_register_subcommands()


def main() -> None:
    """Entry point of the ``assay`` console script."""
    cli()


if __name__ == "__main__":
    main()
