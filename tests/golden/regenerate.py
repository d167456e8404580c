"""Rewrites tests/golden/verdicts.json: requirement -> verdict over every market, for the
default run of the suites on the embedded emulated bench and for each defect knob.

Run it only for a change of verdict you mean (new requirements, new tests, a new knob), and
say why in the commit and in the file's "about":
    .venv/bin/python tests/golden/regenerate.py "why the verdicts changed"
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from hilbench.profile import known_defects  # noqa: E402

from test_defect_knobs import all_statuses, failed_tests, run_suites  # noqa: E402


def main(about: str) -> None:
    runs = {}
    for knob in [None, *sorted(known_defects("meter"))]:
        with tempfile.TemporaryDirectory() as scratch:
            result, evidence = run_suites(Path(scratch), knob)
            runs[knob or "default"] = all_statuses(evidence)
            print(f"{knob or 'default'}: exit {result.returncode}, failed "
                  f"{sorted(failed_tests(result.stdout))}", flush=True)
    path = HERE / "verdicts.json"
    path.write_text(json.dumps({"about": about, "runs": runs}, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
