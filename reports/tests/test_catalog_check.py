"""The catalog check: unknown names and documentary requirements named by tests fail it; the
bench-testable requirements no test covers are listed (issue 13)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from hilbench_reports import load_catalog
from hilbench_reports.catalog_check import check_markers, render_text

ROOT = Path(__file__).resolve().parents[2]


def test_known_ids_and_properties_pass_and_coverage_is_listed() -> None:
    catalog = load_catalog()
    result = check_markers(catalog, {"t.py::a": ["UK-PSTI-S1.1"],
                                     "t.py::b": ["brute-force-protection"], "t.py::c": []})
    assert result.ok and result.tests == 2
    assert "UK-PSTI-S1.1" in result.covered and "EN18031-AUM-6" in result.covered
    uncovered = {rid for ids in result.uncovered.values() for rid in ids}
    assert "AU-SDR-C2" in uncovered and "UK-PSTI-S1.1" not in uncovered
    assert "UK-PSTI-S1.2" not in uncovered  # documentary: never listed as untested
    assert "bench-testable requirements no test covers" in render_text(result)


def test_unknown_names_documentary_ids_and_empty_properties_fail() -> None:
    result = check_markers(load_catalog(), {"t.py::a": ["EN303645-9.9-9"],
                                            "t.py::b": ["UK-PSTI-S1.2"],
                                            "t.py::c": ["vulnerability-disclosure-policy"]})
    assert not result.ok
    assert result.unknown == {"EN303645-9.9-9": ["t.py::a"]}
    assert result.documentary == {"UK-PSTI-S1.2": ["t.py::b"]}
    assert result.empty_properties == {"vulnerability-disclosure-policy": ["t.py::c"]}
    assert render_text(result).endswith("FAILED")


def hilbench_catalog_check(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hilbench.cli", "catalog", "check", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_the_suites_pass_the_catalog_check() -> None:
    """The CI gate: every name the suites give is in the catalog; the listing of untested
    bench-testable requirements is information, not failure."""
    result = hilbench_catalog_check("suites", "--json")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    data = json.loads(result.stdout)
    assert data["ok"] and data["tests"] > 10
    assert {"MODBUS-APP-7-01", "EN303645-5.3-16", "HB-DATA-01"} <= set(data["covered"])
    assert data["uncovered_count"] > 0 and "UK-PSTI" in data["uncovered_bench_testable"]


def test_the_command_fails_on_an_unknown_id(tmp_path: Path) -> None:
    (tmp_path / "test_typo.py").write_text(textwrap.dedent('''
        import pytest
        @pytest.mark.requirement("EN303645-9.9-9", "secure-software-update")
        def test_x(): pass
    '''))
    result = hilbench_catalog_check(str(tmp_path / "test_typo.py"), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "EN303645-9.9-9" in result.stdout and "FAILED" in result.stdout
