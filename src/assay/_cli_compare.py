"""``assay compare``: a new model version against the baseline in use, with a pipeline gate."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from assay.errors import AssayError

__all__ = ["DEMO_DROPPED", "compare_command", "demo_models"]

#: the demo's new version is the demo model refitted without this feature
DEMO_DROPPED = "creatinine"


def demo_models(seed: int, n_samples: int | None = None) -> tuple[Any, Any, Any, Any, Any, str]:
    """(new, baseline, X, y, sensitive, what changed) on the demo cohort.

    The baseline is the audit demo's gradient-boosting model; the new version is the same
    model refitted without ``creatinine`` (as if its lab feed were cut). Both are fitted on the
    first half of the cohort and compared on the second.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    from assay._cli_inputs import demo_cohort, demo_params

    demo = demo_cohort(seed, n_samples)
    params = demo_params(seed)
    new = HistGradientBoostingClassifier(**params).fit(
        demo.X_train.drop(columns=[DEMO_DROPPED]), demo.y_train
    )
    what = (
        f"the new version is the demo model (gradient boosting, {params['max_iter']} trees) "
        f"refitted on the same rows without '{DEMO_DROPPED}'"
    )
    return new, demo.model, demo.X, demo.y, demo.sensitive, what


@click.command()
@click.option("--demo", is_flag=True, help="Compare the demo model with a variant of it.")
@click.option("--data", "data_path", type=click.Path(), help="CSV or Parquet file.")
@click.option("--target", help="Name of the target column in --data.")
@click.option("--model", "model_path", type=click.Path(), help="The new model (saved file).")
@click.option("--baseline", "baseline_path", type=click.Path(), help="The model in use.")
@click.option(
    "--sensitive", multiple=True, help="Sensitive column (not a model input); repeatable."
)
@click.option(
    "--trust-model", is_flag=True, help="Allow loading pickle/joblib model files (runs code)."
)
@click.option(
    "--trust-types",
    default="",
    metavar="T1,T2",
    help="Trust these named types in the skops files (after review), without enabling pickle.",
)
@click.option("--out", "out_dir", required=True, type=click.Path(), help="Output directory.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of every choice.")
@click.option("--alpha", default=0.05, show_default=True, type=float, help="Significance level.")
@click.option(
    "--tolerance",
    default=0.1,
    show_default=True,
    type=float,
    help="Smallest worsening of a subgroup that counts as a regression, as a share of the "
    "baseline's mean loss.",
)
@click.option(
    "--fail-on",
    "fail_on",
    type=click.Choice(["alert", "warning"]),
    default=None,
    help="Gate for pipelines: exit with status 1 when a section's status is at this level or "
    "worse (0 clean, 2 usage error, 130 interrupted).",
)
@click.option("--quiet", is_flag=True, help="No progress messages.")
def compare_command(
    demo: bool,
    data_path: str | None,
    target: str | None,
    model_path: str | None,
    baseline_path: str | None,
    sensitive: tuple[str, ...],
    trust_model: bool,
    trust_types: str,
    out_dir: str,
    seed: int,
    alpha: float,
    tolerance: float,
    fail_on: str | None,
    quiet: bool,
) -> None:
    """Compare a new model (--model) with the one in use (--baseline) on the same rows.

    Writes OUT/results.json (with a "findings" block) and OUT/report.html, led by "Key
    changes". Exit status: 0 clean, 1 findings at the --fail-on level, 2 usage error,
    130 interrupted.
    """
    from assay._cli_inputs import demo_sensitive, load_user_inputs
    from assay.auditing import compare
    from assay.cli import _check_out_dir, _echo, _fail, _gate
    from assay.report import write_comparison_report

    _check_out_dir(out_dir)
    try:
        if demo:
            if data_path or model_path or baseline_path:
                _fail("--demo cannot be combined with --data/--model/--baseline.")
            _echo(quiet, "fitting the demo model and its variant on the demo cohort...")
            new, baseline, X, y, sens, what = demo_models(seed)
            sens = demo_sensitive(sens, sensitive)
            _echo(quiet, f"demo: {what}.")
        else:
            if not baseline_path:
                _fail("pass --baseline FILE (the model in use) with --model FILE (the new one).")
            new, X, y, sens, baseline = load_user_inputs(
                data_path, target, model_path, sensitive, trust_model, trust_types,
                baseline_path=baseline_path,
            )  # fmt: skip
            what = None
        _echo(quiet, f"comparing on {len(X):,} shared rows...")
        result = compare(
            new, baseline, X, y, sensitive=sens, alpha=alpha, seed=seed, tolerance=tolerance,
            progress=lambda m: _echo(quiet, f"  {m}..."),
        )  # fmt: skip
        if what:
            result.meta["demo"] = what
        out = Path(out_dir)
        result.save(out / "results.json")
        write_comparison_report(result, out / "report.html")
    except AssayError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"could not write the results to {out_dir!r}: {exc}")
    except KeyboardInterrupt:
        click.echo("interrupted before the comparison finished; nothing written.", err=True)
        sys.exit(130)
    _echo(quiet, f"wrote {out / 'results.json'} and {out / 'report.html'}")
    if not quiet:
        for item in result.key_changes:
            click.echo(f"[{item['status']}] {item['title']}: {item['message']}", err=True)
    if result.meta.get("interrupted"):
        click.echo("interrupted: the report holds the sections finished before Ctrl-C.", err=True)
        sys.exit(130)
    _gate(result.findings, fail_on)
