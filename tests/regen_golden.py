"""The small demo audit whose ``results.json`` is kept as a golden file, and its regeneration.

``tests/auditing/test_golden_results.py`` runs the audit below and compares its results.json
with ``tests/data/demo_results.json``, ignoring timings, version strings and paths. When an
audit change is *meant* to change the results, regenerate the file and review the diff::

    OMP_NUM_THREADS=1 PYTHONPATH=src python tests/regen_golden.py
    git diff tests/data/demo_results.json

The audit is the one ``assay audit --demo`` runs (same model, same directions, the region
code categorical, every section included), on a smaller cohort so that it takes seconds.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).resolve().parent / "data" / "demo_results.json"
N_SAMPLES = 2400  # demo cohort rows: the first half trains, the second half is audited
N_EXPLAIN = 60
SEED = 0

# keys whose values change from run to run or machine to machine
VOLATILE_KEYS = {"assay_version", "seconds", "elapsed", "timings", "timing", "wall_seconds"}
_PATH = re.compile(r"(/[^\s'\"]+)+/")  # absolute paths in text (temporary folders)


def run_small_demo_audit() -> dict[str, Any]:
    """``assay audit --demo`` on a small cohort; the parsed results.json it writes."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from assay import audit
    from assay.cli import DEMO_CATEGORICAL
    from assay.datasets import load_clinical

    data = load_clinical(n_samples=N_SAMPLES, seed=SEED)
    half = len(data.X) // 2
    model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, random_state=SEED)
    model.fit(data.X.iloc[:half], data.y.iloc[:half])
    rest = slice(half, None)
    result = audit(
        model,
        data.X.iloc[rest].reset_index(drop=True),
        data.y.iloc[rest].reset_index(drop=True),
        sensitive=data.sensitive.iloc[rest].reset_index(drop=True),
        X_train=data.X.iloc[:half],
        y_train=data.y.iloc[:half],
        expected_directions=dict(data.truth["expected_directions"]),
        categorical_features=list(DEMO_CATEGORICAL),
        n_explain=N_EXPLAIN,
        seed=SEED,
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = result.save(Path(tmp) / "results.json")
        return json.loads(path.read_text(encoding="utf-8"))


def normalize(obj: Any) -> Any:
    """``obj`` without what legitimately differs between runs: timings, versions, paths."""
    if isinstance(obj, dict):
        return {
            k: normalize(v)
            for k, v in obj.items()
            if k not in VOLATILE_KEYS and not k.endswith(("_seconds", "_version_string"))
        }
    if isinstance(obj, list):
        return [normalize(v) for v in obj]
    if isinstance(obj, str):
        return _PATH.sub("<path>/", obj)
    return obj


def main() -> int:
    results = normalize(run_small_demo_audit())
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size:,} bytes); review it with git diff")
    return 0


if __name__ == "__main__":
    sys.exit(main())
