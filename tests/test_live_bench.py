"""The live bench: drivers bound through the registries, transports opened through one
factory (the place fault plans will wrap them), devices found by capability protocol."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from hilbench import ConfigError, DeviceTimeout, Transport
from hilbench.bench import embedded_profile_dir, load_bench
from hilbench.emulation import ChildProcess, start_emulator
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
        assert set(ports) == {"HB-meter-a", "HB-meter-b"}
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
