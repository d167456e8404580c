"""Modbus interface conformance of a meter (any Modbus device described by a profile).

Runs unchanged on the embedded emulated bench, a real meter, or a third-party simulator:
everything device-specific (identity, register map, unit, serial settings) comes from the
device's profile. Interfaces the bench does not offer are reported as not applicable.
"""

from __future__ import annotations

import struct

import pytest

from hilbench import DeviceTimeout, ModbusException, encode_rtu
from hilbench.protocols import ModbusDevice
from hilbench_pytest import require

# A function code in the user-defined range 65..72 (Modbus Application Protocol §5): no
# public function, so a conforming device that has not implemented it answers exception 01.
UNSUPPORTED_FUNCTION = 0x41
READ_HOLDING = 0x03
SPEC_MAX_READ_REGISTERS = 125

IDENTIFICATION = ("MODBUS-APP-6.21", "EN303645-5.3-16", "US-8425-D1", "US-8259A-1", "JP-S1.1-16",
                  "WELMEC-P2")
INPUT_VALIDATION = ("EN303645-5.13-1B", "EN18031-GEC-6")


@pytest.fixture
def meter(dut) -> ModbusDevice:
    """The device under test, as the capability this suite needs (any driver providing it)."""
    return require(dut, ModbusDevice)


@pytest.fixture(params=["rtu", "tcp"])
def interface(request: pytest.FixtureRequest, meter) -> str:
    if request.param not in meter.interfaces:
        pytest.skip(f"not applicable: {meter.name} has no {request.param} interface on this bench")
    return request.param


def _recovers(meter, client, attempts: int = 3) -> bool:
    """After a request went unanswered: does the device answer a valid one again? Some stacks
    keep the unanswered bytes and lose the next frame with them; absorbing that here keeps the
    knock-on failure in the test that caused it instead of the next test."""
    first = meter.profile.registers_in("holding")[0]
    for _ in range(attempts):
        try:
            client.read_holding_registers(first.address, 1)
            return True
        except DeviceTimeout:
            continue
    return False


def _category_for(conformity_level: int) -> list[str]:
    """Categories a device may be asked for, by its conformity level (FC 43/14)."""
    level = conformity_level & 0x7F
    return ["basic", "regular", "extended"][:max(1, min(level, 3))]


@pytest.mark.requirement(*IDENTIFICATION)
def test_device_identification_matches_declared(meter, interface, evidence):
    client = meter.client(interface)
    basic = client.read_device_identification("basic")
    objects = dict(basic["objects"])
    for category in _category_for(basic["conformity_level"])[1:]:
        objects.update(client.read_device_identification(category)["objects"])
    evidence.observe("conformity_level", basic["conformity_level"])

    mismatches = []
    for object_id, declared in sorted(meter.profile.identity_objects().items()):
        reported = objects.get(object_id)
        passed = reported == declared
        evidence.observe(f"identity object 0x{object_id:02X}", reported, declared, passed)
        if not passed:
            mismatches.append(f"object 0x{object_id:02X}: reported {reported!r}, declared {declared!r}")
    assert not mismatches, "identity differs from the declared one: " + "; ".join(mismatches)


@pytest.mark.requirement("MODBUS-APP-7-01", *INPUT_VALIDATION)
def test_unsupported_function_answers_exception_01(meter, interface, evidence):
    client = meter.client(interface)
    try:
        function, data = client.transact(UNSUPPORTED_FUNCTION, b"")
    except DeviceTimeout as error:
        recovered = _recovers(meter, client)
        evidence.observe("answers valid requests afterwards", recovered, True, recovered)
        pytest.fail(f"no reply to unsupported function 0x{UNSUPPORTED_FUNCTION:02X} "
                    f"(expected exception 01 ILLEGAL FUNCTION): {error}"
                    + ("" if recovered else "; the device then failed to answer valid requests too"))
    evidence.observe("response", {"function": function, "data": data},
                     {"function": UNSUPPORTED_FUNCTION | 0x80, "data": b"\x01"})
    assert (function, data) == (UNSUPPORTED_FUNCTION | 0x80, b"\x01"), (
        f"expected exception 01 ILLEGAL FUNCTION, got function 0x{function:02X} data {data.hex()}")


@pytest.mark.requirement("MODBUS-APP-7-02", *INPUT_VALIDATION)
def test_illegal_data_address_answers_exception_02(meter, interface, evidence):
    client = meter.client(interface)
    address = meter.profile.first_unmapped_address("holding")
    try:
        values = client.read_holding_registers(address, 1)
    except ModbusException as error:
        evidence.observe("exception_code", error.code, 2, error.code == 2)
        assert error.code == 2, f"expected exception 02 ILLEGAL DATA ADDRESS, got {error}"
        return
    evidence.observe("answered_with_data", values, "exception 02", False)
    pytest.fail(f"unmapped holding register {address} answered with data {values} "
                "instead of exception 02 ILLEGAL DATA ADDRESS")


