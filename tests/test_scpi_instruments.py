"""The SCPI drivers against the emulated instruments over real loopback sockets: each
instrument is a hilbench-emulator process, each driver bound through a bench file, every
capability method exercised, and for each defect knob a test showing the harness detects it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from hilbench import ProtocolError, ScpiClient, ScpiError, TcpTransport
from hilbench.bench import embedded_profile_dir, load_bench
from hilbench.emulation import start_emulator
from hilbench.live import LiveBench
from hilbench.profile import known_defects, load_profile
from hilbench.protocols import Device, Dmm, PowerSupply, ReferenceSource, ScpiInstrument

PROFILES = embedded_profile_dir()
DMM = PROFILES / "dmm6-reference.toml"
SOURCE = PROFILES / "rs3-reference-source.toml"
PSU = PROFILES / "psu2-power-supply.toml"
KINDS = {"dmm": (DMM, "scpi-dmm", Dmm), "source": (SOURCE, "scpi-source", ReferenceSource),
         "psu": (PSU, "scpi-psu", PowerSupply)}

# ESR bits (IEEE 488.2 11.5.1.1)
COMMAND_ERROR = 1 << 5
EXECUTION_ERROR = 1 << 4


def bench_file(tmp_path: Path, kinds: list[str], defects: dict[str, list[str]] | None = None) -> Path:
    defects = defects or {}
    text = "schema = 1\nname = \"scpi-instruments\"\n"
    for kind in kinds:
        profile, driver, _ = KINDS[kind]
        knobs = ", ".join(f'"{d}"' for d in defects.get(kind, []))
        text += (f'\n[[devices]]\nprofile = "{profile}"\ndriver = "{driver}"\n'
                 f'[devices.emulator]\ndefects = [{knobs}]\n')
    path = tmp_path / "bench.toml"
    path.write_text(text)
    return path


@pytest.fixture
def live(tmp_path: Path) -> Iterator[callable]:
    """Starts a bench of emulated instruments from a bench file; stops it after the test."""
    started: list[LiveBench] = []

    def start(kinds: list[str], defects: dict[str, list[str]] | None = None) -> LiveBench:
        bench = LiveBench(load_bench(bench_file(tmp_path, kinds, defects)), tmp_path / "logs",
                          timeout=2.0)
        bench.start()
        started.append(bench)
        return bench

    yield start
    for bench in started:
        bench.stop()


def scpi_exchanges(device: Device) -> list[dict]:
    exchanges = device.take_exchanges()
    assert exchanges, "every call must be journaled"
    assert all(e["protocol"] == "scpi" for e in exchanges)
    return exchanges


# ---- profiles ----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(KINDS))
def test_profiles_of_scpi_kinds_load_through_the_emulator(kind: str) -> None:
    profile = load_profile(KINDS[kind][0])
    assert profile.kind == kind
    assert set(profile.identity) == {"manufacturer", "model", "serial_number", "firmware"}
    # The DMM-6 has an RS-232 port ([serial]); the source and the supply have none.
    serial = {"baud": 9600, "data_bits": 8, "parity": "none", "stop_bits": 1}
    assert profile.data["serial"] == (serial if kind == "dmm" else None)
    assert profile.has_serial is (kind == "dmm")
    assert profile.data["scpi"] == {"error_queue_size": 10, "terminator": "\n"}
    assert set(profile.defects) == set(known_defects(kind))
    assert "error_queue_fills_silently" in profile.defects


def test_profile_errors_name_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(DMM.read_text().replace("noise_v = 0.000010", "noise_v = -1"))
    from hilbench import ConfigError
    with pytest.raises(ConfigError, match=r"bad\.toml: reading\.noise_v: expected a number >= 0"):
        load_profile(bad)


# ---- every method, clean instruments -------------------------------------------------------

def test_common_commands_on_every_instrument(live: callable) -> None:
    bench = live(["dmm", "source", "psu"])
    for kind, (profile_path, driver_name, capability) in KINDS.items():
        device = bench.find(capability)
        assert device.spec.driver == driver_name
        instrument: ScpiInstrument = bench.find(ScpiInstrument, device.name)
        identity = instrument.identify()
        assert identity == {key: device.profile.identity[key]
                            for key in ("manufacturer", "model", "serial_number", "firmware")}
        instrument.reset()
        assert instrument.errors() == []
        assert instrument.event_status() == 0
        assert instrument.query("*OPC?") == "1"
        instrument.command("*CLS")
        exchanges = scpi_exchanges(device)
        idn = next(e for e in exchanges if e["fields"]["command"] == "*IDN?")
        assert idn["outcome"] == "ok"
        assert idn["request"] == b"*IDN?\nSYST:ERR?\n"
        assert idn["fields"]["error_queue"] == []
        assert idn["fields"]["error_queries"] == 1
        assert idn["fields"]["response"].split(",")[1] == identity["model"]


def test_dmm_measures_the_declared_values(live: callable) -> None:
    dmm: Dmm = live(["dmm"]).find(Dmm)
    reading = dmm.profile.data["reading"]
    volts = [dmm.measure_dc_voltage() for _ in range(5)]
    amps = dmm.measure_dc_current()
    assert all(abs(v - reading["dc_voltage_v"]) < 6 * reading["noise_v"] for v in volts)
    assert len(set(volts)) > 1, "the declared noise is on the readings"
    assert abs(amps - reading["dc_current_a"]) < 6 * reading["noise_a"]
    exchanges = scpi_exchanges(dmm)
    assert [e["fields"]["command"] for e in exchanges] == ["MEAS:VOLT:DC?"] * 5 + ["MEAS:CURR:DC?"]


def test_source_applies_voltage_current_and_phase(live: callable) -> None:
    source: ReferenceSource = live(["source"]).find(ReferenceSource)
    source.apply(voltage_v=230.0, current_a=5.0, phase_deg=60.0)
    source.output(True)
    assert source.applied() == {"voltage_v": 230.0, "current_a": 5.0, "phase_deg": 60.0,
                                "output_on": True}
    source.output(False)
    assert source.applied()["output_on"] is False
    with pytest.raises(ScpiError) as refused:
        source.apply(voltage_v=400.0, current_a=5.0, phase_deg=0.0)  # limit: 300 V
    assert refused.value.protocol == "scpi"
    assert refused.value.code == -222
    assert refused.value.message.startswith("Data out of range")
    failed = [e for e in scpi_exchanges(source) if e["outcome"] == "device_error"]
    assert [e["fields"]["command"] for e in failed] == ["SOUR:VOLT 400"]
    assert failed[0]["fields"]["error_queue"][0]["code"] == -222


def test_power_supply_drives_its_load(live: callable) -> None:
    psu: PowerSupply = live(["psu"]).find(PowerSupply)
    load_ohm = psu.profile.data["load"]["resistance_ohm"]
    psu.reset()  # from *RST's state: the profile's power-on state feeds a DUT
    psu.set_voltage(12.0)
    psu.set_current_limit(1.0)
    assert psu.measured_voltage() == 0.0  # output still off
    psu.output(True)
    assert psu.measured_voltage() == pytest.approx(12.0)
    assert psu.measured_current() == pytest.approx(12.0 / load_ohm)
    psu.set_current_limit(0.05)  # 12 V into 100 ohm wants 0.12 A: constant current
    assert psu.measured_current() == pytest.approx(0.05)
    assert psu.measured_voltage() == pytest.approx(0.05 * load_ohm)
    psu.output(False)
    assert psu.measured_voltage() == 0.0
    assert psu.measured_current() == 0.0
    assert all(e["outcome"] == "ok" for e in scpi_exchanges(psu))


def test_a_bench_file_can_point_at_a_running_instrument(tmp_path: Path) -> None:
    """A real bench's shape: [devices.tcp] host/port, no [emulator]."""
    emulator = start_emulator(DMM, serial=False, log_path=tmp_path / "dmm.log")
    try:
        path = tmp_path / "lab.toml"
        path.write_text(f'schema = 1\n[[devices]]\nprofile = "{DMM}"\ndriver = "scpi-dmm"\n'
                        f'[devices.tcp]\nhost = "127.0.0.1"\nport = {emulator.ready["tcp"]["port"]}\n')
        bench = LiveBench(load_bench(path), tmp_path / "logs")
        bench.start()
        try:
            dmm = bench.find(Dmm)
            assert dmm.identify()["model"] == "DMM-6"
            assert dmm.endpoints() == [{"kind": "tcp",
                                        "address": f"127.0.0.1:{emulator.ready['tcp']['port']}",
                                        "settings": {"no_delay": True}}]
        finally:
            bench.stop()
    finally:
        emulator.stop()


