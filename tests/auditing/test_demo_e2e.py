"""End to end: ``assay audit --demo`` names the effects planted in the demo cohort."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_audit_names_the_planted_findings(tmp_path):
    out = tmp_path / "demo"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "assay.cli", "audit", "--demo", "--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stderr == ""  # --quiet: no progress, no warnings
    results = json.loads((out / "results.json").read_text())
    html = (out / "report.html").read_text()
    assert results["schema_version"] >= 1 and results["assay_version"]
    assert results["meta"]["sensitive"] == ["race"]
    assert results["meta"]["skipped"] == {}  # every section ran on the demo
    sections = results["sections"]

    # the creatinine treatment threshold: a counter-causal drop at ~2.0
    anomalies = sections["glassbox"]["data"]["anomalies"]["anomalies"]
    creat = [a for a in anomalies if a["feature"] == "creatinine" and a["kind"] == "discontinuity"]
    assert creat, anomalies
    assert abs(creat[0]["location"] - 2.0) <= 0.05 and creat[0]["effect"] < 0
    assert creat[0]["counter_causal"]
    assert "creatinine drops" in sections["glassbox"]["verdict"]

    # zip_region stands in for race
    assert "zip_region" in sections["fairness"]["data"]["proxies"]
    assert "zip_region" in sections["fairness"]["verdict"]

    # the failure subgroup: zip_region == 7 and age < ~45
    slices = sections["slices"]["data"]["slices"]
    sub = [
        s
        for s in slices
        if ["zip_region", "=", 7.0] in s["predicates"]
        and any(f == "age" and op == "<" and 38 <= v <= 50 for f, op, v in s["predicates"])
    ]
    assert sub, [s["description"] for s in slices]
    assert sub[0]["description"] in sections["slices"]["verdict"]

    # the report says all of it, with a table of contents, and figures exist as files
    for text in ("creatinine drops", "zip_region", sub[0]["description"], "Contents"):
        assert text.replace("<", "&lt;") in html
    assert html.count("<svg") == sum(len(s["figures"]) for s in sections.values())
    svgs = sorted(p.name for p in (out / "figures").iterdir())
    assert "glassbox-1.svg" in svgs and len(svgs) == html.count("<svg")

    # the report is rebuilt from results.json alone, identically
    rebuilt = tmp_path / "rebuilt.html"
    proc = subprocess.run(
        [sys.executable, "-m", "assay.cli", "report", str(out / "results.json"), "--out",
         str(rebuilt)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert Path(rebuilt).read_text() == html
