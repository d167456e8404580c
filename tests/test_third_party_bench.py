"""The suite runs unchanged against a Modbus device that is not our emulator: a pymodbus server
with its own register map and identity, reached through a bench file over TCP and serial.

pymodbus 3.16.1 is not fully conformant (tests/peers/README.md): it answers an unsupported
function code and an out-of-range quantity with function 0x80 + exception 01 instead of
0xC1/01 and 0x83/03, and over RTU it does not answer an unknown function at all. The suite
must find exactly that, and name the requirements, while everything else passes."""

from __future__ import annotations

import json

from hilbench.emulation import present_port

from hilbench_testing import PEERS, load_report, requirement_statuses, run_pytest


def test_suite_runs_unchanged_on_a_pymodbus_device(tmp_path, pymodbus_peer):
    tcp_peer = pymodbus_peer("--tcp-port", "0")
    port = present_port("ttyUSB5")
    try:
        # Two pymodbus servers share one profile (one datastore each): the suite's cross-interface
        # test then checks that both serve the same data model, as one device's two ports would.
        serial_peer = pymodbus_peer("--serial-port", port.ready["peer_path"])
        assert serial_peer.alive()
        bench = tmp_path / "pymodbus-bench.toml"
        bench.write_text(f'''
schema = 1
name = "pymodbus-bench"
[[devices]]
name = "acme"
profile = "{PEERS / 'pymodbus-meter.toml'}"
emulated = true   # a simulator: its reports are not certification evidence
[devices.tcp]
host = "127.0.0.1"
port = {tcp_peer.ready["tcp"]["port"]}
[devices.serial]
port = "{port.ready["device_path"]}"
umockdev_dir = "{port.ready["umockdev_dir"]}"
''')
        evidence = tmp_path / "evidence"
        result = run_pytest(["suites", "-rA", "--bench", str(bench), "--evidence-dir", str(evidence)])
    finally:
        port.stop()
    output = result.stdout[-4000:] + result.stderr[-2000:]
    assert result.returncode == 1, output
    failed = sorted(line.split("::")[-1].split(" ")[0] for line in result.stdout.splitlines()
                    if line.startswith("FAILED"))
    assert failed == ["test_illegal_quantity_answers_exception_03[rtu]",
                      "test_illegal_quantity_answers_exception_03[tcp]",
                      "test_unsupported_function_answers_exception_01[rtu]",
                      "test_unsupported_function_answers_exception_01[tcp]"], output
    journal = [json.loads(line) for line in (evidence / "journal.jsonl").read_text().splitlines()]
    [dut] = [r["data"] for r in journal if r["type"] == "dut"]
    assert dut["name"] == "acme" and dut["declared_identity"]["vendor"] == "Acme Metering"
    statuses = requirement_statuses(load_report(evidence, "EU"))
    for passed in ("MODBUS-APP-6.21", "MODBUS-APP-7-02", "MODBUS-SL-CRC", "HB-IOP-01", "EN303645-5.3-16"):
        assert statuses[passed] == "passed", passed
    for failed_requirement in ("MODBUS-APP-7-01", "MODBUS-APP-7-03", "EN303645-5.13-1B"):
        assert statuses[failed_requirement] == "failed", failed_requirement
    html = (evidence / "reports" / "report-EU.html").read_text()
    assert "Acme Metering" in html and "pymodbus-bench" in html