@pytest.mark.requirement("MODBUS-APP-7-03", *INPUT_VALIDATION)
def test_illegal_quantity_answers_exception_03(meter, interface, evidence):
    # The client refuses to build an out-of-range request; the raw PDU is the point here.
    client = meter.client(interface)
    quantity = SPEC_MAX_READ_REGISTERS + 1
    start = meter.profile.registers_in("holding")[0].address
    function, data = client.transact(READ_HOLDING, struct.pack(">HH", start, quantity))
    evidence.observe("response", {"function": function, "data": data},
                     {"function": READ_HOLDING | 0x80, "data": b"\x03"})
    assert (function, data) == (READ_HOLDING | 0x80, b"\x03"), (
        f"read of {quantity} registers (spec limit {SPEC_MAX_READ_REGISTERS}): expected exception 03 "
        f"ILLEGAL DATA VALUE, got function 0x{function:02X} with {len(data)} data bytes")


@pytest.mark.requirement("MODBUS-SL-CRC", *INPUT_VALIDATION)
@pytest.mark.needs("modbus-rtu")
def test_frame_with_bad_crc_is_discarded(meter, evidence, request):
    transport = meter.transport("rtu")
    t35 = meter.client("rtu").frame_silence  # the line's t3.5, as the client keeps it
    first = meter.profile.registers_in("holding")[0]
    frame = bytearray(encode_rtu(meter.profile.unit, READ_HOLDING, struct.pack(">HH", first.address, 1)))
    frame[-1] ^= 0xFF  # break the CRC
    window = request.config.getoption("hilbench_timeout")
    capture = transport.start_capture()
    try:
        # A raw frame may go out only on an idle line (t3.5), like any master's.
        _, idle = transport.drain_until_quiet(t35, window)
        assert idle, "the line never fell idle before the test frame"
        transport.write(bytes(frame))
        try:
            answer = transport.read_until_silence(t35, 256, window)
        except DeviceTimeout:
            answer = b""
    finally:
        transport.stop_capture()
        evidence.observe("raw_traffic", [[d, ns, data] for d, ns, data in capture.drain()])
    evidence.observe("reply_to_bad_crc", answer, b"", answer == b"",
                     f"listened {window:.3f} s after a frame with a broken CRC")
    assert answer == b"", f"device answered a frame with a bad CRC: {answer.hex()}"
    # ...and it still serves correct frames afterwards.
    assert len(meter.client("rtu").read_holding_registers(first.address, 1)) == 1


def _blocks(addresses: set[int], limit: int) -> list[tuple[int, int]]:
    """Contiguous (start, count) runs of mapped addresses, each at most `limit` long."""
    blocks: list[tuple[int, int]] = []
    for address in sorted(addresses):
        if blocks and blocks[-1][0] + blocks[-1][1] == address and blocks[-1][1] < limit:
            blocks[-1] = (blocks[-1][0], blocks[-1][1] + 1)
        else:
            blocks.append((address, 1))
    return blocks


def _read_table(client, table: str, blocks: list[tuple[int, int]]) -> dict[int, int]:
    read = client.read_input_registers if table == "input" else client.read_holding_registers
    values: dict[int, int] = {}
    for start, count in blocks:
        values.update(zip(range(start, start + count), read(start, count)))
    return values


@pytest.mark.requirement("HB-IOP-01")
def test_registers_identical_over_every_interface(meter, evidence):
    interfaces = meter.interfaces
    if len(interfaces) < 2:
        pytest.skip(f"not applicable: {meter.name} offers only {', '.join(interfaces)} on this bench")
    differences = []
    for table in ("input", "holding"):
        declared = {r.address + i: word for r in meter.profile.registers_in(table)
                    for i, word in enumerate(r.raw_words())}
        blocks = _blocks(set(declared), meter.profile.max_read_registers)
        views = {name: _read_table(meter.client(name), table, blocks) for name in interfaces}
        for name, view in views.items():
            evidence.observe(f"{table} registers via {name}", view, declared)
        for address in sorted(declared):
            seen = {name: views[name][address] for name in interfaces}
            if len(set(seen.values())) != 1:
                differences.append(f"{table}[{address}]: " +
                                   ", ".join(f"{n}={v}" for n, v in seen.items()))
    assert not differences, "interfaces disagree: " + "; ".join(differences[:10])
