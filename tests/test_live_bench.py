"""The live bench: drivers bound through the registries, transports opened through one
factory (the place fault plans will wrap them), devices found by capability protocol."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from hilbench import (ConfigError, DeviceTimeout, PortNotFound, Transport, TransportError,
                      list_serial_ports)
from hilbench.bench import embedded_profile_dir, load_bench
from hilbench.emulation import ChildProcess, start_emulator, use_umockdev_dir
from hilbench.live import LiveBench
from hilbench.protocols import Device, ModbusDevice
from hilbench.resources import RESOURCE_KINDS, Resource
from hilbench.transports import TransportFactory

EM1 = embedded_profile_dir() / "em1-meter.toml"


@pytest.fixture
def tcp_meter(tmp_path: Path) -> Iterator[ChildProcess]:
    emulator = start_emulator(EM1, serial=False, log_path=tmp_path / "emulator.log")
    yield emulator
    emulator.stop()


def two_meter_bench(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "bench.toml"
    devices = "".join(f"""
[[devices]]
name = "{name}"
profile = "{EM1}"
[devices.tcp]
host = "127.0.0.1"
port = {port}
""" for name in ("meter-a", "meter-b"))
    path.write_text("schema = 1\n" + devices)
    return path


def test_every_transport_is_opened_through_the_factory_and_its_wrappers(
        tmp_path: Path, tcp_meter: ChildProcess) -> None:
    opened: list[tuple[str, str]] = []

    def record(resource: Resource, transport: Transport) -> Transport:
        opened.append((resource.kind, transport.name))
        return transport

    spec = load_bench(two_meter_bench(tmp_path, tcp_meter.ready["tcp"]["port"]))
    live = LiveBench(spec, tmp_path / "logs", transports=TransportFactory(1.0, [record]))
    live.start()
    try:
        for device in live.devices():
            assert isinstance(device, ModbusDevice) and isinstance(device, Device)
            assert device.client("tcp").read_input_registers(0, 1) == [2301]
            exchanges = device.take_exchanges()
            assert [e["protocol"] for e in exchanges] == ["modbus"]
            assert exchanges[0]["fields"]["function"] == 4
    finally:
        live.stop()
    port = tcp_meter.ready["tcp"]["port"]
    assert opened == [("tcp", f"tcp:127.0.0.1:{port}")] * 2


def test_find_returns_the_device_implementing_a_protocol(tmp_path: Path,
                                                         tcp_meter: ChildProcess) -> None:
    spec = load_bench(two_meter_bench(tmp_path, tcp_meter.ready["tcp"]["port"]))
    live = LiveBench(spec, tmp_path / "logs")
    live.start()
    try:
        with pytest.raises(ConfigError, match="2 devices implementing ModbusDevice"):
            live.find(ModbusDevice)
        assert live.find(ModbusDevice, "meter-b").name == "meter-b"

        class Oscilloscope(Device):
            pass

        with pytest.raises(ConfigError, match="does not implement Oscilloscope"):
            live.find(Oscilloscope, "meter-a")
    finally:
        live.stop()


class Beacon(Resource):
    """A resource kind no built-in driver binds (registered in-process by the test)."""

    kind = "beacon"

    @classmethod
    def from_bench(cls, reader: Any, table: dict[str, Any], where: str, profile: Any) -> Beacon:
        return cls()

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "address": "-", "settings": {}}

    def connect(self, timeout: float) -> Transport:
        raise ConfigError("a beacon cannot be opened")


def test_a_driver_refuses_a_resource_kind_it_cannot_bind(tmp_path: Path) -> None:
    bench = tmp_path / "bench.toml"
    bench.write_text(f"schema = 1\n[[devices]]\nprofile = '{EM1}'\n[devices.beacon]\n")
    RESOURCE_KINDS.register("beacon", Beacon)
    try:
        with pytest.raises(ConfigError, match=r"devices\[0\].beacon: driver 'modbus' cannot use"):
            load_bench(bench)
    finally:
        RESOURCE_KINDS.unregister("beacon")


def test_a_bench_names_a_serial_port_by_its_usb_adapter(tmp_path: Path, in_preload: None) -> None:
    """The bench file says which adapter (serial number, VID:PID), not which /dev/ttyUSB<n>;
    the port is found through libserialport's port list of the umockdev testbed."""
    emulator = start_emulator(EM1, tcp=False, log_path=tmp_path / "emulator.log")
    try:
        ready = emulator.ready["serial"]
        use_umockdev_dir(ready["umockdev_dir"])
        [adapter] = [p for p in list_serial_ports() if p["name"] == ready["device_path"]]
        assert adapter["transport"] == "usb" and adapter["usb_serial"]
        usb_id = f"{adapter['usb_vendor_id']:04x}:{adapter['usb_product_id']:04x}"
        bench = tmp_path / "bench.toml"
        bench.write_text(f"""schema = 1
[[devices]]
profile = "{EM1}"
[devices.serial]
usb_serial = "{adapter['usb_serial']}"
usb_id = "{usb_id}"
umockdev_dir = "{ready['umockdev_dir']}"
""")
        live = LiveBench(load_bench(bench), tmp_path / "logs")
        live.start()
        try:
            meter = live.find(ModbusDevice)
            assert meter.client("rtu").read_input_registers(0, 1) == [2301]
            assert meter.transport("rtu").name == f"serial:{ready['device_path']}"
            assert meter.endpoints()[0]["settings"]["usb_serial"] == adapter["usb_serial"]
        finally:
            live.stop()

        bench.write_text(bench.read_text().replace(adapter["usb_serial"], "NO-SUCH-ADAPTER"))
        live = LiveBench(load_bench(bench), tmp_path / "logs")
        live.start()
        try:
            with pytest.raises(PortNotFound, match="no USB serial adapter with serial "
                                                   "NO-SUCH-ADAPTER.*seen:.*" + ready["device_path"]):
                live.find(ModbusDevice).client("rtu")
        finally:
            live.stop()
    finally:
        emulator.stop()


