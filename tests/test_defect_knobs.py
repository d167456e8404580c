"""The mutation matrix: every defect knob of the emulated bench breaks exactly one claim of a
suite requirement, and a suite session with that knob on fails exactly the tests of that claim
and exactly the requirements they produce evidence for — in every market's report — while
every other suite requirement passes. docs/mutation-matrix.md lists the rows (claim -> test ->
knob -> requirement) and explains each claim that has no knob.

Two depths, one code path (docs/mutation-matrix.md, "Running the matrix"):
* here (ci/test): the default run covers every suite folder; each knob's run covers the suite
  folders that define its broken tests (a knob of the interface suite runs all of
  suites/interface, so a knob that bleeds into a neighbouring claim of its folder fails);
  sessions run side by side (HILBENCH_MATRIX_JOBS, default 4: they mostly wait on paced
  serial lines and gates), and each is compared with the pinned full-depth verdicts;
* HILBENCH_MATRIX=full (and tests/golden/regenerate.py, which writes the pinned verdicts):
  every knob against every suite folder.

Every verdict of every run is pinned (tests/golden/verdicts.json): a later change that moves
any verdict must regenerate that file on purpose (tests/golden/regenerate.py) and say why."""

from __future__ import annotations

import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from hilbench.profile import known_defects

from hilbench_testing import ROOT, load_report, requirement_statuses, run_pytest

GOLDEN = json.loads((Path(__file__).parent / "golden" / "verdicts.json").read_text())["runs"]

INPUT_VALIDATION = {"EN303645-5.13-1B", "EN18031-GEC-6"}
IDENTIFICATION = {"MODBUS-APP-6.21", "EN303645-5.3-16", "US-8425-D1", "US-8259A-1", "JP-S1.1-16",
                  "WELMEC-P2"}
FRAMING = {"MODBUS-TCP-MBAP", "MODBUS-SL-ADDR", "MODBUS-SL-CRC"}
IEC62056 = {"IEC62056-21-SIGNON", "IEC62056-21-BAUD", "IEC62056-21-BCC", "IEC62056-21-PASSWORD"}
RECOVERY = {"EN303645-5.9-1", "EN303645-5.9-2"}
CLOCK = {"IEC62054-21-ACC", "HB-CLOCK-SET"}
WORLD = {"IEC62053-21-ERR", "IEC62053-21-START", "IEC62053-21-NOLOAD", "HB-METER-NV"} | CLOCK
TRANSMITTER = {"NE43-FAIL-BAND", "NE43-STATUS", "IEC60770-1-STEP", "IEC60770-1-ERR",
               "IEC60770-1-LIN", "IEC60770-1-HYST", "IEC60770-1-REPEAT"}
NO_UNIVERSAL_PASSWORD = {"EN303645-5.1-1", "EN303645-5.1-2", "EN18031-AUM-5-1", "US-CA327(b)",
                         "US-8425-D4", "US-8259A-4", "JP-S1.1-02", "AU-SDR-C2", "BR-2436-FACTPW",
                         "CN-41387-6.3.6(b)", "IN-TEC-CoP-1", "FI-TRAF-1", "VN-QCVN11-PW",
                         "DE-LABEL-IoT-ACC"}
TIMING = {"MODBUS-SL-T35", "MODBUS-SL-T15", "HB-TIMING-RESP", "IEC62056-21-REACTION"}
SUITE_REQUIREMENTS = ({"MODBUS-APP-7-01", "MODBUS-APP-7-02", "MODBUS-APP-7-03", "HB-IOP-01",
                       "MODBUS-APP-RESP", "MODBUS-APP-WRITE", "HB-DATA-01", "CRA-I.2(h)"}
                      | FRAMING | INPUT_VALIDATION | IDENTIFICATION | IEC62056 | RECOVERY | WORLD
                      | TRANSMITTER | TIMING | NO_UNIVERSAL_PASSWORD)
MARKETS = ("EU", "JP", "SG", "UK", "US")

