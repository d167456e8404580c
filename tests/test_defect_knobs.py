"""Every conformance test can fail: each defect knob of the emulated meter makes the suite fail,
and the reports name exactly the requirements that test produces evidence for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hilbench_testing import load_report, requirement_statuses, run_pytest

# Requirement -> verdict of every run before the "one house" reshape: layout changes must not
# change a single verdict (tests/golden/verdicts.json says how it was made).
GOLDEN = json.loads((Path(__file__).parent / "golden" / "verdicts.json").read_text())["runs"]

INPUT_VALIDATION = {"EN303645-5.13-1B", "EN18031-GEC-6"}
IDENTIFICATION = {"MODBUS-APP-6.21", "EN303645-5.3-16", "US-8425-D1", "US-8259A-1", "JP-S1.1-16",
                  "WELMEC-P2"}
SUITE_REQUIREMENTS = ({"MODBUS-APP-7-01", "MODBUS-APP-7-02", "MODBUS-APP-7-03", "MODBUS-SL-CRC",
                       "HB-IOP-01"} | INPUT_VALIDATION | IDENTIFICATION)

# defect knob -> (the suite test it breaks, the requirements that must then fail)
KNOBS = {
    "illegal_address_returns_data": ("test_illegal_data_address_answers_exception_02",
                                     {"MODBUS-APP-7-02"} | INPUT_VALIDATION),
    "illegal_function_silent": ("test_unsupported_function_answers_exception_01",
                                {"MODBUS-APP-7-01"} | INPUT_VALIDATION),
    "illegal_value_accepted": ("test_illegal_quantity_answers_exception_03",
                               {"MODBUS-APP-7-03"} | INPUT_VALIDATION),
    "bad_crc_answered": ("test_frame_with_bad_crc_is_discarded", {"MODBUS-SL-CRC"} | INPUT_VALIDATION),
    "device_id_wrong_revision": ("test_device_identification_matches_declared", IDENTIFICATION),
    "tcp_register_skew": ("test_registers_identical_over_every_interface", {"HB-IOP-01"}),
}


@pytest.mark.parametrize("knob", sorted(KNOBS))
def test_defect_knob_fails_its_test_and_names_its_requirements(tmp_path, knob):
    broken_test, failing = KNOBS[knob]
    evidence = tmp_path / "evidence"
    result = run_pytest(["suites", "-rA", "--defect", knob, "--evidence-dir", str(evidence)])
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    failed_lines = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
    assert failed_lines and all(broken_test in line for line in failed_lines), failed_lines

    every = all_statuses(evidence)
    assert every == GOLDEN[knob]
    statuses = {rid: s for rid, s in every.items() if rid in SUITE_REQUIREMENTS}
    assert {rid for rid, s in statuses.items() if s == "failed"} == failing
    assert all(statuses[rid] == "passed" for rid in SUITE_REQUIREMENTS - failing), statuses
    # ...and the report says which knob was on, so no one mistakes it for the device's fault.
    assert load_report(evidence, "EU")["duts"][0]["defects"] == [knob]
    # The identity read at the start of the run shows the knob that changes it.
    identity = load_report(evidence, "EU")["duts"][0]["reported_identity"]
    assert identity["differs"] == (["revision"] if knob == "device_id_wrong_revision" else [])
    assert f"<code>{knob}</code>" in (evidence / "reports" / "report-EU.html").read_text()


def test_default_bench_passes_every_suite_requirement(tmp_path):
    evidence = tmp_path / "evidence"
    result = run_pytest(["suites", "--evidence-dir", str(evidence)])
    assert result.returncode == 0, result.stdout[-3000:]
    statuses = all_statuses(evidence)
    assert statuses == GOLDEN["default"]
    assert all(statuses[rid] == "passed" for rid in SUITE_REQUIREMENTS), statuses
    assert statuses["UK-PSTI-S1.1"] == "not tested"


def all_statuses(evidence: Path) -> dict[str, str]:
    """Requirement -> status over every market report of the run."""
    statuses: dict[str, str] = {}
    for report in sorted((evidence / "reports").glob("report-*.json")):
        statuses.update(requirement_statuses(json.loads(report.read_text())))
    return dict(sorted(statuses.items()))
