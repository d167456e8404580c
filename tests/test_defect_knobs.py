"""The mutation matrix: every defect knob of the emulated meter breaks exactly one claim of a
suite requirement, and a whole suite session with that knob on fails exactly the tests of that
claim and exactly the requirements they produce evidence for — in every market's report —
while every other suite requirement passes. docs/mutation-matrix.md lists the rows (claim ->
test -> knob -> requirement) and explains each claim that has no knob.

Every verdict of every run is also pinned (tests/golden/verdicts.json): a later change that
moves any verdict must regenerate that file on purpose (tests/golden/regenerate.py) and say
why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hilbench.profile import known_defects

from hilbench_testing import load_report, requirement_statuses, run_pytest

GOLDEN = json.loads((Path(__file__).parent / "golden" / "verdicts.json").read_text())["runs"]

INPUT_VALIDATION = {"EN303645-5.13-1B", "EN18031-GEC-6"}
IDENTIFICATION = {"MODBUS-APP-6.21", "EN303645-5.3-16", "US-8425-D1", "US-8259A-1", "JP-S1.1-16",
                  "WELMEC-P2"}
FRAMING = {"MODBUS-TCP-MBAP", "MODBUS-SL-ADDR", "MODBUS-SL-CRC"}
IEC62056 = {"IEC62056-21-SIGNON", "IEC62056-21-BAUD", "IEC62056-21-BCC", "IEC62056-21-PASSWORD"}
RECOVERY = {"EN303645-5.9-1", "EN303645-5.9-2"}
SUITE_REQUIREMENTS = ({"MODBUS-APP-7-01", "MODBUS-APP-7-02", "MODBUS-APP-7-03", "HB-IOP-01",
                       "MODBUS-APP-RESP", "MODBUS-APP-WRITE", "HB-DATA-01", "CRA-I.2(h)"}
                      | FRAMING | INPUT_VALIDATION | IDENTIFICATION | IEC62056 | RECOVERY)
MARKETS = ("EU", "JP", "SG", "UK", "US")

# knob -> (the suite tests it must fail: test function names, parameters ignored;
#          the requirements that must then fail, and no other)
KNOBS: dict[str, tuple[set[str], set[str]]] = {
    "illegal_address_returns_data": (
        {"test_read_past_the_end_of_a_table_answers_exception_02",
         "test_range_crossing_the_end_of_a_table_answers_exception_02"},
        {"MODBUS-APP-7-02"} | INPUT_VALIDATION),
    "illegal_function_silent": ({"test_unsupported_function_answers_exception_01"},
                                {"MODBUS-APP-7-01"} | INPUT_VALIDATION),
    "illegal_value_accepted": ({"test_illegal_quantity_answers_exception_03",
                                "test_write_single_coil_with_illegal_value_answers_exception_03"},
                               {"MODBUS-APP-7-03"} | INPUT_VALIDATION),
    "bad_crc_answered": ({"test_frame_with_bad_crc_is_discarded",
                          "test_write_with_a_flipped_bit_does_not_change_the_register"},
                         {"MODBUS-SL-CRC"} | INPUT_VALIDATION),
    "device_id_wrong_revision": ({"test_device_identification_matches_declared"}, IDENTIFICATION),
    "tcp_register_skew": ({"test_registers_identical_over_every_interface"}, {"HB-IOP-01"}),
    "range_crossing_answered": ({"test_range_crossing_the_end_of_a_table_answers_exception_02"},
                                {"MODBUS-APP-7-02"} | INPUT_VALIDATION),
    "quantity_zero_accepted": ({"test_illegal_quantity_answers_exception_03"},
                               {"MODBUS-APP-7-03"} | INPUT_VALIDATION),
    "byte_count_mismatch_accepted": (
        {"test_write_multiple_with_mismatched_byte_count_answers_exception_03"},
        {"MODBUS-APP-7-03"} | INPUT_VALIDATION),
    "bit_byte_count_off_by_one": ({"test_read_at_table_edge_has_its_shape"}, {"MODBUS-APP-RESP"}),
    "write_multiple_registers_not_stored": ({"test_acknowledged_write_reads_back"},
                                            {"MODBUS-APP-WRITE"}),
    "word_order_swapped": ({"test_values_match_the_declared_data_model"}, {"HB-DATA-01"}),
    "live_value_out_of_band": ({"test_values_match_the_declared_data_model"}, {"HB-DATA-01"}),
    "mbap_transaction_id_top_bit_cleared": ({"test_mbap_answer_echoes_the_transaction_id"},
                                            {"MODBUS-TCP-MBAP"}),
    "mbap_unit_id_not_echoed": ({"test_mbap_answer_echoes_the_unit_id"}, {"MODBUS-TCP-MBAP"}),
    "rtu_other_unit_answered": ({"test_frame_for_another_address_gets_no_reply"},
                                {"MODBUS-SL-ADDR"}),
    "rtu_broadcast_answered": ({"test_broadcast_write_is_executed_and_not_answered"},
                               {"MODBUS-SL-ADDR"}),
    # IEC 62056-21 mode C on the optical port (suites/interface/test_iec62056_mode_c.py)
    "iec_identification_wrong_baud_character": ({"test_sign_on_answers_the_identification"},
                                                {"IEC62056-21-SIGNON"}),
    "iec_bcc_error": ({"test_readout_bcc_is_the_xor_of_the_block"}, {"IEC62056-21-BCC"}),
    "iec_ignores_baud_switch": ({"test_readout_switches_to_the_agreed_baud_rate"},
                                {"IEC62056-21-BAUD"}),
    "iec_password_not_checked": ({"test_programming_mode_opens_with_the_password_only"},
                                 {"IEC62056-21-PASSWORD"}),
    # suites/robustness (issue 10)
    "bad_crc_executed": ({"test_write_with_a_flipped_bit_does_not_change_the_register"},
                         {"MODBUS-SL-CRC"} | INPUT_VALIDATION),
    "stops_answering_after_noise": ({"test_still_answers_after_a_burst_of_malformed_frames"},
                                    {"CRA-I.2(h)"}),
    "tcp_wedged_by_partial_frame": ({"test_keeps_answering_after_the_link_fault_is_removed"},
                                    RECOVERY),
}


# The meter's measurement-model knobs act only in a bench's world (a powered, wired meter);
# tests/test_world.py shows each one detected there.
WORLD_KNOBS = {"out_of_class_at_low_current", "loses_energy_on_power_cut", "clock_drift_excessive"}


def test_every_knob_of_the_meter_is_in_the_matrix():
    assert set(KNOBS) | WORLD_KNOBS == set(known_defects("meter"))


def run_suites(tmp_path: Path, knob: str | None):
    evidence = tmp_path / "evidence"
    result = run_pytest(["suites", "-rA", *(["--defect", knob] if knob else []),
                         "--evidence-dir", str(evidence)])
    return result, evidence


def failed_tests(stdout: str) -> set[str]:
    """Test function names of the FAILED lines (parameters dropped)."""
    return {line.split("::")[-1].split(" ")[0].split("[")[0]
            for line in stdout.splitlines() if line.startswith(("FAILED", "ERROR"))}


@pytest.mark.parametrize("knob", sorted(KNOBS))
def test_defect_knob_fails_exactly_its_claim(tmp_path, knob):
    broken_tests, failing = KNOBS[knob]
    result, evidence = run_suites(tmp_path, knob)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    assert failed_tests(result.stdout) == broken_tests, result.stdout[-3000:]

    every = all_statuses(evidence)
    assert every == GOLDEN[knob]
    for market in MARKETS:
        # In every market's report: exactly the knob's requirements fail, none errors, and
        # every other suite requirement passes (a framing knob fails only its framing one).
        report = requirement_statuses(load_report(evidence, market))
        assert {rid for rid, s in report.items() if s in ("failed", "error")} == \
            {rid for rid in failing if rid in report}, (market, report)
        assert all(report[rid] == "failed" for rid in failing if rid in report), market
        assert all(report[rid] == "passed" for rid in SUITE_REQUIREMENTS - failing
                   if rid in report), (market, report)
    # ...and the report says which knob was on, so no one mistakes it for the device's fault.
    assert load_report(evidence, "EU")["duts"][0]["defects"] == [knob]
    # The identity read at the start of the run shows the knob that changes it.
    identity = load_report(evidence, "EU")["duts"][0]["reported_identity"]
    assert identity["differs"] == (["revision"] if knob == "device_id_wrong_revision" else [])
    assert f"<code>{knob}</code>" in (evidence / "reports" / "report-EU.html").read_text()


def test_default_bench_passes_every_suite_requirement(tmp_path):
    result, evidence = run_suites(tmp_path, None)
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
