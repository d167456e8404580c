"""Rewrites tests/golden/verdicts.json: requirement -> verdict over every market, for the
default run of the suites on the embedded emulated bench and for each defect knob.

Run it only for a change of verdict you mean (new requirements, new tests, a new knob), and
say why in the commit and in the file's "about":
    .venv/bin/python tests/golden/regenerate.py "why the verdicts changed"
    .venv/bin/python tests/golden/regenerate.py "why" KNOB...   # only these runs ("default" too)
Every run is full depth (every suite folder); HILBENCH_MATRIX_JOBS sessions side by side.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

os.environ["HILBENCH_MATRIX"] = "full"  # every knob against every suite folder
from test_defect_knobs import KNOBS, all_statuses, failed_tests, run_matrix  # noqa: E402


def main(about: str, only: list[str]) -> None:
    every: list[str | None] = [None, *sorted(KNOBS)]  # every knob of the matrix (DEVICE:KNOB too)
    unknown = set(only) - {k or "default" for k in every}
    if unknown:
        sys.exit(f"unknown runs: {sorted(unknown)}")
    knobs = [k for k in every if not only or (k or "default") in only]
    path = HERE / "verdicts.json"
    runs = json.loads(path.read_text())["runs"] if only else {}
    with tempfile.TemporaryDirectory() as scratch:
        results = run_matrix(knobs, Path(scratch))  # full depth: HILBENCH_MATRIX=full, set above
        for knob in knobs:
            result, evidence = results[knob]
            runs[knob or "default"] = all_statuses(evidence)
            print(f"{knob or 'default'}: exit {result.returncode}, failed "
                  f"{sorted(failed_tests(result.stdout))}", flush=True)
    path.write_text(json.dumps({"about": about, "runs": dict(sorted(runs.items()))}, indent=1,
                               sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
