"""The report reads results.json as data: hostile section keys and corrupted files.

Figure file names come from section keys, so a key like ``../../../x`` or an absolute path
must never leave the figures folder; a results.json that does not follow the schema must
give a clear error (exit 2 from the command line), never a traceback.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from assay.auditing import AuditResult
from assay.cli import cli
from assay.errors import InvalidInputError
from assay.report import write_report

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _section(title="T"):
    return {
        "title": title,
        "verdict": "nothing to report",
        "status": "ok",
        "metrics": {"auc": 0.5},
        "tables": [{"title": "t", "columns": ["a"], "rows": [[1]]}],
        "figures": [{"kind": "bar", "caption": "c", "data": {"labels": ["a"], "values": [1.0]}}],
        "data": {},
    }


def _results(sections):
    return {
        "kind": "AuditResult",
        "schema_version": 1,
        "meta": {"model": "M", "n_rows": 1, "n_features": 1, "seed": 0},
        "sections": sections,
    }


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_hostile_section_keys_write_only_inside_the_figures_folder(tmp_path):
    out = tmp_path / "a" / "b" / "c" / "out"
    absolute = str(tmp_path / "abs")
    keys = ["../../../x", absolute, "a/b", "..", "", "ok key", "ok_key", "ok?key", "performance"]
    result = AuditResult.from_dict(_results({k: _section(k) for k in keys}))
    write_report(result, out / "report.html", figures_dir=out / "figures")
    written = _files(tmp_path)
    assert all(out in p.parents for p in written), written
    svgs = sorted(p.name for p in (out / "figures").iterdir())
    assert len(svgs) == len(keys)  # one figure per section, none overwritten
    assert "performance-1.svg" in svgs  # ordinary keys keep their names
    assert all(p.parent == out / "figures" for p in written if p.suffix == ".svg")
    assert not (tmp_path / "abs-1.svg").exists() and not (tmp_path / "x-1.svg").exists()


def test_cli_report_with_hostile_keys(tmp_path):
    folder = tmp_path / "deep" / "run"
    folder.mkdir(parents=True)
    path = folder / "results.json"
    path.write_text(json.dumps(_results({"../../../x": _section(), "/etc/y": _section()})))
    res = CliRunner().invoke(cli, ["report", str(path)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert all(folder in p.parents for p in _files(tmp_path) if p != path)
    assert len(list((folder / "figures").glob("*.svg"))) == 2


MISMATCHED = {"labels": ["a", "b", "c"], "values": [1.0, 2.0]}  # 3 bars, 2 lengths


def _corrupt_cases():
    good = _results({"performance": _section()})

    def edit(fn):
        d = copy.deepcopy(good)
        fn(d)
        return d

    sec = lambda d: d["sections"]["performance"]  # noqa: E731
    return {
        "top level list": ([good], "not an object"),
        "sections list": (edit(lambda d: d.update(sections=[1])), "sections is a list"),
        "section string": (
            edit(lambda d: d["sections"].update(performance="x")),
            "section 'performance' is a str",
        ),
        "no title": (edit(lambda d: sec(d).pop("title")), "performance'.title is missing"),
        "bad status": (edit(lambda d: sec(d).update(status="great")), "status is 'great'"),
        "metrics list": (edit(lambda d: sec(d).update(metrics=[1])), "metrics is not an object"),
        "nested metric": (
            edit(lambda d: sec(d).update(metrics={"a": {"b": 1}})),
            "metrics is not an object",
        ),
        "table rows": (
            edit(lambda d: sec(d)["tables"][0].update(rows=[1, 2])),
            r"tables\[0\] is not",
        ),
        "figure not dict": (edit(lambda d: sec(d).update(figures=["x"])), r"figures\[0\] is not"),
        "figure data": (
            edit(lambda d: sec(d)["figures"][0].update(data=MISMATCHED)),
            "could not be drawn",
        ),
        "figure data missing": (
            edit(lambda d: sec(d)["figures"][0].update(data={})),
            "could not be drawn",
        ),
        "meta missing model": (edit(lambda d: d["meta"].pop("model")), "meta.model is missing"),
        "meta list": (edit(lambda d: d.update(meta=[])), "meta is a list"),
        "skipped list": (edit(lambda d: d["meta"].update(skipped=[1])), "meta.skipped"),
        "version string": (edit(lambda d: d.update(schema_version="1")), "schema_version"),
        "kind": (edit(lambda d: d.update(kind="Explanation")), "not an assay audit result"),
    }


@pytest.mark.parametrize("case", sorted(_corrupt_cases()))
def test_corrupted_results_json_exits_2_with_a_message(tmp_path, case):
    content, words = _corrupt_cases()[case]
    path = tmp_path / "results.json"
    path.write_text(json.dumps(content))
    res = CliRunner().invoke(cli, ["report", str(path)], catch_exceptions=False)
    assert res.exit_code == 2, res.output
    assert res.output.startswith("error: ") and len(res.output.strip().splitlines()) == 1
    assert re.search(words, res.output), res.output
    with pytest.raises(InvalidInputError):  # the library says the same
        write_report(AuditResult.load(path), tmp_path / "r.html")


@pytest.mark.parametrize(
    ("content", "words"),
    [(b"{not json", "not valid JSON"), (b"\xff\xfe\x00", "not valid JSON"), (b"[" * 100_000, "")],
)
def test_unparsable_results_json(tmp_path, content, words):
    path = tmp_path / "results.json"
    path.write_bytes(content)
    res = CliRunner().invoke(cli, ["report", str(path)], catch_exceptions=False)
    assert res.exit_code == 2 and words in res.output, res.output


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_results_fifo_is_refused_promptly(tmp_path):
    fifo = tmp_path / "results.json"
    os.mkfifo(fifo)
    proc = subprocess.run(
        [sys.executable, "-c", "from assay.cli import main; main()", "report", str(fifo)],
        capture_output=True,
        text=True,
        timeout=120,  # blocking on the FIFO would fail here
        env={**os.environ, "PYTHONPATH": SRC},
    )
    assert proc.returncode == 2 and "not a regular file" in proc.stderr, proc.stderr
