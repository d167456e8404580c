"""Whole pytest sessions with the plugin, as a lab runs them: a lab's own folder (no
conftest.py), an emulator killed in the middle of a test, journal tampering, markets."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from hilbench import verify_journal

from hilbench.bench import embedded_profile_dir

from hilbench_testing import requirement_statuses, run_pytest

EM1 = embedded_profile_dir() / "em1-meter.toml"

LAB_TESTS = '''
import pytest
from hilbench import TransportError, DeviceTimeout

@pytest.mark.requirement("MODBUS-APP-6.21")
def test_a_emulator_killed_mid_test(bench, dut):
    client = dut.client("{interface}")
    assert len(client.read_holding_registers(0, 2)) == 2
    bench.emulator(dut.name).kill()
    client.read_holding_registers(0, 2)

@pytest.mark.requirement("MODBUS-APP-6.21")
def test_b_next_test_runs_on_a_restarted_emulator(dut):
    assert len(dut.client("tcp").read_holding_registers(0, 2)) == 2
    assert len(dut.client("rtu").read_holding_registers(0, 2)) == 2

def test_c_plain_test_is_not_journaled():
    assert True
'''


def records(evidence: Path) -> list[dict]:
    return [json.loads(line) for line in (evidence / "journal.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("interface", ["tcp", "rtu"])
def test_emulator_killed_mid_test_errors_that_test_and_the_run_goes_on(tmp_path, interface):
    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "test_lab.py").write_text(LAB_TESTS.replace("{interface}", interface))
    evidence = tmp_path / "evidence"
    result = run_pytest(["-v", "test_lab.py", "--evidence-dir", str(evidence)], cwd=lab, timeout=120)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "test_a_emulator_killed_mid_test FAILED" in out
    assert "test_b_next_test_runs_on_a_restarted_emulator PASSED" in out
    assert "test_c_plain_test_is_not_journaled PASSED" in out
    assert ("ConnectionClosed" in out or "TransportError" in out or "DeviceTimeout" in out)
    journal = records(evidence)
    finished = {r["data"]["nodeid"].split("::")[-1]: r["data"] for r in journal if r["type"] == "test_finished"}
    # The bench broke under the test: no verdict on the device, so "error", not "failed".
    assert finished["test_a_emulator_killed_mid_test"]["outcome"] == "error"
    assert finished["test_a_emulator_killed_mid_test"]["message"]
    assert finished["test_b_next_test_runs_on_a_restarted_emulator"]["outcome"] == "passed"
    assert "test_c_plain_test_is_not_journaled" not in finished
    assert any(r["type"] == "emulator_restarted" for r in journal)
    assert journal[-1]["type"] == "journal_sealed"
    assert verify_journal(str(evidence / "journal.jsonl")).ok
    assert (evidence / "reports" / "index.html").exists()


def test_unknown_requirement_id_is_a_usage_error(tmp_path):
    (tmp_path / "test_typo.py").write_text(textwrap.dedent('''
        import pytest
        @pytest.mark.requirement("EN303645-9.9-9")
        def test_x(): pass
    '''))
    result = run_pytest(["test_typo.py", "--evidence-dir", str(tmp_path / "ev")], cwd=tmp_path)
    assert result.returncode == 4 and "EN303645-9.9-9" in result.stderr


def test_evidence_dir_with_a_journal_is_never_overwritten(tmp_path):
    evidence = tmp_path / "ev"
    evidence.mkdir()
    (evidence / "journal.jsonl").write_text("precious\n")
    result = run_pytest(["suites", "--evidence-dir", str(evidence)])
    assert result.returncode != 0 and "already holds a journal" in result.stdout + result.stderr
    assert (evidence / "journal.jsonl").read_text() == "precious\n"


def test_unknown_market_is_a_usage_error(tmp_path):
    result = run_pytest(["suites", "--markets", "EU,XX", "--evidence-dir", str(tmp_path / "ev")])
    assert result.returncode == 4 and "XX" in result.stderr


def test_hostile_strings_from_a_device_are_escaped_in_every_report(tmp_path):
    """The device's identity is untrusted input: it reaches the journal verbatim and the HTML
    reports escaped."""
    from hilbench.bench import embedded_profile_dir

    hostile = '<script>alert("pwn")</script>&<img src=x onerror=alert(1)>'
    profile = (embedded_profile_dir() / "em1-meter.toml").read_text()
    profile = profile.replace('model = "EM-1 three-phase meter"', f"model = '{hostile}'")
    (tmp_path / "hostile.toml").write_text(profile)
    (tmp_path / "bench.toml").write_text(textwrap.dedent('''
        schema = 1
        name = "hostile"
        [[devices]]
        profile = "hostile.toml"
        [devices.emulator]
    '''))
    evidence = tmp_path / "evidence"
    result = run_pytest(["suites", "-k", "identification", "--bench", str(tmp_path / "bench.toml"),
                         "--evidence-dir", str(evidence)])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    reported = [r["data"]["value"] for r in records(evidence)
                if r["type"] == "observation" and r["data"]["name"] == "identity object 0x05"]
    assert reported and all(value == hostile for value in reported)  # verbatim in the evidence
    for report in (evidence / "reports").glob("*.html"):
        html = report.read_text()
        assert "<script>" not in html and "<img src=x" not in html, report.name
    assert "&lt;script&gt;" in (evidence / "reports" / "report-EU.html").read_text()


def test_tests_that_do_not_apply_to_the_bench_are_reported_not_applicable(tmp_path):
    """A TCP-only bench: the serial-line test (needs modbus-rtu) and the every-interface test
    do not apply; the journal and reports say so, with the reason, and nothing passes
    for them."""
    (tmp_path / "bench.toml").write_text(textwrap.dedent('''
        schema = 1
        name = "tcp only"
        [[devices]]
        profile = "PROFILE"
        [devices.emulator]
        serial = false
    ''').replace("PROFILE", str(EM1)))
    evidence = tmp_path / "evidence"
    result = run_pytest(["suites", "--bench", str(tmp_path / "bench.toml"), "--evidence-dir",
                         str(evidence)])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    finished = {r["data"]["nodeid"].split("::")[-1]: r["data"] for r in records(evidence)
                if r["type"] == "test_finished"}
    crc = finished["test_frame_with_bad_crc_is_discarded"]
    assert crc["outcome"] == "not_applicable"
    assert "does not offer modbus-rtu" in crc["message"] and "modbus-tcp" in crc["message"]
    assert finished["test_registers_identical_over_every_interface"]["outcome"] == "not_applicable"
    assert finished["test_device_identification_matches_declared[rtu]"]["outcome"] == "not_applicable"
    assert finished["test_device_identification_matches_declared[tcp]"]["outcome"] == "passed"
    statuses = requirement_statuses(json.loads((evidence / "reports" / "report-EU.json").read_text()))
    assert statuses["MODBUS-SL-CRC"] == "not applicable"
    assert statuses["HB-IOP-01"] == "not applicable"
    assert statuses["EN18031-GEC-6"] == "passed"


def test_identity_is_read_at_the_start_and_a_dead_device_does_not_stop_the_run(tmp_path,
                                                                              silent_server):
    """The DUT's identity is read when the bench comes up and journaled beside the declared
    one; a device that does not answer is journaled as such and the tests still run."""
    (tmp_path / "bench.toml").write_text(textwrap.dedent(f'''
        schema = 1
        [[devices]]
        name = "mute"
        profile = "{EM1}"
        [devices.tcp]
        host = "127.0.0.1"
        port = {silent_server.port}
    '''))
    (tmp_path / "test_lab.py").write_text(textwrap.dedent('''
        def test_bench_is_up(bench):
            assert bench.names == ["mute"]
    '''))
    evidence = tmp_path / "evidence"
    result = run_pytest([str(tmp_path / "test_lab.py"), "--bench", str(tmp_path / "bench.toml"),
                         "--hilbench-timeout", "0.2", "--evidence-dir", str(evidence)],
                        cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    [identity] = [r["data"] for r in records(evidence) if r["type"] == "dut_identity"]
    assert identity["dut"] == "mute" and identity["reported"] == {}
    assert "no answer" in identity["error"] and "deadline 200.000 ms" in identity["error"]
    exchanges = [r["data"] for r in records(evidence) if r["type"] == "exchange"]
    assert exchanges and all(e["nodeid"] is None and e["outcome"] == "timeout" for e in exchanges)
    dut = json.loads((evidence / "reports" / "report-EU.json").read_text())["duts"][0]
    assert dut["reported_identity"]["error"] == identity["error"]


RECONNECT_TESTS = '''
import socket

def drop_connections():
    with socket.create_connection(("127.0.0.1", {control})) as control:
        assert control.recv(16) == b"dropped"  # the proxy has dropped every connection

def test_a_the_device_reboots_mid_test(dut):
    client = dut.client("tcp")
    assert client.read_input_registers(0, 1) == [2301]
    drop_connections()
    client.read_input_registers(0, 1)  # the connection is gone: this test fails

def test_b_the_next_test_runs_on_a_reopened_connection(dut):
    assert dut.client("tcp").read_input_registers(0, 1) == [2301]

def test_c_and_so_does_the_one_after_a_drop_between_tests(dut):
    drop_connections()

def test_d_reconnected_again(dut):
    assert dut.client("tcp").read_input_registers(0, 1) == [2301]
'''


def test_a_dropped_tcp_connection_is_reopened_for_the_next_test_and_journaled(tmp_path):
    """Found as: a device that dropped its TCP connection once (a meter rebooting) made every
    later test of it fail with "broken pipe"; the transport was never reopened."""
    from hilbench.emulation import start_emulator
    from hilbench_testing import DroppingProxy

    emulator = start_emulator(EM1, serial=False, log_path=tmp_path / "emulator.log")
    proxy = DroppingProxy(emulator.ready["tcp"]["port"])
    try:
        (tmp_path / "bench.toml").write_text(textwrap.dedent(f'''
            schema = 1
            [[devices]]
            profile = "{EM1}"
            [devices.tcp]
            host = "127.0.0.1"
            port = {proxy.port}
        '''))
        (tmp_path / "test_lab.py").write_text(RECONNECT_TESTS.replace("{control}",
                                                                      str(proxy.control_port)))
        evidence = tmp_path / "evidence"
        result = run_pytest([str(tmp_path / "test_lab.py"), "-rA", "--bench",
                             str(tmp_path / "bench.toml"), "--evidence-dir", str(evidence)],
                            cwd=tmp_path)
    finally:
        proxy.close()
        emulator.stop()
    outcomes = {r["data"]["nodeid"].split("::")[-1]: r["data"]["outcome"]
                for r in records(evidence) if r["type"] == "test_finished"}
    assert outcomes == {"test_a_the_device_reboots_mid_test": "error",  # no verdict reached
                        "test_b_the_next_test_runs_on_a_reopened_connection": "passed",
                        "test_c_and_so_does_the_one_after_a_drop_between_tests": "passed",
                        "test_d_reconnected_again": "passed"}, result.stdout[-3000:]
    assert proxy.accepted == 3  # the first connection and two reconnections
    events = [(r["type"], r["data"]) for r in records(evidence)
              if r["type"] in ("connection_lost", "reconnected")]
    assert [kind for kind, _ in events] == ["connection_lost", "reconnected"] * 2
    assert events[1][1]["attempts"] == 1 and events[1][1]["resource"]["kind"] == "tcp"
