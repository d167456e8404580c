"""The binding's error contract on real endpoints: classes, attributes, messages."""

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest

import hilbench
from hilbench import (ConnectionClosed, DeviceTimeout, HarnessError, ModbusClient, PortNotFound,
                      ProtocolError, SerialTransport, TcpTransport, TransportError)


def test_exception_hierarchy():
    assert issubclass(DeviceTimeout, HarnessError)
    assert issubclass(PortNotFound, TransportError) and issubclass(ConnectionClosed, TransportError)
    assert issubclass(hilbench.DeviceError, HarnessError)
    assert issubclass(hilbench.ModbusException, hilbench.DeviceError)
    assert not hasattr(hilbench, "DeviceException")
    assert issubclass(ProtocolError, HarnessError) and issubclass(hilbench.ConfigError, HarnessError)


def test_serial_port_that_does_not_exist_names_the_port(in_preload):
    with pytest.raises(PortNotFound) as raised:
        SerialTransport("/dev/ttyHB_DOES_NOT_EXIST", baud=19200)
    assert "/dev/ttyHB_DOES_NOT_EXIST" in str(raised.value)


def test_tcp_refused_names_host_and_port():
    with socket.socket() as probe:  # a port that is certainly closed: bound, never listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        with pytest.raises(TransportError) as raised:
            TcpTransport("127.0.0.1", port, connect_timeout=1.0)
    assert f"127.0.0.1:{port}" in str(raised.value)


def test_unresolvable_host_is_port_not_found():
    with pytest.raises(PortNotFound) as raised:
        TcpTransport("no-such-host.invalid", 502, connect_timeout=1.0)
    assert "no-such-host.invalid" in str(raised.value)


def test_device_that_never_answers_times_out_naming_the_deadline(silent_server):
    client = ModbusClient(TcpTransport("127.0.0.1", silent_server.port), framing="tcp", timeout=0.25)
    started = time.monotonic()
    with pytest.raises(DeviceTimeout) as raised:
        client.read_holding_registers(0, 10)
    elapsed = time.monotonic() - started
    error = raised.value
    assert error.deadline_s == pytest.approx(0.25)
    assert "250" in str(error) and f"127.0.0.1:{silent_server.port}" in error.device
    assert elapsed < 5  # bounded: a deadline, not a hang (no speed claim)
    [exchange] = client.take_exchanges()
    assert exchange["outcome"] == "timeout" and exchange["response"] == b""
    assert set(exchange) == {"protocol", "transport", "operation", "request", "response",
                             "request_ns", "response_ns", "outcome", "error", "fields"}
    assert exchange["protocol"] == "modbus"
    assert exchange["fields"] == {"framing": "tcp", "unit": 1, "function": 3}


def _serve_once(reply: bytes) -> tuple[socket.socket, int]:
    """A scripted peer on a real loopback socket. Hand-written on purpose: no real device or
    peer implementation (emulator, pymodbus) sends a corrupt CRC, a wrong protocol id or a
    truncated frame on demand, and those are what these tests feed the client."""
    server = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        connection, _ = server.accept()
        with connection:
            connection.recv(256)
            connection.sendall(reply)
            connection.recv(1)  # hold the connection until the client closes

    threading.Thread(target=answer, daemon=True).start()
    return server, server.getsockname()[1]


def test_rtu_frame_with_bad_crc_from_the_device_is_a_protocol_error():
    # RTU framing over a TCP socket (an RTU-over-TCP gateway): transport-agnostic codec.
    good = hilbench.encode_rtu(1, 3, bytes([2, 0x12, 0x34]))
    server, port = _serve_once(good[:-2] + bytes([good[-2] ^ 0x55, good[-1]]))
    with server:
        client = ModbusClient(TcpTransport("127.0.0.1", port), framing="rtu", timeout=0.5,
                              rtu_silence=0.002)
        with pytest.raises(ProtocolError) as raised:
            client.read_holding_registers(0, 1)
    assert "CRC" in str(raised.value)
    assert client.take_exchanges()[0]["outcome"] == "protocol_error"


def test_mbap_with_wrong_protocol_id_is_a_protocol_error():
    reply = struct.pack(">HHHB", 1, 7, 5, 1) + bytes([3, 2, 0, 1])
    server, port = _serve_once(reply)
    with server:
        client = ModbusClient(TcpTransport("127.0.0.1", port), framing="tcp", timeout=0.5)
        with pytest.raises(ProtocolError):
            client.read_holding_registers(0, 1)


def test_peer_closing_mid_answer_is_connection_closed_or_timeout():
    server, port = _serve_once(struct.pack(">HHHB", 1, 0, 5, 1) + bytes([3]))  # truncated
    with server:
        client = ModbusClient(TcpTransport("127.0.0.1", port), framing="tcp", timeout=0.5)
        with pytest.raises((ConnectionClosed, DeviceTimeout)):
            client.read_holding_registers(0, 1)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_bad_timeouts_are_refused(bad, silent_server):
    with pytest.raises((ValueError, TypeError)):
        ModbusClient(TcpTransport("127.0.0.1", silent_server.port), timeout=bad)
