"""Cross-checks against an independent Modbus implementation (pymodbus), both directions,
over TCP (loopback sockets) and over serial (umockdev-presented ports, libserialport on our
side, pyserial on pymodbus's side)."""

from __future__ import annotations

import pytest

from hilbench import DeviceError, ModbusClient, ModbusException, SerialTransport, TcpTransport
from hilbench.bench import embedded_profile_dir
from hilbench.emulation import present_port, start_emulator
from hilbench.profile import load_profile

from hilbench_testing import PEERS

EM1 = embedded_profile_dir() / "em1-meter.toml"
PEER_PROFILE = PEERS / "pymodbus-meter.toml"


def declared_registers(profile, table):
    """(address, words) of each declared register: multi-word values are read whole (a device
    may refuse half of a 32-bit value with exception 02, as EM-1 does)."""
    return [(r.address, r.raw_words()) for r in profile.registers_in(table)]


def check_client_against(profile, client: ModbusClient) -> None:
    """What our client must read from any device that implements `profile`."""
    for table, read in (("input", client.read_input_registers), ("holding", client.read_holding_registers)):
        for address, words in declared_registers(profile, table):
            assert read(address, len(words)) == words, f"{table}[{address}]"
    identity = client.read_device_identification("regular")["objects"]
    for object_id, value in profile.identity_objects().items():
        if object_id <= 6:
            assert identity[object_id] == value
    coils = profile.bits_in("coil")
    if coils:
        assert client.read_coils(coils[0].address, 1) == [coils[0].value]
    writable = next(r for r in profile.registers_in("holding") if r.writable and r.type == "u16")
    client.write_single_register(writable.address, 4321)
    assert client.read_holding_registers(writable.address, 1) == [4321]
    client.write_multiple_registers(writable.address, [1234])
    assert client.read_holding_registers(writable.address, 1) == [1234]
    with pytest.raises(ModbusException) as raised:
        client.read_holding_registers(profile.first_unmapped_address("holding"), 1)
    assert raised.value.code == 2 and raised.value.function == 3
    assert isinstance(raised.value, DeviceError) and raised.value.protocol == "modbus"
    exchanges = client.take_exchanges()
    assert {e["outcome"] for e in exchanges} == {"ok", "device_error"}
    [refused] = [e for e in exchanges if e["outcome"] == "device_error"]
    assert refused["fields"]["exception_code"] == 2 and refused["fields"]["function"] == 3


def test_our_client_against_pymodbus_server_over_tcp(pymodbus_peer):
    peer = pymodbus_peer("--tcp-port", "0")
    profile = load_profile(PEER_PROFILE)
    client = ModbusClient(TcpTransport("127.0.0.1", peer.ready["tcp"]["port"]), framing="tcp",
                          unit=profile.unit, timeout=2.0)
    check_client_against(profile, client)


def test_our_client_against_pymodbus_server_over_serial(pymodbus_peer, monkeypatch, in_preload):
    port = present_port("ttyUSB3")
    try:
        peer = pymodbus_peer("--serial-port", port.ready["peer_path"])
        assert peer.alive()
        monkeypatch.setenv("UMOCKDEV_DIR", port.ready["umockdev_dir"])
        profile = load_profile(PEER_PROFILE)
        serial = SerialTransport(port.ready["device_path"], baud=profile.serial.baud)
        client = ModbusClient(serial, framing="rtu", unit=profile.unit, timeout=2.0)
        check_client_against(profile, client)
        del client, serial
    finally:
        port.stop()


@pytest.fixture
def em1_emulator(tmp_path):
    started = []

    def start(**kwargs):
        child = start_emulator(EM1, log_path=tmp_path / "emulator.log", **kwargs)
        started.append(child)
        return child

    yield start
    for child in started:
        child.stop()


def check_pymodbus_client_against_em1(client) -> None:
    profile = load_profile(EM1)
    for table in ("input", "holding"):
        read = client.read_input_registers if table == "input" else client.read_holding_registers
        for address, words in declared_registers(profile, table):
            result = read(address, count=len(words), device_id=profile.unit)
            assert not result.isError(), f"{table}[{address}]: {result}"
            assert result.registers == words
    unmapped = client.read_holding_registers(profile.first_unmapped_address("holding"), count=1,
                                             device_id=profile.unit)
    assert unmapped.isError() and unmapped.exception_code == 2
    result = client.write_register(1, 30, device_id=profile.unit)
    assert not result.isError()
    assert client.read_holding_registers(1, count=1, device_id=profile.unit).registers == [30]
    info = client.read_device_information(read_code=2, device_id=profile.unit)
    assert not info.isError()
    assert info.information[0] == profile.identity["vendor"].encode()
    assert info.information[5] == profile.identity["model"].encode()


def test_pymodbus_client_against_our_emulator_over_tcp(em1_emulator):
    from pymodbus.client import ModbusTcpClient

    emulator = em1_emulator(serial=False)
    client = ModbusTcpClient("127.0.0.1", port=emulator.ready["tcp"]["port"], timeout=2)
    assert client.connect()
    try:
        check_pymodbus_client_against_em1(client)
    finally:
        client.close()


def test_pymodbus_client_against_our_emulator_over_serial(em1_emulator, monkeypatch, in_preload):
    """pyserial's own termios calls (through the termios shim) set 8E1 on a port of
    hilbench-presenter; the presenter's UART model passes bytes only because both sides agree."""
    from pymodbus.client import ModbusSerialClient

    emulator = em1_emulator(tcp=False)
    serial = emulator.ready["serial"]
    assert (serial["parity"], serial["pacing"]) == ("even", "paced")
    assert serial["adapter_serial"].startswith("HB-")
    monkeypatch.setenv("UMOCKDEV_DIR", serial["umockdev_dir"])
    client = ModbusSerialClient(port=serial["device_path"], baudrate=serial["baud"], bytesize=8,
                                parity="E", stopbits=1, timeout=2)
    assert client.connect()
    try:
        check_pymodbus_client_against_em1(client)
    finally:
        client.close()


def test_pymodbus_client_with_the_wrong_parity_gets_no_answer(em1_emulator, monkeypatch,
                                                              in_preload):
    """A master at 8N1 talking to the 8E1 meter: the meter's UART sees garbage, stays silent."""
    from pymodbus.client import ModbusSerialClient

    emulator = em1_emulator(tcp=False)
    serial = emulator.ready["serial"]
    monkeypatch.setenv("UMOCKDEV_DIR", serial["umockdev_dir"])
    client = ModbusSerialClient(port=serial["device_path"], baudrate=serial["baud"], bytesize=8,
                                parity="N", stopbits=1, timeout=0.3, retries=0)
    assert client.connect()
    from pymodbus.exceptions import ModbusException as PymodbusError

    try:
        try:
            assert client.read_holding_registers(0, count=1, device_id=1).isError()
        except PymodbusError:
            pass  # "no response": what a master sees from a device whose UART disagrees
    finally:
        client.close()
