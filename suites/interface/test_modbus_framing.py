"""Framing and addressing: the MBAP header of Modbus TCP answers (transaction id and unit id
echoed, protocol id 0, length), and on the serial line the CRC check and the addressing rules
(a frame for another address and a broadcast get no reply; a broadcast write is executed).

Raw frames on the transport: the harness client would stop at the first bad echo with a
ProtocolError (no verdict); here every answer is judged against the framing requirement.
The frames go out only on an idle line (RTU: t3.5), like any master's."""

from __future__ import annotations

import struct

import pytest

from hilbench import DeviceTimeout, HarnessError, crc16, encode_rtu, encode_tcp

from modbus_suite import (
    INPUT_VALIDATION, READ_HOLDING, WRITE_SINGLE_REGISTER,
    address_quantity, first_register,
)

# Transaction ids across the 16-bit range: 0, both sides of the top bit, the last one.
TRANSACTION_IDS = (0x0000, 0x7FFF, 0x8001, 0xFFFF)
TCP_ANY_UNIT = 0xFF  # "no gateway behind": a directly connected device answers it


def _window(request: pytest.FixtureRequest) -> float:
    return float(request.config.getoption("hilbench_timeout"))


def _mbap_exchange(meter, evidence, window: float, transaction_id: int, unit: int,
                   function: int, data: bytes) -> list[str]:
    """One raw MBAP request; the problems of its answer's header (empty: none)."""
    transport = meter.transport("tcp")
    transport.discard_input()
    frame = encode_tcp(transaction_id, unit, function, data)
    capture = transport.start_capture()
    problems: list[str] = []
    try:
        transport.write(frame, window)
        try:
            header = transport.read_exact(7, window)
            tid, protocol, length, answer_unit = struct.unpack(">HHHB", header)
            body = transport.read_exact(length - 1, window) if 2 <= length <= 254 else b""
        except DeviceTimeout as error:
            problems.append(f"no complete answer: {error}")
        else:
            if tid != transaction_id:
                problems.append(f"transaction id {tid:#06x} echoes {transaction_id:#06x}")
            if protocol != 0:
                problems.append(f"protocol id {protocol}, not 0")
            if not 2 <= length <= 254 or len(body) != length - 1:
                problems.append(f"length field {length} does not count the {len(body) + 1} "
                                "bytes that follow")
            if answer_unit != unit:
                problems.append(f"unit id {answer_unit:#04x} echoes {unit:#04x}")
            if not body or body[0] & 0x7F != function:
                problems.append(f"function {body[:1].hex()} answers {function:#04x}")
    finally:
        transport.stop_capture()
        evidence.observe("raw_traffic", [[d, ns, chunk] for d, ns, chunk in capture.drain()])
    evidence.observe(f"MBAP of the answer to transaction {transaction_id:#06x}, unit {unit:#04x}, "
                     f"function {function:#04x}", problems, [], not problems)
    return problems


def _mbap_cases(meter) -> list[tuple[int, bytes]]:
    """A normal request and one answered with an exception (02, a read past the holding
    registers): both answers carry an MBAP header."""
    first = first_register(meter.profile)
    if first is None:
        return [(0x2B, bytes([0x0E, 0x01, 0x00]))]
    past = meter.profile.first_unmapped_address("holding")
    return [(READ_HOLDING, address_quantity(first, 1)), (READ_HOLDING, address_quantity(past, 1))]


@pytest.mark.requirement("MODBUS-TCP-MBAP")
@pytest.mark.needs("modbus-tcp")
def test_mbap_answer_echoes_the_transaction_id(meter, evidence, request):
    problems = [f"{tid:#06x}: {p}"
                for tid in TRANSACTION_IDS
                for function, data in _mbap_cases(meter)
                for p in _mbap_exchange(meter, evidence, _window(request), tid,
                                        meter.profile.unit, function, data)]
    assert not problems, "MBAP header: " + "; ".join(problems)


@pytest.mark.requirement("MODBUS-TCP-MBAP")
@pytest.mark.needs("modbus-tcp")
def test_mbap_answer_echoes_the_unit_id(meter, evidence, request):
    problems = [f"unit {unit:#04x}: {p}"
                for unit in dict.fromkeys((meter.profile.unit, TCP_ANY_UNIT))
                for function, data in _mbap_cases(meter)
                for p in _mbap_exchange(meter, evidence, _window(request), 0x1234, unit,
                                        function, data)]
    assert not problems, "MBAP header: " + "; ".join(problems)


def _rtu_listen(meter, evidence, frame: bytes, window: float, what: str) -> bytes:
    """Sends one raw RTU frame on an idle line and returns whatever comes back within the
    window (b"": silence)."""
    transport = meter.transport("rtu")
    t35 = meter.client("rtu").frame_silence  # the line's t3.5, as the client keeps it
    capture = transport.start_capture()
    try:
        _, idle = transport.drain_until_quiet(t35, window)
        assert idle, "the line never fell idle before the test frame"
        transport.write(frame, window)
        try:
            answer = transport.read_until_silence(t35, 256, window)
        except DeviceTimeout:
            answer = b""
    finally:
        transport.stop_capture()
        evidence.observe("raw_traffic", [[d, ns, data] for d, ns, data in capture.drain()])
    evidence.observe(f"reply to {what}", answer, b"", answer == b"",
                     f"listened {window:.3f} s after the frame")
    return answer