# knob -> (the suite tests it must fail: test function names, parameters ignored;
#          the requirements that must then fail, and no other). A knob of the DUT meter by
# its name; of another device of the embedded bench as DEVICE:KNOB (the --defect syntax).
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
    # P1 opening with anything also opens it with the universal defaults (suites/security)
    "iec_password_not_checked": ({"test_programming_mode_opens_with_the_password_only",
                                  "test_no_universal_default_password_opens_the_optical_port"},
                                 {"IEC62056-21-PASSWORD"} | NO_UNIVERSAL_PASSWORD),
    # suites/robustness (issue 10)
    "bad_crc_executed": ({"test_write_with_a_flipped_bit_does_not_change_the_register"},
                         {"MODBUS-SL-CRC"} | INPUT_VALIDATION),
    "stops_answering_after_noise": ({"test_still_answers_after_a_burst_of_malformed_frames"},
                                    {"CRA-I.2(h)"}),
    "tcp_wedged_by_partial_frame": ({"test_keeps_answering_after_the_link_fault_is_removed"},
                                    RECOVERY),
    # The meter in the bench's world (suites/metrology, suites/timing/test_clock.py): powered
    # by the PSU, driven by the reference source (tests/test_world.py shows the same knobs on
    # a bench of three).
    "out_of_class_at_low_current": ({"test_error_within_class_at_load_point"},
                                    {"IEC62053-21-ERR"}),
    "creeps_at_no_load": ({"test_no_load_gives_at_most_one_pulse"}, {"IEC62053-21-NOLOAD"}),
    "register_disagrees_with_test_output": ({"test_register_and_test_output_agree"},
                                            {"IEC62053-21-CONST"}),
    "loses_energy_on_power_cut": ({"test_energy_survives_a_supply_interruption"},
                                  {"HB-METER-NV"}),
    "clock_drift_excessive": ({"test_clock_drift_within_the_limit"}, {"IEC62054-21-ACC"}),
    "clock_set_slips_an_hour": ({"test_clock_set_reads_back"}, {"HB-CLOCK-SET"}),
    # suites/timing (issue 11; docs/timing.md)
    "rtu_reply_gap": ({"test_rtu_answer_has_no_gap_above_t15"}, {"MODBUS-SL-T15"}),
    "rtu_reply_without_silence": ({"test_rtu_answer_follows_t35_of_silence"}, {"MODBUS-SL-T35"}),
    "slow_response": ({"test_answers_within_the_declared_response_time"}, {"HB-TIMING-RESP"}),
    "iec_reaction_too_fast": ({"test_sign_on_answered_no_sooner_than_the_reaction_time"},
                              {"IEC62056-21-REACTION"}),
    # The bench's transmitter (suites/transmitter/test_transmitter_*.py)
    "tt1:ne43_wrong_failure_band": ({"test_sensor_failure_is_signalled_in_a_failure_band"},
                                    {"NE43-FAIL-BAND"}),
    "tt1:status_not_flagged": ({"test_sensor_failure_is_flagged_in_the_status"}, {"NE43-STATUS"}),
    "tt1:lag_too_slow": ({"test_step_response_settles_within_the_declared_time"},
                         {"IEC60770-1-STEP"}),
    "tt1:zero_offset": ({"test_measured_error_within_the_declared_limit"}, {"IEC60770-1-ERR"}),
    "tt1:bowed_output": ({"test_nonlinearity_within_the_declared_limit"}, {"IEC60770-1-LIN"}),
    "tt1:hysteresis_excessive": ({"test_hysteresis_within_the_declared_limit"},
                                 {"IEC60770-1-HYST"}),
    "tt1:not_repeatable": ({"test_non_repeatability_within_the_declared_limit"},
                           {"IEC60770-1-REPEAT"}),
    # suites/security (issue 12)
    "universal_password": ({"test_no_universal_default_password_opens_the_optical_port"},
                           NO_UNIVERSAL_PASSWORD),
}


def test_every_knob_of_the_meter_and_the_transmitter_is_in_the_matrix():
    assert {k for k in KNOBS if ":" not in k} == set(known_defects("meter"))
    assert {k.split(":")[1] for k in KNOBS if k.startswith("tt1:")} == \
        set(known_defects("transmitter"))


FULL = os.environ.get("HILBENCH_MATRIX") == "full"
JOBS = int(os.environ.get("HILBENCH_MATRIX_JOBS", "4"))
SESSION_TIMEOUT_S = 1200  # one suite session, side by side with JOBS - 1 others
FAILING = ("failed", "error")

# The matrix computes every session up front (side by side), then each test judges its own.
pytestmark = pytest.mark.timeout(3600)


