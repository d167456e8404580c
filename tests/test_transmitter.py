"""The transmitter kind end to end: both drivers (modbus-transmitter over Modbus RTU,
ascii-transmitter over the line protocol) against the emulated transmitter on a presenter
serial port reached through libserialport over umockdev; the NAMUR NE 43 classification at
its band edges; and the transmitter suite (suites/transmitter/test_transmitter_*.py) run as a
lab runs it, passing on a healthy device and failing exactly the test of each knob's claim.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Iterator

import pytest

from hilbench.bench import embedded_profile_dir, load_bench
from hilbench.drivers.transmitter import AsciiTransmitterDriver, ModbusTransmitterDriver
from hilbench.line_client import LineDeviceError
from hilbench.live import LiveBench
from hilbench.ne43 import classify_loop_current
from hilbench.profile import known_defects, load_profile
from hilbench.protocols import Transmitter

from hilbench_testing import run_pytest

PROFILES = embedded_profile_dir()
DRIVERS = {"modbus-transmitter": PROFILES / "pt100-transmitter.toml",
           "ascii-transmitter": PROFILES / "pt10-ascii-transmitter.toml"}
SUITE = ["suites/transmitter/test_transmitter_output.py", "suites/transmitter/test_transmitter_ne43.py"]


def bench_file(directory: Path, driver: str, defects: tuple[str, ...] = ()) -> Path:
    knobs = ", ".join(f'"{d}"' for d in defects)
    path = directory / f"bench-{driver}.toml"
    path.write_text(f'schema = 1\nname = "transmitter"\n\n[[devices]]\n'
                    f'profile = "{DRIVERS[driver]}"\ndriver = "{driver}"\n'
                    f'[devices.emulator]\ndefects = [{knobs}]\n')
    return path


@pytest.fixture
def live(tmp_path: Path, in_preload: None) -> Iterator[Callable[[str], LiveBench]]:
    started: list[LiveBench] = []

    def start(driver: str) -> LiveBench:
        bench = LiveBench(load_bench(bench_file(tmp_path, driver)), tmp_path / "logs", timeout=2.0)
        bench.start()
        started.append(bench)
        return bench

    yield start
    for bench in started:
        bench.stop()


# ---- profiles and classification ---------------------------------------------------------

@pytest.mark.parametrize("driver", sorted(DRIVERS))
def test_profiles_load_through_the_emulator(driver: str) -> None:
    profile = load_profile(DRIVERS[driver])
    assert profile.kind == "transmitter"
    assert profile.has_serial
    assert set(profile.defects) == set(known_defects("transmitter")) == {
        "ne43_wrong_failure_band", "status_not_flagged", "lag_too_slow", "zero_offset",
        "bowed_output", "hysteresis_excessive", "not_repeatable"}
    assert profile.data["accuracy"] == {"measured_error_percent": 0.5,
                                        "nonlinearity_percent": 0.25, "hysteresis_percent": 0.3,
                                        "non_repeatability_percent": 0.05}
    assert profile.data["interface"]["protocol"] == (
        "ascii" if driver.startswith("ascii") else "modbus-rtu")
    assert profile.data["loop"]["saturation_low_ma"] == 3.8


# NAMUR NE 43 band edges: 3.6 / 21.0 mA failure limits and the 3.8 / 20.5 mA measurement
# band are [V]; the undefined zones between them are [M] (metrology-crypto.md section 3.3).
@pytest.mark.parametrize("milliamps, band", [
    (0.0, "failure_low"), (3.6, "failure_low"), (3.6001, "undefined_low"),
    (3.7999, "undefined_low"), (3.8, "measurement"), (4.0, "measurement"),
    (12.0, "measurement"), (20.5, "measurement"), (20.5001, "undefined_high"),
    (20.9999, "undefined_high"), (21.0, "failure_high"), (24.0, "failure_high"),
    (math.nan, "failure_low"),
])
def test_ne43_classification_at_the_band_edges(milliamps: float, band: str) -> None:
    assert classify_loop_current(milliamps) == band


# ---- drivers against the emulated transmitter ---------------------------------------------

@pytest.mark.parametrize("driver", sorted(DRIVERS))
def test_driver_reads_process_value_current_and_status(live: Callable[[str], LiveBench],
                                                       driver: str) -> None:
    bench = live(driver)
    transmitter = bench.find(Transmitter)
    assert isinstance(transmitter, (ModbusTransmitterDriver, AsciiTransmitterDriver))
    declared = transmitter.profile.data["range"]
    transmitter.simulate_input(declared["lower"] + 0.5 * (declared["upper"] - declared["lower"]))
    reading = transmitter.reading()
    assert set(reading) == {"process_value", "unit", "loop_current_ma", "status"}
    assert reading["unit"] == declared["unit"]
    assert reading["status"] == "measurement"
    assert 3.8 <= reading["loop_current_ma"] <= 20.5
    transmitter.simulate_sensor_fault(True)
    failing = transmitter.reading()
    assert math.isnan(failing["process_value"])
    assert failing["status"] == classify_loop_current(failing["loop_current_ma"])
    assert failing["status"] == transmitter.profile.data["loop"]["failure"].join(("failure_", ""))
    transmitter.simulate_sensor_fault(False)
    exchanges = transmitter.take_exchanges()
    assert exchanges, "every exchange is journaled"
    protocol = "modbus" if driver.startswith("modbus") else "ascii-line"
    assert {e["protocol"] for e in exchanges} == {protocol}
    assert all(e["outcome"] == "ok" and e["request_ns"] <= e["response_ns"] for e in exchanges)
    assert all(e["transport"].startswith("serial:") for e in exchanges)


def test_ascii_driver_identity_and_typed_device_errors(live: Callable[[str], LiveBench]) -> None:
    transmitter = live("ascii-transmitter").find(Transmitter)
    assert isinstance(transmitter, AsciiTransmitterDriver)
    assert transmitter.read_identity() == {key: value for key, value in
                                           transmitter.profile.identity.items()}
    with pytest.raises(LineDeviceError, match="ERR 1") as raised:
        transmitter.client.query("XX?")
    assert raised.value.code == 1
    last = transmitter.take_exchanges()[-1]
    assert last["outcome"] == "device_error"
    assert last["request"] == b"XX?\r\n" and last["response"] == b"ERR 1\r\n"
    assert last["fields"]["error_code"] == 1


# ---- the suite, as a lab runs it ----------------------------------------------------------

def run_suite(tmp_path: Path, driver: str, defects: tuple[str, ...] = ()) -> tuple[int, set[str], str]:
    result = run_pytest([*SUITE, "-rA", "--bench", str(bench_file(tmp_path, driver, defects)),
                         "--evidence-dir", str(tmp_path / "evidence")])
    failed = {line.split("::")[-1].split(" ")[0].split("[")[0]
              for line in result.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))}
    return result.returncode, failed, result.stdout + result.stderr


# The Modbus transmitter runs the suite on the embedded default bench, where each knob of
# the kind is in the mutation matrix (tests/test_defect_knobs.py, "tt1:<knob>"); here one
# healthy run shows the ASCII driver passing the whole suite.
def test_suite_passes_on_a_healthy_ascii_transmitter(tmp_path: Path) -> None:
    code, failed, output = run_suite(tmp_path, "ascii-transmitter")
    assert (code, failed) == (0, set()), output[-3000:]
    assert "6 passed" in output, output[-3000:]