# ---- the client's error handling against an independent SCPI implementation -----------------

def test_undefined_header_is_found_by_the_error_drain(live: callable) -> None:
    dmm = live(["dmm"]).find(Dmm)
    with pytest.raises(ScpiError) as error:
        dmm.command("BOGus:HEADer 1")
    assert error.value.code == -113
    assert error.value.entries == [(-113, "Undefined header;BOGUS:HEADER")]
    # an undefined query gets no answer; the drain after the timeout names the reason
    dmm.client.timeout = 0.5
    with pytest.raises(ScpiError, match="no response"):
        dmm.query("BOGus?")
    assert dmm.errors() == []


def test_a_flooded_queue_ends_in_overflow_and_is_drained(live: callable) -> None:
    dmm = live(["dmm"]).find(Dmm)
    client = ScpiClient(TcpTransport("127.0.0.1", dmm.resources["tcp"].port), timeout=2.0,
                        check_errors=False)
    for _ in range(12):  # queue size 10
        client.command("BOGUS")
    entries = client.errors()
    assert len(entries) == 10
    assert entries[-1] == (-350, "Queue overflow")
    tight = ScpiClient(TcpTransport("127.0.0.1", dmm.resources["tcp"].port), timeout=2.0,
                       check_errors=False, max_error_queue=3, resync_quiet=0.05)
    for _ in range(5):
        tight.command("BOGUS")
    with pytest.raises(ProtocolError, match="never empties"):
        tight.errors()