def _still_serves(meter) -> bool:
    first = first_register(meter.profile)
    try:
        if first is not None:
            meter.client("rtu").read_holding_registers(first, 1)
        else:
            meter.client("rtu").read_device_identification("basic")
        return True
    except HarnessError:
        return False


@pytest.mark.requirement("MODBUS-SL-CRC", *INPUT_VALIDATION)
@pytest.mark.needs("modbus-rtu")
def test_frame_with_bad_crc_is_discarded(meter, evidence, request):
    first = first_register(meter.profile) or 0
    frame = bytearray(encode_rtu(meter.profile.unit, READ_HOLDING, address_quantity(first, 1)))
    frame[-1] ^= 0xFF  # break the CRC
    answer = _rtu_listen(meter, evidence, bytes(frame), _window(request), "a frame with a bad CRC")
    assert answer == b"", f"device answered a frame with a bad CRC: {answer.hex()}"
    assert _still_serves(meter), "the device no longer answers valid frames"


@pytest.mark.requirement("MODBUS-SL-ADDR")
@pytest.mark.needs("modbus-rtu")
def test_frame_for_another_address_gets_no_reply(meter, evidence, request):
    other = meter.profile.unit % 247 + 1
    first = first_register(meter.profile) or 0
    frame = encode_rtu(other, READ_HOLDING, address_quantity(first, 1))
    answer = _rtu_listen(meter, evidence, frame, _window(request), f"a frame for address {other}")
    recovered = _still_serves(meter)
    evidence.observe("answers valid requests afterwards", recovered, True, recovered)
    assert answer == b"", f"device {meter.profile.unit} answered a frame for {other}: {answer.hex()}"
    assert recovered, "the device no longer answers its own frames"


@pytest.mark.requirement("MODBUS-SL-ADDR")
@pytest.mark.needs("modbus-rtu")
def test_broadcast_write_is_executed_and_not_answered(meter, evidence, request):
    registers = [r for r in meter.profile.registers_in("holding") if r.writable and r.words == 1]
    if not registers:
        pytest.skip(f"not applicable: {meter.name} declares no writable 16-bit register")
    address = registers[0].address
    client = meter.client("rtu")
    before = client.read_holding_registers(address, 1)[0]
    wanted = (before + 1) & 0xFFFF
    frame = encode_rtu(0, WRITE_SINGLE_REGISTER, struct.pack(">HH", address, wanted))
    try:
        answer = _rtu_listen(meter, evidence, frame, _window(request), "a broadcast write")
        after = client.read_holding_registers(address, 1)[0]
        evidence.observe(f"holding[{address}] after the broadcast write", after, wanted,
                         after == wanted)
        assert answer == b"", f"device answered a broadcast: {answer.hex()}"
        assert after == wanted, f"broadcast write not executed: reads {after}, wrote {wanted}"
    finally:
        client.write_single_register(address, before)


@pytest.mark.requirement("MODBUS-SL-ADDR")
@pytest.mark.needs("modbus-rtu")
def test_reply_carries_own_address_and_a_correct_crc(meter, evidence, request):
    first = first_register(meter.profile) or 0
    frame = encode_rtu(meter.profile.unit, READ_HOLDING, address_quantity(first, 1))
    transport = meter.transport("rtu")
    t35 = meter.client("rtu").frame_silence
    window = _window(request)
    _, idle = transport.drain_until_quiet(t35, window)
    assert idle, "the line never fell idle before the test frame"
    transport.write(frame, window)
    # The reply is read by its own length, not by the silence after it: a loaded machine may
    # stretch a gap inside the frame past t3.5. No reply at all is no verdict on addressing:
    # the DeviceTimeout makes the test "error".
    answer = transport.read_exact(3, window)
    answer += transport.read_exact(2 if answer[1] & 0x80 else answer[2] + 2, window)
    problems = []
    if len(answer) < 4:
        problems.append(f"reply of {len(answer)} bytes")
    else:
        if answer[0] != meter.profile.unit:
            problems.append(f"reply from address {answer[0]}, not {meter.profile.unit}")
        crc = answer[-2] | (answer[-1] << 8)
        if crc != crc16(answer[:-2]):
            problems.append(f"CRC {crc:#06x}, computed {crc16(answer[:-2]):#06x}")
    evidence.observe("reply to a valid frame", answer, {"address": meter.profile.unit,
                                                        "crc": "CRC-16/MODBUS, low byte first"},
                     not problems, "; ".join(problems))
    assert not problems, "; ".join(problems)
