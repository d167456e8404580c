"""TransportDecorator and the serial-line capability through the binding, on the emulated EM-1
meter's serial port (umockdev): a pass-through decorator must hide nothing a protocol needs,
so Modbus RTU keeps t3.5 at the port's baud rate through it."""

from __future__ import annotations

import pytest

from hilbench import ModbusClient, SerialTransport, TcpTransport, TransportDecorator
from hilbench.bench import embedded_profile_dir
from hilbench.emulation import start_emulator
from hilbench.profile import load_profile

EM1 = embedded_profile_dir() / "em1-meter.toml"
FALLBACK_T35 = 0.00175  # what the client would use if it could not see the serial line


@pytest.fixture
def em1_serial(tmp_path, monkeypatch, in_preload):
    """(ready['serial'], profile) of an EM-1 emulator with only its serial interface."""
    emulator = start_emulator(EM1, tcp=False, log_path=tmp_path / "emulator.log")
    try:
        serial = emulator.ready["serial"]
        monkeypatch.setenv("UMOCKDEV_DIR", serial["umockdev_dir"])
        yield serial, load_profile(EM1)
    finally:
        emulator.stop()


def silences_before_requests(chunks: list[tuple[str, int, bytes]]) -> list[int]:
    """ns between the last rx chunk of an answer and the first tx chunk of the next request."""
    silences, last_rx, previous = [], None, "tx"
    for direction, ns, _ in chunks:
        if direction == "tx" and previous == "rx" and last_rx is not None:
            silences.append(ns - last_rx)
        if direction == "rx":
            last_rx = ns
        previous = direction
    return silences


def test_modbus_rtu_keeps_t35_through_a_pass_through_decorator(em1_serial):
    serial_ready, profile = em1_serial
    serial = SerialTransport(serial_ready["device_path"], baud=profile.serial.baud,
                             parity=profile.serial.parity)
    wrapped = TransportDecorator(serial)
    assert wrapped.name == f"pass({serial.name})"
    assert wrapped.serial_line_settings() == serial.serial_line_settings() == {
        "baud": 19200, "data_bits": 8, "parity": "even", "stop_bits": 1, "flow_control": "none"}

    # t3.5 at the profile's line: 3.5 characters of 1 start + 8 data + parity + 1 stop bits
    # at 19200 baud (EM-1 is 8E1).
    character = 11 / profile.serial.baud
    assert wrapped.character_time == pytest.approx(character, rel=1e-5)  # whole ns
    t35 = 3.5 * character
    client = ModbusClient(wrapped, framing="rtu", unit=profile.unit, timeout=2.0)
    assert client.frame_silence == pytest.approx(t35, rel=1e-5)  # through the decorator; whole ns
    assert client.frame_silence > FALLBACK_T35

    capture = wrapped.start_capture()
    first = profile.registers_in("input")[0]
    reads = 6
    for _ in range(reads):
        assert client.read_input_registers(first.address, 1) == first.raw_words()[:1]
    chunks = capture.drain()
    wrapped.stop_capture()

    silences = silences_before_requests(chunks)
    assert len(silences) == reads - 1
    shortest = min(silences)
    assert shortest >= t35 * 1e9, (
        f"the client left only {shortest / 1e3:.0f} us before a request; t3.5 is "
        f"{t35 * 1e6:.0f} us")
    assert all(e["outcome"] == "ok" and e["transport"] == wrapped.name
               for e in client.take_exchanges())


def test_reconfigure_changes_an_open_port_and_timing_follows(em1_serial):
    serial_ready, profile = em1_serial
    serial = SerialTransport(serial_ready["device_path"], baud=profile.serial.baud)
    wrapped = TransportDecorator(serial, label="probe")
    client = ModbusClient(wrapped, framing="rtu", unit=profile.unit)
    serial.reconfigure(baud=1200)
    assert serial.baud == 1200
    assert wrapped.serial_line_settings()["baud"] == 1200
    assert wrapped.character_time == pytest.approx(10 / 1200, rel=1e-6)
    assert client.frame_silence == pytest.approx(3.5 * 10 / 1200, rel=1e-6)
    serial.reconfigure(baud=profile.serial.baud, stop_bits=1)
    assert serial.serial_line_settings()["baud"] == profile.serial.baud


def test_a_tcp_transport_has_no_serial_line(silent_server):
    tcp = TcpTransport("127.0.0.1", silent_server.port)
    assert tcp.serial_line_settings() is None and tcp.character_time is None
    wrapped = TransportDecorator(tcp)
    assert wrapped.serial_line_settings() is None and wrapped.character_time is None
    assert ModbusClient(wrapped, framing="rtu").frame_silence == pytest.approx(FALLBACK_T35)