# ---- one test per defect knob: the harness detects it ------------------------------------------

@pytest.mark.parametrize("kind", sorted(KINDS))
def test_defect_error_queue_fills_silently(live: callable, kind: str) -> None:
    """The error queue drained after a bad command finds the error even when *ESR? lies; the
    ESR check (an error must set its class bit) fails only on the defective instrument."""
    for defective in (False, True):
        bench = live([kind], {kind: ["error_queue_fills_silently"] if defective else []})
        instrument: ScpiInstrument = bench.find(KINDS[kind][2])
        instrument.reset()
        with pytest.raises(ScpiError) as found:
            instrument.command("NOT:A:COMMand")
        assert found.value.code == -113  # found through SYST:ERR? either way
        esr_flags_it = bool(instrument.event_status() & COMMAND_ERROR)
        assert esr_flags_it is (not defective)
        drained = [e for e in instrument.take_exchanges() if e["outcome"] == "device_error"]
        assert drained[0]["fields"]["error_queue"][0]["code"] == -113
        bench.stop()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_defect_idn_wrong_firmware(live: callable, kind: str) -> None:
    for defective in (False, True):
        bench = live([kind], {kind: ["idn_wrong_firmware"] if defective else []})
        instrument: ScpiInstrument = bench.find(KINDS[kind][2])
        reported = instrument.identify()["firmware"]
        assert (reported == instrument.profile.identity["firmware"]) is (not defective)
        bench.stop()


def test_defect_reading_offset(live: callable) -> None:
    for defective in (False, True):
        dmm: Dmm = live(["dmm"], {"dmm": ["reading_offset"] if defective else []}).find(Dmm)
        reading = dmm.profile.data["reading"]
        error_v = abs(dmm.measure_dc_voltage() - reading["dc_voltage_v"])
        assert (error_v < 6 * reading["noise_v"]) is (not defective)


def test_defect_phase_ignored(live: callable) -> None:
    for defective in (False, True):
        source = live(["source"], {"source": ["phase_ignored"] if defective else []}).find(
            ReferenceSource)
        source.apply(voltage_v=57.7, current_a=1.0, phase_deg=-30.0)  # no error either way
        assert (source.applied()["phase_deg"] == -30.0) is (not defective)


def test_defect_ignores_output_off(live: callable) -> None:
    for defective in (False, True):
        psu = live(["psu"], {"psu": ["ignores_output_off"] if defective else []}).find(
            PowerSupply)
        psu.set_voltage(24.0)
        psu.output(True)
        psu.output(False)
        assert psu.output_state() is False  # the supply claims off either way
        assert (psu.measured_voltage() == 0.0) is (not defective)


# ---- through the pytest plugin: the journal holds every SCPI exchange ----------------------------