def suite_folders(tests: set[str]) -> list[str]:
    """The suite folders (relative to the repository) whose files define these tests."""
    folders: dict[str, str] = {}
    for path in sorted((ROOT / "suites").rglob("test_*.py")):
        text = path.read_text()
        for name in tests:
            if re.search(rf"^def {name}\(", text, re.MULTILINE):
                folders[name] = str(path.parent.relative_to(ROOT))
    assert set(folders) == tests, f"no suite defines {sorted(tests - set(folders))}"
    return sorted(set(folders.values()))


def scope(knob: str | None) -> list[str]:
    return ["suites"] if FULL or knob is None else suite_folders(KNOBS[knob][0])


def run_suites(tmp_path: Path, knob: str | None, folders: list[str] | None = None
               ) -> tuple[CompletedProcess[str], Path]:
    evidence = tmp_path / "evidence"
    result = run_pytest([*(folders or ["suites"]), "-rA",
                         *(["--defect", knob] if knob else []), "--evidence-dir", str(evidence)],
                        timeout=SESSION_TIMEOUT_S)
    return result, evidence


def run_matrix(knobs: list[str | None], scratch: Path, jobs: int = JOBS
               ) -> dict[str | None, tuple[CompletedProcess[str], Path]]:
    """One suite session per knob (None: the default run), `jobs` side by side."""
    def one(index: int, knob: str | None) -> tuple[CompletedProcess[str], Path]:
        folder = scratch / f"{index:02d}-{(knob or 'default').replace(':', '-')}"
        folder.mkdir()
        return run_suites(folder, knob, scope(knob))
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {knob: pool.submit(one, index, knob) for index, knob in enumerate(knobs)}
        return {knob: future.result() for knob, future in futures.items()}


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory
           ) -> dict[str | None, tuple[CompletedProcess[str], Path]]:
    # The default run covers every folder, so it starts first.
    return run_matrix([None, *sorted(KNOBS)], tmp_path_factory.mktemp("matrix"))


def failed_tests(stdout: str) -> set[str]:
    """Test function names of the FAILED lines (parameters dropped)."""
    return {line.split("::")[-1].split(" ")[0].split("[")[0]
            for line in stdout.splitlines() if line.startswith(("FAILED", "ERROR"))}


def was_tested(status: str | None) -> bool:
    return status in ("passed", *FAILING)


@pytest.mark.parametrize("knob", sorted(KNOBS))
def test_defect_knob_fails_exactly_its_claim(matrix, knob):
    broken_tests, failing = KNOBS[knob]
    result, evidence = matrix[knob]
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    assert failed_tests(result.stdout) == broken_tests, result.stdout[-3000:]

    every = all_statuses(evidence)
    if FULL:
        assert every == GOLDEN[knob]
    else:
        # The pinned full-depth run fails exactly what this run fails, and passes what it passes.
        pinned = GOLDEN[knob]
        assert {r for r, s in every.items() if s in FAILING} == \
            {r for r, s in pinned.items() if s in FAILING}, (every, pinned)
        assert {r: pinned.get(r) for r, s in every.items() if s == "passed"} == \
            {r: "passed" for r, s in every.items() if s == "passed"}
    for market in MARKETS:
        # In every market's report: exactly the knob's requirements fail, none errors, and
        # every other suite requirement the run tested passes (a framing knob fails only its
        # framing one).
        report = requirement_statuses(load_report(evidence, market))
        assert {rid for rid, s in report.items() if s in FAILING} == \
            {rid for rid in failing if rid in report}, (market, report)
        assert all(report[rid] == "failed" for rid in failing if rid in report), market
        assert all(report[rid] == "passed" for rid in SUITE_REQUIREMENTS - failing
                   if was_tested(report.get(rid))), (market, report)
    # ...and the report says which knob was on, on which device, so no one mistakes it for
    # the device's fault.
    device, _, bare = knob.rpartition(":")
    duts = load_report(evidence, "EU")["duts"]
    assert {d["name"]: d["defects"] for d in duts if d["defects"]} == {device or "em1": [bare]}
    # The identity read at the start of the run shows the knob that changes it.
    identity = duts[0]["reported_identity"]
    assert identity["differs"] == (["revision"] if knob == "device_id_wrong_revision" else [])
    assert f"<code>{bare}</code>" in (evidence / "reports" / "report-EU.html").read_text()


def test_default_bench_passes_every_suite_requirement(matrix):
    result, evidence = matrix[None]
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
