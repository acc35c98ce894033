"""The ``assay`` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from assay._version import __version__
from assay.errors import AssayError

if TYPE_CHECKING:
    from assay._cli_inputs import DemoCohort

__all__ = ["main"]


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def _check_out_dir(path: str | Path, *, file: bool = False) -> None:
    """Fail at once (exit 2) when ``path`` cannot be written, before any work starts.

    ``path`` is an output folder (created if missing) or, with ``file``, an output file whose
    folder is checked. Catches an existing file where a folder is needed (and the reverse), a
    parent that is a file (``file/sub``) and a folder that cannot be written.
    """
    import os
    import tempfile

    path = Path(path)
    if file:
        if path.is_dir():
            _fail(f"--out {str(path)!r} is a folder; pass a file name (e.g. {path / 'out.csv'}).")
        path = path.parent if str(path.parent) else Path(".")
    elif path.exists() and not path.is_dir():
        _fail(f"--out {str(path)!r} exists and is a file, not a folder; pass a folder name.")
    existing = path
    while not existing.exists():  # the nearest existing folder is where the writing starts
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        _fail(f"--out {str(path)!r} cannot be created: {str(existing)!r} is a file, not a folder.")
    try:
        if not os.access(existing, os.W_OK | os.X_OK):
            msg = f"permission denied: {str(existing)!r}"
            raise PermissionError(msg)
        with tempfile.TemporaryFile(dir=existing):  # a read-only file system says so here
            pass
    except OSError as exc:
        _fail(f"--out {str(path)!r} cannot be written ({exc}); choose a writable folder.")


def _echo(quiet: bool, message: str) -> None:
    if not quiet:
        click.echo(message, err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="assay")
def cli() -> None:
    """assay: explain, audit and align machine-learning models."""


# the demo cohort's region code is a label, not an amount
DEMO_CATEGORICAL = ("zip_region",)


def _demo_model(seed: int, quiet: bool) -> DemoCohort:
    """A gradient-boosting model fitted on half of the demo cohort; the other half is audited."""
    from assay._cli_inputs import demo_cohort

    _echo(quiet, "loading the demo cohort (load_clinical) and fitting a gradient-boosting model...")
    return demo_cohort(seed)


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
@click.option(
    "--trust-types",
    default="",
    metavar="T1,T2",
    help="Trust these named types in a skops file (after review), without enabling pickle.",
)
@click.option("--out", "out_dir", required=True, type=click.Path(), help="Output directory.")
@click.option(
    "--seed", default=0, show_default=True, type=int, help="Seed for every random choice."
)
@click.option("--sample", default=None, type=int, help="Audit a random sample of N rows.")
@click.option(
    "--train",
    "train_path",
    type=click.Path(),
    default=None,
    help="The rows the model was fitted on (same columns as --data): the glass-box model is "
    "fitted on them and audited rows found among them are reported.",
)
@click.option(
    "--positive",
    "positive_label",
    default=None,
    help="For a binary model whose target uses other labels (yes/no against 0/1): the label "
    "that means the model's positive class.",
)
@click.option(
    "--labels",
    "labels_path",
    type=click.Path(),
    default=None,
    help='JSON file {"column": {"code": "label"}} naming the codes of integer-coded columns.',
)
@click.option(
    "--alpha",
    default=0.05,
    show_default=True,
    type=float,
    help="Significance level of every test behind an ok/warning/alert status.",
)
@click.option(
    "--fail-on",
    "fail_on",
    type=click.Choice(["alert", "warning"]),
    default=None,
    help="Gate for pipelines: exit with status 1 when a section's status is at this level or "
    "worse (0 clean, 2 usage error, 130 interrupted).",
)
@click.option(
    "--dask",
    "dask_address",
    default=None,
    metavar="ADDRESS|local",
    help="Audit --data (a Parquet/CSV file, folder or glob) on a Dask cluster: performance, "
    "calibration, group metrics and tree attributions on every row, the other sections on a "
    "seeded sample of --sample rows (default 20000).",
)
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
    trust_types: str,
    out_dir: str,
    seed: int,
    sample: int | None,
    train_path: str | None,
    positive_label: str | None,
    labels_path: str | None,
    alpha: float,
    fail_on: str | None,
    dask_address: str | None,
    quiet: bool,
) -> None:
    """Audit a model and write OUT/results.json, OUT/report.html and OUT/figures/*.svg.

    Ctrl-C stops the audit; the sections finished so far are written, every unfinished one
    listed as interrupted, and the command exits with status 130. With --fail-on LEVEL the
    exit status is 1 when a section's status is LEVEL or worse (results.json lists them under
    "findings"), else 0.
    """
    from assay._cli_inputs import demo_sensitive, load_train, load_user_inputs
    from assay.auditing import STEP_KEYS, estimate_seconds
    from assay.auditing import audit as run_audit
    from assay.report import write_report

    _check_out_dir(out_dir)
    if dask_address is not None:
        if demo or train_path or not (data_path and target and model_path):
            _fail("--dask needs --data PATH --target COL --model FILE (not --demo or --train).")
        options = {
            "expected_directions": _parse_expect(expect),
            "categorical_features": list(categorical) or None,
            "category_labels": _read_labels(labels_path),
            "positive_label": positive_label,
        }
        _audit_dask_command(
            data_path, target, model_path, sensitive, dask_address, out_dir, sample, seed,
            alpha, fail_on, quiet, trust_model, trust_types, options,
        )  # fmt: skip
        return
    try:
        directions = _parse_expect(expect)
        if demo:
            if data_path or model_path:
                _fail("--demo cannot be combined with --data/--model; use one or the other.")
            if train_path:
                _fail("--demo brings its own training rows; --train is for --data.")
            model, X, y, sens, demo_directions, X_train, y_train = _demo_model(seed, quiet)
            directions = directions or demo_directions
            categorical = categorical or DEMO_CATEGORICAL
            sens = demo_sensitive(sens, sensitive)
        else:
            model, X, y, sens, _ = load_user_inputs(
                data_path, target, model_path, sensitive, trust_model, trust_types
            )
            X_train, y_train = load_train(train_path, target, X.columns, sensitive)
        if sample is not None:
            if sample < 1:
                _fail(f"--sample must be a positive number of rows; got {sample}.")
            if sample < len(X):
                idx = X.sample(n=sample, random_state=seed).index
                X, y = X.loc[idx], y.loc[idx]
                sens = None if sens is None else sens.loc[idx]
        estimate = estimate_seconds(
            model, X, sensitive=sens is not None, expected_directions=bool(directions)
        )
        _echo(
            quiet,
            f"auditing {len(X):,} rows x {X.shape[1]} features "
            f"(estimated {_duration(estimate)} on one core; Ctrl-C keeps finished sections)...",
        )
        bar = _Progress(len(STEP_KEYS), quiet)
        try:
            result = run_audit(
                model, X, y, sensitive=sens, X_train=X_train, y_train=y_train, alpha=alpha,
                expected_directions=directions, categorical_features=list(categorical) or None,
                category_labels=_read_labels(labels_path), positive_label=positive_label,
                seed=seed, progress=bar,
            )  # fmt: skip
        finally:
            bar.close()
        out = Path(out_dir)
        result.save(out / "results.json")
        write_report(result, out / "report.html", figures_dir=out / "figures")
    except AssayError as exc:
        _fail(str(exc))
    except OSError as exc:  # the output folder changed under us while the audit ran
        _fail(f"could not write the results to {out_dir!r}: {exc}")
    except KeyboardInterrupt:
        click.echo("interrupted before any section finished; nothing written.", err=True)
        sys.exit(130)
    _echo(quiet, f"wrote {out / 'results.json'}, {out / 'report.html'} and {out / 'figures'}/")
    if result.meta.get("interrupted"):
        click.echo("interrupted: the report holds the sections finished before Ctrl-C.", err=True)
        sys.exit(130)
    _gate(result.findings, fail_on)


def _audit_dask_command(
    data_path: str, target: str, model_path: str, sensitive: tuple[str, ...], address: str,
    out_dir: str, sample: int | None, seed: int, alpha: float, fail_on: str | None,
    quiet: bool, trust_model: bool, trust_types: str, options: dict[str, Any],
) -> None:  # fmt: skip
    """``assay audit --dask``: exact sections on every row of --data, fits on a sample."""
    from assay._cli_dask import audit_on_dask
    from assay._io import read_model
    from assay.report import write_report

    out = Path(out_dir)
    try:
        model = read_model(model_path, trust=trust_model, trust_types=trust_types)
        result = audit_on_dask(
            data_path=data_path, target=target, model=model, sensitive=sensitive,
            address=address, sample=sample, seed=seed, alpha=alpha, quiet=quiet,
            options=options,
        )  # fmt: skip
        result.save(out / "results.json")
        write_report(result, out / "report.html", figures_dir=out / "figures")
    except AssayError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"could not write the results to {out_dir!r}: {exc}")
    _echo(quiet, f"wrote {out / 'results.json'}, {out / 'report.html'} and {out / 'figures'}/")
    _gate(result.findings, fail_on)


def _gate(found: list[dict[str, Any]], fail_on: str | None) -> None:
    """Exit with status 1 when a finding is at ``fail_on`` or worse (see ``--fail-on``)."""
    from assay.auditing._gates import STATUS_RANK, gate_status

    code = gate_status(found, fail_on)
    if code:
        hits = [f for f in found if STATUS_RANK[f["status"]] >= STATUS_RANK[str(fail_on)]]
        click.echo(
            f"--fail-on {fail_on}: {len(hits)} finding(s) at {fail_on} or worse: "
            + "; ".join(f"{f['status']} {f['section']}" for f in hits)
            + f"; exit status {code}.",
            err=True,
        )
        sys.exit(code)


def _read_labels(path: str | None) -> dict[str, dict[str, str]] | None:
    """The --labels file: JSON {column: {code: label}}."""
    import json

    from assay._io import open_regular

    if path is None:
        return None
    with open_regular(path, what="labels file", max_bytes=16 * 2**20) as fh:
        try:
            labels = json.loads(fh.read().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            example = '{"purpose": {"0": "car", "1": "education"}}'
            _fail(f"--labels {path!r} is not valid JSON ({exc}); write e.g. {example}.")
    return labels


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

    if not Path(results).name:
        _fail(f"RESULTS {results!r} is not a file name; pass the path of a results.json file.")
    target = Path(out_path) if out_path else Path(results).with_name("report.html")
    _check_out_dir(target, file=True)
    try:
        if _is_comparison(results):  # written by `assay compare`
            from assay.auditing import ComparisonResult
            from assay.report import write_comparison_report

            write_comparison_report(ComparisonResult.load(results), target)
        else:
            result = AuditResult.load(results)
            write_report(result, target, figures_dir=target.parent / "figures")
    except AssayError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"could not write the report to {str(target)!r}: {exc}")
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
    "--drop",
    multiple=True,
    metavar="COLUMN",
    help="A column of --data that is not a model input (e.g. a sensitive attribute); repeatable.",
)
@click.option(
    "--method",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "tree", "exact", "kernel", "permutation", "lime"]),
    help="Attribution method (auto: tree for tree ensembles, else exact up to 12 features).",
)
@click.option(
    "--rows", default="100", show_default=True, help="Explain the first N rows, or 'all'."
)
@click.option(
    "--dask",
    "dask_address",
    default=None,
    metavar="ADDRESS|local",
    help="Run on a Dask cluster (scheduler address, or 'local'); --data may be a glob and "
    "--out is a folder that receives a partitioned Parquet dataset.",
)
@click.option(
    "--top-k",
    "top_k",
    default=None,
    type=int,
    help="Write only each row's K largest reason codes (row, output, rank, feature, value, "
    "attribution).",
)
@click.option(
    "--trust-model",
    is_flag=True,
    help="Allow loading pickle/joblib model files (runs code from the file).",
)
@click.option(
    "--trust-types",
    default="",
    metavar="T1,T2",
    help="Trust these named types in a skops file (after review), without enabling pickle.",
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
    drop: tuple[str, ...],
    method: str,
    rows: str,
    dask_address: str | None,
    top_k: int | None,
    trust_model: bool,
    trust_types: str,
    out_path: str,
    seed: int,
    quiet: bool,
) -> None:
    """Write attributions of the first N rows of --data to a Parquet or CSV file.

    One line per (row, feature, output): row, feature, output, value, stderr, feature_value;
    with --top-k K, K lines per row and output: row_id, output, rank, feature, value
    (the feature's value), attribution. The background (reference rows) is a seeded sample of
    up to 100 rows of --data. With --dask, the partitions of --data (a file, folder or glob
    such as 'dir/*.parquet') are explained on the cluster and written from the workers into
    the folder --out: one row per input row (row_id, base:<output>, attr:<feature>:<output>,
    value:<feature>; read back with assay.attribution.read_explanation_parquet), or the reason
    codes with --top-k.
    """
    from assay._cli_dask import parse_rows
    from assay._cli_inputs import check_target
    from assay._explain import explain as run_explain
    from assay._io import read_model, read_table
    from assay.errors import MissingDependencyError

    try:
        n_rows = parse_rows(rows)
    except AssayError as exc:
        _fail(str(exc))
    if top_k is not None and top_k < 1:
        _fail(f"--top-k must be a positive number of reason codes per row; got {top_k}.")
    out = Path(out_path)
    if dask_address is not None:
        _explain_dask_command(
            data_path, model_path, target, drop, method, n_rows, dask_address, out, top_k,
            trust_model, trust_types, seed, quiet,
        )  # fmt: skip
        return
    suffix = out.suffix.lower()
    if suffix not in {".parquet", ".pq", ".csv"}:
        _fail(f"--out {out_path!r} has suffix {suffix!r}; use .parquet or .csv.")
    _check_out_dir(out, file=True)
    try:
        frame = read_table(data_path)
        if target is not None:
            check_target(frame, target, data_path)
            frame = frame.drop(columns=[target])
        missing = [c for c in drop if c not in frame.columns]
        if missing:
            _fail(f"--drop {missing} not in {data_path}; columns: {list(frame.columns)[:20]}.")
        frame = frame.drop(columns=list(drop))
        if len(frame) < 2:
            _fail(
                f"--data {data_path!r} has {len(frame)} row(s); the background (reference rows) "
                "is drawn from --data, so a single row would be its own reference and every "
                "attribution would be 0. Put the row first in a file with more rows of the "
                "same columns (e.g. the training data) and pass --rows 1."
            )
        model = read_model(model_path, trust=trust_model, trust_types=trust_types)
        background = frame.sample(n=min(100, len(frame)), random_state=seed)
        n_rows = len(frame) if n_rows is None else min(n_rows, len(frame))
        _echo(quiet, f"explaining {n_rows:,} rows with method={method}...")
        exp = run_explain(
            model, frame.iloc[:n_rows], method=method, background=background, seed=seed
        )
        if top_k is None:
            table = exp.to_frame()
        else:
            from assay.attribution._distributed import _reason_codes

            table = _reason_codes(exp, 0, top_k)
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
        hint = (
            " If a column is not a model input (a sensitive attribute, an id), leave it out with "
            "--drop COLUMN."
            if "unknown:" in str(exc)
            else ""
        )
        _fail(str(exc) + hint)
    except OSError as exc:
        _fail(f"could not write {str(out)!r}: {exc}")
    _echo(quiet, f"wrote {len(table):,} attributions ({exp.method}) to {out}")


def _is_comparison(path: str) -> bool:
    """Whether a results file was written by ``assay compare`` (its "kind", read from the
    first bytes; anything unreadable is left to the audit loader's checks)."""
    from assay._io import open_regular

    try:  # open_regular refuses FIFOs and devices, which a plain open would wait on
        with open_regular(path, what="results file", max_bytes=256 * 2**20) as fh:
            head = fh.read(200)
    except (AssayError, OSError):
        return False
    return b'"kind": "ComparisonResult"' in head


def _explain_dask_command(
    data_path: str, model_path: str, target: str | None, drop: tuple[str, ...], method: str,
    rows: int | None, address: str, out: Path, top_k: int | None, trust_model: bool,
    trust_types: str, seed: int, quiet: bool,
) -> None:  # fmt: skip
    """``assay explain --dask``: the partitions are explained and written on the cluster."""
    from assay._cli_dask import explain_on_dask
    from assay._io import read_model

    _check_out_dir(out)
    try:
        model = read_model(model_path, trust=trust_model, trust_types=trust_types)
        _echo(quiet, f"explaining {'all' if rows is None else rows} rows of {data_path} on Dask...")
        n, used = explain_on_dask(
            data_path=data_path, model=model, target=target, drop=drop, method=method,
            rows=rows, address=address, out=out, top_k=top_k, seed=seed, quiet=quiet,
        )  # fmt: skip
    except AssayError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"could not write {str(out)!r}: {exc}")
    what = "attributions" if top_k is None else f"top-{top_k} reason codes"
    _echo(quiet, f"wrote {what} of {n:,} rows ({used}) to {out}/")


def _register_subcommands() -> None:
    from assay._cli_compare import compare_command
    from assay._cli_evals import evals_group
    from assay._cli_probe import probe_command

    cli.add_command(probe_command, name="probe")
    cli.add_command(evals_group, name="evals")
    cli.add_command(compare_command, name="compare")


_register_subcommands()


def main() -> None:
    """Entry point of the ``assay`` console script."""
    cli()


if __name__ == "__main__":
    main()