def test_the_plugin_journals_scpi_exchanges_with_their_fields(tmp_path: Path) -> None:
    from hilbench_testing import run_pytest

    lab = tmp_path / "lab"
    lab.mkdir()
    bench = bench_file(lab, ["dmm", "psu"])
    (lab / "test_instruments.py").write_text('''
import pytest
from hilbench import ScpiError
from hilbench.protocols import Dmm, PowerSupply

def test_readings(bench):
    assert bench.find(Dmm).measure_dc_voltage() > 9.9
    supply = bench.find(PowerSupply)
    supply.set_voltage(5.0)
    with pytest.raises(ScpiError):
        supply.set_voltage(1000.0)
''')
    evidence = tmp_path / "evidence"
    result = run_pytest(["test_instruments.py", "--bench", str(bench), "--evidence-dir",
                         str(evidence)], cwd=lab, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    import json
    journal = [json.loads(line) for line in (evidence / "journal.jsonl").read_text().splitlines()]
    duts = {r["data"]["name"]: r["data"] for r in journal if r["type"] == "dut"}
    assert duts["dmm6"]["driver"] == "scpi-dmm"
    assert duts["dmm6"]["declared_identity"]["model"] == "DMM-6"
    exchanges = [r["data"] for r in journal if r["type"] == "exchange"]
    assert [(e["dut"], e["fields"]["command"], e["outcome"]) for e in exchanges] == [
        ("dmm6", "MEAS:VOLT:DC?", "ok"), ("psu2", "VOLT 5", "ok"),
        ("psu2", "VOLT 1000", "device_error")]
    refused = exchanges[-1]
    assert refused["protocol"] == "scpi"
    assert bytes.fromhex(refused["request_hex"]) == b"VOLT 1000\nSYST:ERR?\nSYST:ERR?\n"
    assert refused["fields"]["error_queue"] == [{"code": -222,
                                                 "message": "Data out of range;VOLT 1000"}]
    assert refused["fields"]["error_queries"] == 2


# ---- the emulator's command line for the SCPI kinds ------------------------------------------

def test_emulator_lists_the_scpi_kinds_and_refuses_what_they_cannot_serve(tmp_path: Path) -> None:
    import json
    import subprocess

    from hilbench.emulation import find_tool

    emulator = find_tool("hilbench-emulator")
    listed = json.loads(subprocess.run([emulator, "--list-defects"], capture_output=True,
                                       text=True, check=True).stdout)["kinds"]
    assert set(listed) == {"meter", "dmm", "source", "psu", "transmitter"}
    for kind in ("dmm", "source", "psu"):
        assert [k["name"] for k in listed[kind]] == list(known_defects(kind))
        assert all(k["description"] and k["breaks"] for k in listed[kind])
    for profile, argv, problem in (
            (DMM, ["--no-tcp", "--no-serial"], "would serve nothing"),
            (PSU, ["--no-tcp", "--no-serial"], "would serve nothing"),
            (PSU, ["--serial", "ttyUSB9"], "has no [serial] table"),  # the DMM-6 has one
            (DMM, ["--defect", "bad_crc_answered"], 'unknown defect "bad_crc_answered"')):
        result = subprocess.run([emulator, "--profile", str(profile), *argv], capture_output=True,
                                text=True, stdin=subprocess.PIPE, timeout=30)
        assert result.returncode == 2, (argv, result.stderr)
        assert problem in result.stderr, (argv, result.stderr)


# ---- SCPI over a serial line ------------------------------------------------------------------

def test_dmm_over_an_emulated_serial_port_matches_tcp(tmp_path: Path, in_preload: None) -> None:
    """The DMM's RS-232 face: a presenter port (umockdev) opened through libserialport at the
    profile's 9600 8N1, the same SCPI client and driver as over TCP, the same answers."""
    text = (f'schema = 1\nname = "dmm-serial"\n\n[[devices]]\nname = "dmm-serial"\n'
            f'profile = "{DMM}"\ndriver = "scpi-dmm"\n[devices.emulator]\ntcp = false\n'
            f'\n[[devices]]\nname = "dmm-tcp"\nprofile = "{DMM}"\ndriver = "scpi-dmm"\n'
            f'[devices.emulator]\nserial = false\n')
    path = tmp_path / "bench.toml"
    path.write_text(text)
    bench = LiveBench(load_bench(path), tmp_path / "logs", timeout=2.0)
    bench.start()
    try:
        serial, tcp = bench.device("dmm-serial"), bench.device("dmm-tcp")
        assert set(serial.resources) == {"serial"} and set(tcp.resources) == {"tcp"}
        assert serial.profile.serial.baud == 9600
        assert serial.identify() == tcp.identify()
        volts = serial.measure_dc_voltage()
        assert volts == pytest.approx(serial.profile.data["reading"]["dc_voltage_v"], abs=1e-3)
        with pytest.raises(ScpiError):  # the error queue is drained over serial too
            serial.command("NOT:A:COMMAND")
        exchanges = serial.take_exchanges()
        assert all(e["transport"].startswith("serial:") for e in exchanges)
        assert exchanges[-1]["fields"]["command"] == "NOT:A:COMMAND"
        assert exchanges[-1]["fields"]["error_queue"][0]["code"] == -113  # undefined header
    finally:
        bench.stop()
