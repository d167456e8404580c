"""Checks of the independent pymodbus peer device (tests/peers/pymodbus_device.py).

The peer runs as a subprocess (the way a bench uses it); it is checked over Modbus TCP with
pymodbus's own client and raw MBAP frames, and over Modbus RTU on a pty with raw frames whose
CRC is computed here. Expected values come from the profile TOML, read here on its own.

Tests named `test_pymodbus_deviation_*` pin what pymodbus 3.16.1 really does where it departs
from the Modbus specification (see README.md); they fail when that behaviour changes.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time
import tomllib
import tty
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymodbus.client import ModbusTcpClient

HERE = Path(__file__).resolve().parent
PEER = HERE / "pymodbus_device.py"
PROFILE = HERE / "pymodbus-meter.toml"
READY_TIMEOUT = 15.0   # deadline for the ready line (a slow CI machine importing pymodbus)
REPLY_TIMEOUT = 3.0    # deadline for an expected reply
SILENCE_WINDOW = 0.5   # how long "no reply" is listened for

DOC = tomllib.loads(PROFILE.read_text())
UNIT = DOC["device"]["unit"]


# --------------------------------------------------------------------------------------------
# expected map, straight from the TOML
# --------------------------------------------------------------------------------------------

def _words(kind: str, value: float, scale: float) -> list[int]:
    raw = value * scale
    packed = struct.pack(">f", raw) if kind == "f32" else struct.pack(
        {"u16": ">H", "i16": ">h", "u32": ">I", "i32": ">i"}[kind], round(raw))
    return list(struct.unpack(f">{len(packed) // 2}H", packed))


def _table(table: str) -> dict[int, int]:
    out: dict[int, int] = {}
    for reg in DOC.get("registers", []):
        if reg["table"] == table:
            for i, word in enumerate(_words(reg["type"], reg["value"], reg.get("scale", 1))):
                out[reg["address"] + i] = word
    return out


INPUT = _table("input")
HOLDING = _table("holding")
WRITABLE = {r["address"] for r in DOC["registers"] if r["table"] == "holding" and r.get("writable")}
COILS = {c["address"]: c["value"] for c in DOC.get("coils", [])}
DISCRETE = {d["address"]: d["value"] for d in DOC.get("discrete_inputs", [])}
IDENTITY = {0x00: "vendor", 0x01: "product_code", 0x02: "revision", 0x03: "vendor_url",
            0x04: "product_name", 0x05: "model", 0x80: "serial_number"}
DECLARED_OBJECTS = {oid: DOC["identity"][key].encode() for oid, key in IDENTITY.items()
                    if key in DOC["identity"]}


def _unmapped(table: dict[int, int]) -> list[int]:
    """Some unmapped addresses: the holes inside the map, and the first one after it."""
    holes = [a for a in range(min(table), max(table)) if a not in table]
    return holes[:3] + [max(table) + 1]


# --------------------------------------------------------------------------------------------
# running the peer
# --------------------------------------------------------------------------------------------

class Peer:
    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log
        self._stderr = log.open("wb")
        self.proc = subprocess.Popen([sys.executable, str(PEER), *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._stderr)
        self.ready: dict | None = None

    def stderr(self) -> str:
        self._stderr.flush()
        return self.log.read_text(errors="replace")[-4000:]

    def read_stdout_line(self, timeout: float) -> bytes:
        """One line from stdout, with a select() deadline (no sleeping)."""
        fd, data, deadline = self.proc.stdout.fileno(), b"", time.monotonic() + timeout
        while b"\n" not in data:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no line from the peer within {timeout} s; stderr:\n{self.stderr()}")
            readable, _, _ = select.select([fd], [], [], remaining)
            if readable:
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise AssertionError(f"peer closed stdout (exit {self.proc.wait()}); stderr:\n"
                                         f"{self.stderr()}")
                data += chunk
        return data

    def wait_ready(self) -> dict:
        line = self.read_stdout_line(READY_TIMEOUT)
        assert line.endswith(b"\n") and line.count(b"\n") == 1, line
        self.ready = json.loads(line)
        return self.ready

    def stop(self) -> int:
        """Close stdin (the peer's shutdown signal); kill only if it does not go."""
        try:
            if self.proc.poll() is None:
                self.proc.stdin.close()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            return self.proc.returncode
        finally:
            for stream in (self.proc.stdin, self.proc.stdout, self._stderr):
                if not stream.closed:
                    stream.close()


@pytest.fixture(scope="module")
def tcp_peer(tmp_path_factory):
    peer = Peer(["--profile", str(PROFILE), "--tcp-port", "0"],
                tmp_path_factory.mktemp("peer") / "tcp-peer.log")
    try:
        peer.wait_ready()
        yield peer
    finally:
        peer.stop()


@pytest.fixture(scope="module")
def client(tcp_peer):
    tcp = tcp_peer.ready["tcp"]
    c = ModbusTcpClient(tcp["host"], port=tcp["port"], timeout=REPLY_TIMEOUT, retries=0)
    assert c.connect()
    try:
        yield c
    finally:
        c.close()


class RawTcp:
    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=REPLY_TIMEOUT)
        self.tid = 0

    def transact(self, pdu: bytes, unit: int = UNIT) -> tuple[int, int, bytes]:
        """(unit, function, data) of the reply to one request PDU."""
        self.tid = (self.tid + 1) & 0xFFFF
        self.sock.sendall(struct.pack(">HHHB", self.tid, 0, len(pdu) + 1, unit) + pdu)
        header = self._recv(7)
        tid, proto, length, reply_unit = struct.unpack(">HHHB", header)
        assert (tid, proto) == (self.tid, 0), header.hex()
        body = self._recv(length - 1)
        return reply_unit, body[0], body[1:]

    def _recv(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            assert chunk, "peer closed the connection"
            data += chunk
        return data

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw(tcp_peer):
    r = RawTcp(tcp_peer.ready["tcp"]["host"], tcp_peer.ready["tcp"]["port"])
    try:
        yield r
    finally:
        r.close()


# --- RTU over a pty ---------------------------------------------------------------------------

def crc16(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def rtu_frame(unit: int, pdu: bytes) -> bytes:
    body = bytes([unit]) + pdu
    return body + struct.pack("<H", crc16(body))


def _rtu_complete(data: bytes) -> bool:
    """Whether `data` holds one whole RTU reply (length from the PDU, else a valid CRC)."""
    if len(data) < 5:
        return False
    function = data[1]
    if function & 0x80:
        size = 5
    elif function in (1, 2, 3, 4):
        size = 3 + data[2] + 2
    elif function in (5, 6, 15, 16):
        size = 8
    else:
        return crc16(data[:-2]) == struct.unpack("<H", data[-2:])[0]
    return len(data) >= size


class RtuLine:
    """The master side of a pty whose slave end the peer serves."""

    def __init__(self, master: int) -> None:
        self.master = master

    def send(self, frame: bytes) -> None:
        os.write(self.master, frame)

    def receive(self, timeout: float) -> bytes:
        data, deadline = b"", time.monotonic() + timeout
        while not _rtu_complete(data):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if select.select([self.master], [], [], remaining)[0]:
                data += os.read(self.master, 512)
        return data

    def transact(self, pdu: bytes, unit: int = UNIT) -> tuple[int, int, bytes]:
        self.send(rtu_frame(unit, pdu))
        reply = self.receive(REPLY_TIMEOUT)
        assert reply, f"no RTU reply to {pdu.hex()} within {REPLY_TIMEOUT} s"
        assert crc16(reply[:-2]) == struct.unpack("<H", reply[-2:])[0], f"bad CRC in {reply.hex()}"
        return reply[0], reply[1], reply[2:-2]

    def assert_silent(self, frame: bytes) -> None:
        self.send(frame)
        reply = self.receive(SILENCE_WINDOW)
        assert reply == b"", f"expected no reply to {frame.hex()}, got {reply.hex()}"


def _start_rtu(tmp_path: Path, extra: list[str] = ()) -> tuple[Peer, RtuLine, int, int]:
    master, slave = os.openpty()
    tty.setraw(slave)  # no echo/line discipline on the slave before the peer configures it
    peer = Peer(["--profile", str(PROFILE), "--serial-port", os.ttyname(slave), *extra],
                tmp_path / "rtu-peer.log")
    return peer, RtuLine(master), master, slave


@pytest.fixture
def rtu(tmp_path):
    peer, line, master, slave = _start_rtu(tmp_path)
    try:
        peer.wait_ready()
        line.peer = peer
        yield line
    finally:
        peer.stop()
        os.close(master)
        os.close(slave)


def _registers(data: bytes) -> list[int]:
    assert data[0] == len(data) - 1, data.hex()
    return list(struct.unpack(f">{data[0] // 2}H", data[1:]))


# --------------------------------------------------------------------------------------------
# ready line and lifecycle
# --------------------------------------------------------------------------------------------

def test_ready_line_format(tcp_peer):
    ready = tcp_peer.ready
    assert list(ready) == ["event", "pid", "tcp", "serial"]
    assert ready["event"] == "ready" and ready["pid"] == tcp_peer.proc.pid
    assert ready["tcp"]["host"] == "127.0.0.1" and list(ready["tcp"]) == ["host", "port"]
    assert isinstance(ready["tcp"]["port"], int) and 0 < ready["tcp"]["port"] < 65536
    assert ready["serial"] is None


def test_exits_cleanly_on_stdin_eof(tmp_path):
    peer = Peer(["--profile", str(PROFILE), "--tcp-port", "0"], tmp_path / "peer.log")
    try:
        peer.wait_ready()
        peer.proc.stdin.close()
        assert peer.proc.wait(10) == 0
        assert peer.proc.stdout.read() == b"", "only the ready line goes to stdout"
    finally:
        peer.stop()


def test_exits_cleanly_on_sigterm(tmp_path):
    peer = Peer(["--profile", str(PROFILE), "--tcp-port", "0"], tmp_path / "peer.log")
    try:
        peer.wait_ready()
        peer.proc.send_signal(signal.SIGTERM)
        assert peer.proc.wait(10) == 0
    finally:
        peer.stop()


@pytest.mark.parametrize("change, key", [
    (('unit = 7', 'unit = 7\ncolour = "red"'), "device.colour"),
    (('unit = 7', 'unit = 300'), "device.unit"),
    (('type = "f32"', 'type = "f64"'), "registers[4].type"),
    (('value = 80', 'value = "80"'), "registers[7].value"),
    (('value = 100\nwritable', 'value = 70000\nwritable'), "registers[5].value"),
    (('vendor = "Acme Metering"\n', ''), "identity.vendor"),
    (('parity = "none"', 'parity = "wrong"'), "serial.parity"),
    (('# No [defects]', '[defects]\nbad_crc_answered = true\n#'), "defects.bad_crc_answered"),
])
def test_bad_profile_exits_2_naming_the_key(tmp_path, change, key):
    text = PROFILE.read_text()
    assert change[0] in text
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace(change[0], change[1], 1))
    done = subprocess.run([sys.executable, str(PEER), "--profile", str(bad), "--tcp-port", "0"],
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    assert done.returncode == 2, done.stderr
    assert done.stdout == b""
    assert f": {key}: ".encode() in done.stderr, done.stderr


def test_profile_is_valid_for_hilbench_loader():
    """The same file under hilbench's own strict loader, when hilbench is importable."""
    profile_module = pytest.importorskip("hilbench.profile")
    profile = profile_module.load_profile(PROFILE)
    assert profile.unit == UNIT
    assert {r.address + i: w for r in profile.registers_in("input")
            for i, w in enumerate(r.raw_words())} == INPUT
    assert {r.address + i: w for r in profile.registers_in("holding")
            for i, w in enumerate(r.raw_words())} == HOLDING
    assert {oid: v.encode() for oid, v in profile.identity_objects().items()} == DECLARED_OBJECTS


# --------------------------------------------------------------------------------------------
# Modbus TCP, pymodbus client
# --------------------------------------------------------------------------------------------

def _read_all(read, table: dict[int, int]) -> dict[int, int]:
    seen: dict[int, int] = {}
    runs: list[list[int]] = []
    for address in sorted(table):
        if runs and runs[-1][-1] + 1 == address:
            runs[-1].append(address)
        else:
            runs.append([address])
    for run in runs:
        response = read(run[0], count=len(run), device_id=UNIT)
        assert not response.isError(), response
        seen.update(zip(run, response.registers))
    return seen


def test_input_registers_match_profile(client):
    assert _read_all(client.read_input_registers, INPUT) == INPUT


def test_holding_registers_match_profile(client):
    assert _read_all(client.read_holding_registers, HOLDING) == HOLDING


def test_32_bit_values_decode_high_word_first(client):
    dt = client.DATATYPE
    energy = client.read_input_registers(6, count=2, device_id=UNIT).registers
    assert client.convert_from_registers(energy, dt.UINT32) == 9876543
    freq = client.read_input_registers(20, count=2, device_id=UNIT).registers
    assert client.convert_from_registers(freq, dt.FLOAT32) == pytest.approx(49.98, abs=1e-5)
    power = client.read_input_registers(2, count=1, device_id=UNIT).registers
    assert client.convert_from_registers(power, dt.INT16) == -1520
    offset = client.read_holding_registers(110, count=2, device_id=UNIT).registers
    assert client.convert_from_registers(offset, dt.INT32) == -12500


def test_writable_holding_register_is_written(client):
    address = min(WRITABLE)
    try:
        assert not client.write_register(address, 4321, device_id=UNIT).isError()
        assert client.read_holding_registers(address, count=1, device_id=UNIT).registers == [4321]
        assert not client.write_registers(address, [11, 12], device_id=UNIT).isError()
        assert client.read_holding_registers(address, count=2, device_id=UNIT).registers == [11, 12]
    finally:
        client.write_registers(address, [HOLDING[address], HOLDING[address + 1]], device_id=UNIT)


def test_read_only_holding_register_answers_exception_02(client):
    address = next(a for a in HOLDING if a not in WRITABLE)
    response = client.write_register(address, 1, device_id=UNIT)
    assert response.isError() and response.exception_code == 2
    assert client.read_holding_registers(address, count=1, device_id=UNIT).registers == [HOLDING[address]]


@pytest.mark.parametrize("table", ["input", "holding"])
def test_unmapped_register_answers_exception_02(client, table):
    mapped = INPUT if table == "input" else HOLDING
    read = client.read_input_registers if table == "input" else client.read_holding_registers
    for address in _unmapped(mapped):
        response = read(address, count=1, device_id=UNIT)
        assert response.isError() and response.exception_code == 2, (address, response)
    # a read that starts mapped and runs into a hole is refused as a whole
    start = next(a for a in sorted(mapped) if a + 1 not in mapped)
    response = read(start, count=2, device_id=UNIT)
    assert response.isError() and response.exception_code == 2


def test_write_to_unmapped_holding_register_answers_exception_02(client):
    response = client.write_register(max(HOLDING) + 1, 1, device_id=UNIT)
    assert response.isError() and response.exception_code == 2


def test_coils_and_discrete_inputs(client):
    coils = client.read_coils(0, count=len(COILS), device_id=UNIT)
    assert coils.bits[:len(COILS)] == [COILS[a] for a in sorted(COILS)]
    inputs = client.read_discrete_inputs(0, count=len(DISCRETE), device_id=UNIT)
    assert inputs.bits[:len(DISCRETE)] == [DISCRETE[a] for a in sorted(DISCRETE)]
    address = max(COILS)
    try:
        assert not client.write_coil(address, not COILS[address], device_id=UNIT).isError()
        assert client.read_coils(address, count=1, device_id=UNIT).bits[0] is (not COILS[address])
    finally:
        client.write_coil(address, COILS[address], device_id=UNIT)


def test_bits_beyond_the_mapped_16_bit_group_answer_exception_02(client):
    # pymodbus keeps bits in 16-bit words: the first address it refuses is the next group.
    for read, table in ((client.read_coils, COILS), (client.read_discrete_inputs, DISCRETE)):
        first_refused = (max(table) // 16 + 1) * 16
        response = read(first_refused, count=1, device_id=UNIT)
        assert response.isError() and response.exception_code == 2


def test_pymodbus_deviation_unmapped_bits_in_a_mapped_group_read_as_zero(client):
    hole = max(COILS) + 1
    assert hole % 16, "the profile's coils must leave a hole inside their 16-bit group"
    response = client.read_coils(hole, count=1, device_id=UNIT)
    assert not response.isError() and response.bits[0] is False


@pytest.mark.parametrize("read_code, expected_ids", [
    (1, {0x00, 0x01, 0x02}),
    (2, {0x00, 0x01, 0x02, 0x03, 0x04, 0x05}),
    (3, {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x80}),
])
def test_device_identification_categories(client, read_code, expected_ids):
    response = client.read_device_information(read_code=read_code, device_id=UNIT)
    assert not response.isError(), response
    assert response.read_code == read_code
    assert response.conformity == 0x83           # extended, stream + individual access
    assert response.more_follows == 0x00
    assert response.information == {oid: DECLARED_OBJECTS[oid] for oid in expected_ids}


def test_device_identification_individual_access(client):
    for oid, value in DECLARED_OBJECTS.items():
        response = client.read_device_information(read_code=4, object_id=oid, device_id=UNIT)
        assert response.information == {oid: value}
    response = client.read_device_information(read_code=4, object_id=0x06, device_id=UNIT)
    assert response.isError() and response.exception_code == 2   # object not present


def test_pymodbus_deviation_unsupported_function_answers_function_0x80(raw):
    # Spec: function 0xC1 (0x41 | 0x80), exception 01. pymodbus cannot decode the PDU and
    # answers exception 01 under function code 0x00, i.e. function byte 0x80.
    assert raw.transact(bytes([0x41])) == (UNIT, 0x80, b"\x01")
    assert raw.transact(bytes([0x41, 0, 0, 0, 1])) == (UNIT, 0x80, b"\x01")


@pytest.mark.parametrize("pdu", [
    bytes([0x03]) + struct.pack(">HH", 100, 126),
    bytes([0x04]) + struct.pack(">HH", 0, 126),
    bytes([0x03]) + struct.pack(">HH", 100, 0),
    bytes([0x01]) + struct.pack(">HH", 0, 2001),
])
def test_pymodbus_deviation_illegal_quantity_answers_exception_01_function_0x80(raw, pdu):
    # Spec: function 0x83/0x84/0x81, exception 03 ILLEGAL DATA VALUE.
    assert raw.transact(pdu) == (UNIT, 0x80, b"\x01")


def test_pymodbus_deviation_write_single_coil_accepts_illegal_value(raw):
    # Spec: FC 05 value other than 0x0000/0xFF00 is exception 03; pymodbus treats it as ON.
    address = max(COILS)
    try:
        unit, function, data = raw.transact(bytes([0x05]) + struct.pack(">HH", address, 0x1234))
        assert (unit, function) == (UNIT, 0x05)
    finally:
        raw.transact(bytes([0x05]) + struct.pack(">HH", address, 0xFF00 if COILS[address] else 0))


def test_pymodbus_deviation_other_unit_id_answers_exception_04(raw):
    # Another unit id is not refused (0x0B) nor ignored: SimCore has no device for it, the
    # lookup raises and the server answers SERVER DEVICE FAILURE with that unit id.
    assert raw.transact(bytes([0x03]) + struct.pack(">HH", 100, 1), unit=UNIT + 1) == (
        UNIT + 1, 0x83, b"\x04")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=st.sampled_from(["input", "holding"]), start=st.integers(0, 130),
       count=st.integers(1, 16))
def test_register_map_is_exact(client, table, start, count):
    mapped = INPUT if table == "input" else HOLDING
    read = client.read_input_registers if table == "input" else client.read_holding_registers
    response = read(start, count=count, device_id=UNIT)
    addresses = range(start, start + count)
    if all(a in mapped for a in addresses):
        assert not response.isError() and response.registers == [mapped[a] for a in addresses]
    else:
        assert response.isError() and response.exception_code == 2


# --------------------------------------------------------------------------------------------
# Modbus RTU on a pty, raw frames
# --------------------------------------------------------------------------------------------

def test_rtu_ready_line(rtu):
    ready = rtu.peer.ready
    assert ready["tcp"] is None and list(ready["serial"]) == ["path"]
    assert ready["serial"]["path"].startswith("/dev/")


def test_rtu_reads_the_register_map(rtu):
    for function, table in ((0x04, INPUT), (0x03, HOLDING)):
        for address, word in table.items():
            assert rtu.transact(bytes([function]) + struct.pack(">HH", address, 1)) == (
                UNIT, function, bytes([2]) + struct.pack(">H", word))
    unit, function, data = rtu.transact(bytes([0x04]) + struct.pack(">HH", 20, 2))
    assert struct.unpack(">f", data[1:])[0] == pytest.approx(49.98, abs=1e-5)


def test_rtu_write_then_read(rtu):
    address = min(WRITABLE)
    request = bytes([0x06]) + struct.pack(">HH", address, 0xBEEF)
    assert rtu.transact(request) == (UNIT, 0x06, request[1:])          # echo
    assert _registers(rtu.transact(bytes([0x03]) + struct.pack(">HH", address, 1))[2]) == [0xBEEF]


def test_rtu_unmapped_address_answers_exception_02(rtu):
    assert rtu.transact(bytes([0x03]) + struct.pack(">HH", max(HOLDING) + 1, 1)) == (UNIT, 0x83, b"\x02")
    assert rtu.transact(bytes([0x04]) + struct.pack(">HH", max(INPUT) + 1, 1)) == (UNIT, 0x84, b"\x02")


def test_rtu_bad_crc_is_not_answered(rtu):
    frame = bytearray(rtu_frame(UNIT, bytes([0x03]) + struct.pack(">HH", 100, 1)))
    frame[-1] ^= 0xFF
    rtu.assert_silent(bytes(frame))
    # ...and the next good frame is served.
    assert rtu.transact(bytes([0x03]) + struct.pack(">HH", 100, 1)) == (
        UNIT, 0x03, bytes([2]) + struct.pack(">H", HOLDING[100]))


def test_rtu_device_identification_extended(rtu):
    unit, function, data = rtu.transact(bytes([0x2B, 0x0E, 0x03, 0x00]))
    assert (unit, function) == (UNIT, 0x2B)
    mei, read_code, conformity, more, _next, count = data[:6]
    assert (mei, read_code, conformity, more) == (0x0E, 0x03, 0x83, 0x00)
    objects, pos = {}, 6
    for _ in range(count):
        oid, length = data[pos], data[pos + 1]
        objects[oid] = data[pos + 2:pos + 2 + length]
        pos += 2 + length
    assert pos == len(data) and objects == DECLARED_OBJECTS


def test_rtu_broadcast_write_is_applied_without_reply(rtu):
    address = min(WRITABLE)
    rtu.assert_silent(rtu_frame(0, bytes([0x06]) + struct.pack(">HH", address, 0x0A0B)))
    assert _registers(rtu.transact(bytes([0x03]) + struct.pack(">HH", address, 1))[2]) == [0x0A0B]


def test_rtu_pymodbus_deviation_illegal_quantity(rtu):
    assert rtu.transact(bytes([0x03]) + struct.pack(">HH", 100, 126)) == (UNIT, 0x80, b"\x01")


def test_rtu_pymodbus_deviation_unsupported_function_is_silent_and_eats_next_frame(rtu):
    # Spec: exception 01 (function 0xC1). pymodbus's RTU framer does not know 0x41, keeps the
    # bytes as possible garbage, and the next (valid) request is discarded with them.
    read = bytes([0x03]) + struct.pack(">HH", 100, 1)
    rtu.assert_silent(rtu_frame(UNIT, bytes([0x41])))
    rtu.assert_silent(rtu_frame(UNIT, read))
    assert rtu.transact(read) == (UNIT, 0x03, bytes([2]) + struct.pack(">H", HOLDING[100]))


def test_rtu_pymodbus_deviation_other_unit_id_is_answered(rtu):
    # Spec (serial line): a server answers only its own address. pymodbus answers exception
    # 04 under the other unit id.
    assert rtu.transact(bytes([0x03]) + struct.pack(">HH", 100, 1), unit=UNIT + 1) == (
        UNIT + 1, 0x83, b"\x04")


# --------------------------------------------------------------------------------------------
# both interfaces at once: one device, one register memory
# --------------------------------------------------------------------------------------------

def test_tcp_and_rtu_share_one_register_memory(tmp_path):
    peer, line, master, slave = _start_rtu(tmp_path, ["--tcp-port", "0"])
    try:
        ready = peer.wait_ready()
        assert ready["tcp"]["port"] > 0 and ready["serial"]["path"] == os.ttyname(slave)
        address = min(WRITABLE)
        c = ModbusTcpClient("127.0.0.1", port=ready["tcp"]["port"], timeout=REPLY_TIMEOUT, retries=0)
        assert c.connect()
        try:
            assert not c.write_register(address, 0x1357, device_id=UNIT).isError()
        finally:
            c.close()
        assert _registers(line.transact(bytes([0x03]) + struct.pack(">HH", address, 1))[2]) == [0x1357]
    finally:
        peer.stop()
        os.close(master)
        os.close(slave)
