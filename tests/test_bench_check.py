"""`hilbench bench check BENCH`: every device opened, its identity read, calibrations checked;
one row per device, with the hardware discovery shows behind it (a serial port's USB adapter
and a USB instrument in the same fields: VID:PID and serial); non-zero exit when anything is
wrong."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from hilbench import ConfigError
from hilbench.bench import embedded_profile_dir, load_bench
from hilbench.emulation import child_environment

EM1 = embedded_profile_dir() / "em1-meter.toml"
DMM = embedded_profile_dir() / "dmm6-reference.toml"


def bench_check(bench: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = child_environment()  # as a lab engineer starts it: no preload, no re-exec flag
    env.pop("HILBENCH_NO_REEXEC", None)
    return subprocess.run([sys.executable, "-m", "hilbench.cli", "bench", "check", str(bench),
                           *extra], env=env, capture_output=True, text=True, timeout=120)


def emulated_meter_bench(tmp_path: Path, due: date, defects: str = "") -> Path:
    bench = tmp_path / "bench.toml"
    bench.write_text(f"""schema = 1
name = "check"
[[devices]]
name = "reference-meter"
profile = "{EM1}"
[devices.emulator]
defects = [{defects}]
[devices.calibration]
certificate = "CAL-2026-0042"
due = {due.isoformat()}
laboratory = "Cal Lab"
""")
    return bench


def test_a_healthy_bench_passes_with_identity_read_over_the_emulated_serial_port(tmp_path):
    result = bench_check(emulated_meter_bench(tmp_path, date.today() + timedelta(days=30)),
                         "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    [row] = json.loads(result.stdout)["devices"]
    assert row["reachable"] and row["problems"] == []
    assert (row["model"], row["serial"], row["firmware"]) == (
        "EM-1 three-phase meter", "EM1-2026-000123", "1.4.2")
    assert any(e.startswith("/dev/tty") for e in row["endpoints"])  # the RTU port was opened


def test_serial_adapters_and_usb_instruments_show_the_same_identity_fields(tmp_path):
    """Issue 8: libserialport's port list and libusb's device list give one shape of identity,
    so the check prints VID:PID and serial for the meter's RS-485 adapter and the DMM's USB."""
    bench = tmp_path / "bench.toml"
    bench.write_text(f"""schema = 1
name = "usb-and-serial"
[[devices]]
name = "meter"
profile = "{EM1}"
[devices.emulator]
tcp = false
[[devices]]
name = "dmm"
profile = "{DMM}"
[devices.emulator]
serial = false
tcp = false
usb = true
""")
    result = bench_check(bench, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {row["device"]: row for row in json.loads(result.stdout)["devices"]}
    adapter = next(h for h in rows["meter"]["hardware"] if h["resource"] == "serial")
    [usb] = rows["dmm"]["hardware"]
    assert set(adapter) == set(usb)
    assert adapter["port"].startswith("/dev/tty") and adapter["transport"] == "usb"
    assert adapter["usb_id"] and adapter["usb_serial"]
    assert (usb["port"], usb["usb_id"], usb["usb_serial"]) == (None, "1209:0001",
                                                               "DMM6-2026-000042")
    text = bench_check(bench)
    assert text.returncode == 0, text.stdout + text.stderr
    assert f"on USB {adapter['usb_id']} serial {adapter['usb_serial']}" in text.stdout
    assert "USB 1209:0001 serial DMM6-2026-000042" in text.stdout


def test_an_overdue_calibration_and_a_wrong_identity_fail_the_check(tmp_path):
    result = bench_check(emulated_meter_bench(tmp_path, date.today() - timedelta(days=1),
                                              defects='"device_id_wrong_revision"'))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "calibration CAL-2026-0042 was due" in result.stdout
    assert "revision: reports" in result.stdout and "declared '1.4.2'" in result.stdout


def test_a_device_that_does_not_answer_fails_the_check(tmp_path, silent_server):
    bench = tmp_path / "bench.toml"
    bench.write_text(f"schema = 1\n[[devices]]\nname = 'mute'\nprofile = '{EM1}'\n"
                     f"[devices.tcp]\nhost = '127.0.0.1'\nport = {silent_server.port}\n")
    result = bench_check(bench, "--timeout", "0.2")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "mute" in result.stdout and "no answer" in result.stdout


@pytest.mark.parametrize("table, key, words", [
    ("certificate = 'C'\ndue = 2027-01-01T10:00:00Z", "calibration.due", "got a date-time"),
    ("certificate = 'C'\ndue = '2027-01-01'", "calibration.due", "expected date"),
    ("due = 2027-01-01", "calibration.certificate", "missing"),
    ("certificate = 'C'\ndue = 2027-01-01\nissued = 2027-02-01", "calibration.issued",
     "after the due date"),
])
def test_calibration_errors_name_the_key(tmp_path, table, key, words):
    bench = tmp_path / "bench.toml"
    bench.write_text(f"schema = 1\n[[devices]]\nprofile = '{EM1}'\n[devices.tcp]\n"
                     f"host = 'h'\nport = 1\n[devices.calibration]\n{table}\n")
    with pytest.raises(ConfigError, match=rf"devices\[0\]\.{key}.*{words}"):
        load_bench(bench)
