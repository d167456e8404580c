"""The emulated reference DMM as a USB instrument (hilbench-emulator --usb): real libusb in
this process (under the umockdev preload the plugin re-executes pytest with), USBTMC framed
by hilbench.UsbtmcTransport, and the same SCPI driver as over TCP and RS-232. Also: a bench file's
`usb` resource by VISA resource string, the cross-check with PyVISA + pyvisa-py (pyusb over
libusb) against the same device, and an unplug mid-read healed by the transport factory."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from hilbench import (
    ConfigError,
    ConnectionClosed,
    ScpiClient,
    ScpiError,
    UsbtmcTransport,
    UsbTransport,
    list_usb_devices,
)
from hilbench.bench import embedded_profile_dir, load_bench
from hilbench.emulation import ChildProcess, start_emulator, use_umockdev_dir
from hilbench.live import LiveBench
from hilbench.profile import load_profile
from hilbench.protocols import Dmm
from hilbench.resources import UsbDevice, parse_visa_usb

DMM = embedded_profile_dir() / "dmm6-reference.toml"
RESOURCE = "USB0::0x1209::0x0001::DMM6-2026-000042::INSTR"


def bench_file(tmp_path: Path, interface: str, defects: tuple[str, ...] = ()) -> Path:
    knobs = ", ".join(f'"{d}"' for d in defects)
    # The DMM-6 has TCP, RS-232 and USB faces: one on in each case, so each reaches it one way.
    emulator = "\n".join(f"{face} = {'true' if face == interface else 'false'}"
                          for face in ("serial", "tcp", "usb"))
    path = tmp_path / "bench.toml"
    path.write_text(f'schema = 1\nname = "usb-dmm"\n\n[[devices]]\nprofile = "{DMM}"\n'
                    f'driver = "scpi-dmm"\n[devices.emulator]\ndefects = [{knobs}]\n{emulator}\n')
    return path


@pytest.fixture
def live(tmp_path: Path, in_preload: None) -> Iterator[Callable[..., LiveBench]]:
    started: list[LiveBench] = []

    def start(interface: str, defects: tuple[str, ...] = ()) -> LiveBench:
        bench = LiveBench(load_bench(bench_file(tmp_path, interface, defects)),
                          tmp_path / "logs", timeout=1.0)
        bench.start()
        started.append(bench)
        return bench

    yield start
    for bench in started:
        bench.stop()  # drivers (and their USB handles) close before the emulator goes


@pytest.fixture
def usb_dmm(tmp_path: Path, in_preload: None) -> Iterator[ChildProcess]:
    """A DMM emulator with TCP and USB faces; this process pointed at its testbed."""
    emulator = start_emulator(DMM, serial=False, usb=True, log_path=tmp_path / "dmm.log")
    try:
        use_umockdev_dir(emulator.ready["usb"]["umockdev_dir"])
        yield emulator
    finally:
        emulator.stop()


@pytest.mark.parametrize("interface", ["tcp", "serial", "usb"])
def test_the_dmm_driver_runs_the_same_checks_over_tcp_serial_and_usbtmc(live, interface: str
                                                                         ) -> None:
    dmm: Dmm = live(interface).find(Dmm)
    assert [e["kind"] for e in dmm.endpoints()] == [interface]
    identity = dmm.identify()
    assert identity["serial_number"] == "DMM6-2026-000042"
    assert identity["model"] == "DMM-6"
    reading = dmm.profile.data["reading"]
    volts = [dmm.measure_dc_voltage() for _ in range(3)]
    assert all(abs(v - reading["dc_voltage_v"]) < 6 * reading["noise_v"] for v in volts)
    assert abs(dmm.measure_dc_current() - reading["dc_current_a"]) < 6 * reading["noise_a"]
    with pytest.raises(ScpiError) as refused:
        dmm.command("BOGUS:COMMAND")
    assert refused.value.code == -113
    exchanges = dmm.take_exchanges()
    transport = exchanges[0]["transport"]
    assert transport.startswith({"usb": "usbtmc:1209:0001:", "tcp": "tcp:127.0.0.1:",
                                 "serial": "serial:/dev/tty"}[interface]), transport
    assert [e["outcome"] for e in exchanges][-1] == "device_error"


def test_usb_devices_are_listed_and_reached_by_visa_string(usb_dmm: ChildProcess) -> None:
    assert usb_dmm.ready["usb"]["resource"] == RESOURCE
    assert parse_visa_usb(RESOURCE) == (0x1209, 0x0001, "DMM6-2026-000042", None)
    [device] = list_usb_devices()
    assert device == {"vendor_id": 0x1209, "product_id": 0x0001, "serial": "DMM6-2026-000042",
                      "manufacturer": "hilbench", "product": "DMM-6", "bus": 1,
                      "address": 2, "path": "1-1"}
    resource = UsbDevice(usb_id="1209:0001", serial="DMM6-2026-000042")
    assert resource.visa_resource() == RESOURCE
    transport = resource.connect(timeout=1.0)
    assert isinstance(transport, UsbtmcTransport)
    caps = transport.capabilities
    assert caps["bcd_usbtmc"] == 0x0100 and caps["is_488_2"] and caps["scpi"]
    client = ScpiClient(transport, timeout=1.0)
    assert client.identify()["serial_number"] == "DMM6-2026-000042"
    assert transport.read_status_byte() == 0
    del client, transport
    with pytest.raises(ConfigError):
        UsbTransport()


def test_pyvisa_over_pyusb_reads_the_same_identity_and_voltage(usb_dmm: ChildProcess) -> None:
    pyvisa = pytest.importorskip("pyvisa")
    pytest.importorskip("pyvisa_py")
    libusb1 = pytest.importorskip("usb.backend.libusb1")
    # pyusb keeps one libusb context per process, enumerated when first used (an earlier
    # PyVISA test may have made it before this testbed existed), and without uevents from
    # the testbed its hotplug list never learns of our device: start a fresh context.
    libusb1._lib_object = None
    profile = load_profile(DMM)
    reading = profile.data["reading"]
    manager = pyvisa.ResourceManager("@py")
    try:
        instrument = manager.open_resource(RESOURCE, timeout=2000)
        theirs_idn = instrument.query("*IDN?").strip()
        theirs_volts = float(instrument.query("MEAS:VOLT:DC?"))
        instrument.close()
    finally:
        manager.close()
    ours = ScpiClient(UsbtmcTransport(UsbTransport(serial="DMM6-2026-000042")), timeout=1.0)
    ours_idn = ours.query("*IDN?")
    ours_volts = ours.query_number("MEAS:VOLT:DC?")
    del ours
    assert theirs_idn == ours_idn == ",".join(
        profile.identity[k] for k in ("manufacturer", "model", "serial_number", "firmware"))
    for volts in (theirs_volts, ours_volts):
        assert abs(volts - reading["dc_voltage_v"]) < 6 * reading["noise_v"]


def test_an_unplug_mid_read_is_typed_and_the_device_is_found_again(live) -> None:
    bench = live("usb", ("usb_unplug_mid_read",))
    dmm: Dmm = bench.find(Dmm)
    dmm.identify()
    started = time.monotonic()
    with pytest.raises(ConnectionClosed) as lost:
        dmm.measure_dc_voltage()
    assert time.monotonic() - started < 1.0  # within the driver's 1 s deadline
    assert "1209:0001:DMM6-2026-000042" in str(lost.value)  # names the device
    bench.heal()  # the lost transport is dropped; the factory reopens it (re-plugged)
    reading = dmm.profile.data["reading"]
    assert abs(dmm.measure_dc_voltage() - reading["dc_voltage_v"]) < 6 * reading["noise_v"]


def test_a_bench_file_names_a_usb_instrument_by_visa_string(tmp_path: Path) -> None:
    def bench(table: str) -> Path:
        path = tmp_path / "real.toml"
        path.write_text(f'schema = 1\nname = "lab"\n\n[[devices]]\nprofile = "{DMM}"\n'
                        f'driver = "scpi-dmm"\n[devices.usb]\n{table}\n')
        return path

    spec = load_bench(bench(f'resource = "{RESOURCE}"'))
    [device] = spec.devices
    assert device.resources["usb"] == UsbDevice(usb_id="1209:0001", serial="DMM6-2026-000042")
    assert device.resources["usb"].describe()["address"] == RESOURCE
    by_keys = load_bench(bench('usb_id = "1209:0001"\npath = "1-2.3"\nprotocol = "raw"'))
    assert by_keys.devices[0].resources["usb"] == UsbDevice(usb_id="1209:0001", path="1-2.3",
                                                            protocol="raw")
    with pytest.raises(ConfigError, match=r"real\.toml: devices\[0\]\.usb\.resource: 'USB0::x' is "
                                          "not a VISA USB resource string"):
        load_bench(bench('resource = "USB0::x"'))
    with pytest.raises(ConfigError, match=r"devices\[0\]\.usb\.protocol: must be 'usbtmc' or 'raw'"):
        load_bench(bench('serial = "X"\nprotocol = "gpib"'))