@pytest.mark.parametrize("table, words", [
    ("port = '/dev/x'\nusb_serial = 'A'", "not both"),
    ("baud = 9600", "not neither"),
    ("usb_id = '403:6001'", "must be VID:PID in hex"),
])
def test_serial_port_naming_errors_name_the_key(tmp_path: Path, table: str, words: str) -> None:
    bench = tmp_path / "bench.toml"
    bench.write_text(f"schema = 1\n[[devices]]\nprofile = '{EM1}'\n[devices.serial]\n{table}\n")
    with pytest.raises(ConfigError, match=r"devices\[0\]\.serial.*" + words):
        load_bench(bench)


def test_reopening_a_lost_connection_is_bounded_and_journaled(tmp_path: Path,
                                                             tcp_meter: ChildProcess) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    spec = load_bench(two_meter_bench(tmp_path, tcp_meter.ready["tcp"]["port"]))
    live = LiveBench(spec, tmp_path / "logs", on_event=lambda kind, data: events.append((kind, data)),
                     transports=TransportFactory(0.5, reopen_attempts=3, reopen_interval=0.01))
    live.start()
    try:
        meter = live.find(ModbusDevice, "meter-a")
        assert meter.client("tcp").read_input_registers(0, 1) == [2301]
        tcp_meter.stop()  # the device is gone for good
        live.heal()
        assert [kind for kind, _ in events] == ["connection_lost"]
        with pytest.raises(TransportError):
            meter.client("tcp")
        kind, data = events[-1]
        assert kind == "reconnect_failed" and data["attempts"] == 3
        assert "refused" in data["error"]
    finally:
        live.stop()


def test_one_presenter_hosts_every_serial_port_and_an_emulator_kill_disturbs_no_other(
        tmp_path: Path, in_preload: None) -> None:
    """Two emulated 8E1 meters on one presenter (one umockdev testbed, ports found by adapter
    serial): killing one emulator leaves its line silent (a timeout, not a crash), the other
    meter and the harness carry on, and ensure_alive reattaches a fresh emulator."""
    bench = tmp_path / "bench.toml"
    bench.write_text("schema = 1\n" + "".join(f"""
[[devices]]
name = "{name}"
profile = "{EM1}"
[devices.emulator]
""" for name in ("meter-a", "meter-b")))
    events: list[tuple[str, dict[str, Any]]] = []
    live = LiveBench(load_bench(bench), tmp_path / "logs", timeout=0.5,
                     on_event=lambda kind, data: events.append((kind, data)))
    live.start()
    try:
        assert live.presenter is not None
        presenter_pid = live.presenter.pid
        ports = {p["adapter_serial"]: p for p in live.presenter.ready["ports"]}
        # Each meter's serial port and its optical (IEC 62056-21) probe.
        assert set(ports) == {"HB-meter-a", "HB-meter-b", "HB-meter-a-optical",
                              "HB-meter-b-optical"}
        a, b = live.device("meter-a"), live.device("meter-b")
        for device in (a, b):
            described = device.resources["serial"].describe()
            assert described["settings"]["parity"] == "even"
            assert described["settings"]["pacing"] == "paced"
            assert device.client("rtu").read_input_registers(0, 1) == [2301]
        assert ports["HB-meter-a"]["device_path"] == a.resources["serial"].port

        emulator_a = live.emulator("meter-a")
        assert emulator_a is not None
        emulator_a.kill()
        with pytest.raises(DeviceTimeout):
            a.client("rtu").read_input_registers(0, 1)
        assert b.client("rtu").read_input_registers(0, 1) == [2301]
        assert live.presenter.alive() and live.presenter.pid == presenter_pid

        assert live.ensure_alive("meter-a")
        assert live.device("meter-a").client("rtu").read_input_registers(0, 1) == [2301]
        assert b.client("rtu").read_input_registers(0, 1) == [2301]
        assert live.presenter.pid == presenter_pid
    finally:
        live.stop()
    kinds = [kind for kind, _ in events]
    assert kinds.count("presenter_started") == 1 and "emulator_restarted" in kinds
