"""The shape of normal answers (Application Protocol §6): function code, byte count and data
length of reads at the edges of every table (first point, last point, the longest read the
table and the limits allow), and the echo of writes.

Raw PDUs through `transact`: the harness client would reject a malformed normal answer as a
ProtocolError (an error of the test, no verdict); judged here, it is a failure of
MODBUS-APP-RESP."""

from __future__ import annotations

import struct

import pytest

from modbus_suite import (
    COIL_OFF, COIL_ON, TABLES, WRITE_MULTIPLE_COILS, WRITE_MULTIPLE_REGISTERS, WRITE_SINGLE_COIL,
    WRITE_SINGLE_REGISTER, address_quantity, shape_problems, whole_run,
)

EDGES = ("first", "last", "longest")


def _edge_request(meter, table, edge: str) -> tuple[int, int]:
    profile = meter.profile
    if table.bits:
        points = [(b.address, 1) for b in profile.bits_in(table.name)]
    else:
        points = [(r.address, r.words) for r in profile.registers_in(table.name)]
    if not points:
        pytest.skip(f"not applicable: {meter.name} declares no {table.name} points")
    if edge == "first":
        return points[0]
    if edge == "last":
        return points[-1]
    start = points[0][0]
    return start, whole_run(profile, table, start, table.max_quantity(profile))


@pytest.mark.requirement("MODBUS-APP-RESP")
@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("table_name", sorted(TABLES))
def test_read_at_table_edge_has_its_shape(meter, interface, evidence, table_name, edge):
    table = TABLES[table_name]
    start, quantity = _edge_request(meter, table, edge)
    request = address_quantity(start, quantity)
    function, answer = meter.client(interface).transact(table.read_function, request)
    problems = shape_problems(table.read_function, request, function, answer)
    evidence.observe(f"answer to read {table_name}[{start}] x {quantity}",
                     {"function": function, "data": answer},
                     {"function": table.read_function,
                      "byte_count": len(answer) - 1 if not problems else None},
                     not problems, "; ".join(problems))
    assert not problems, f"read of {quantity} at {table_name}[{start}]: " + "; ".join(problems)


@pytest.mark.requirement("MODBUS-APP-RESP")
@pytest.mark.parametrize("function", [WRITE_SINGLE_COIL, WRITE_SINGLE_REGISTER,
                                      WRITE_MULTIPLE_COILS, WRITE_MULTIPLE_REGISTERS],
                         ids=["fc05", "fc06", "fc15", "fc16"])
def test_write_answer_echoes_the_request(meter, interface, evidence, function):
    """Writes the value the point already holds (no change), and checks the echo."""
    client = meter.client(interface)
    profile = meter.profile
    if function in (WRITE_SINGLE_COIL, WRITE_MULTIPLE_COILS):
        coils = [b for b in profile.bits_in("coil") if b.writable]
        if not coils:
            pytest.skip(f"not applicable: {meter.name} declares no writable coil")
        value = client.read_coils(coils[0].address, 1)[0]
        if function == WRITE_SINGLE_COIL:
            request = struct.pack(">HH", coils[0].address, COIL_ON if value else COIL_OFF)
        else:
            request = address_quantity(coils[0].address, 1) + bytes([1, int(value)])
    else:
        registers = [r for r in profile.registers_in("holding") if r.writable and r.words == 1]
        if not registers:
            pytest.skip(f"not applicable: {meter.name} declares no writable 16-bit register")
        value = client.read_holding_registers(registers[0].address, 1)[0]
        if function == WRITE_SINGLE_REGISTER:
            request = struct.pack(">HH", registers[0].address, value)
        else:
            request = address_quantity(registers[0].address, 1) + bytes([2]) + \
                struct.pack(">H", value)
    answer_function, answer = client.transact(function, request)
    problems = shape_problems(function, request, answer_function, answer)
    evidence.observe(f"answer to write function 0x{function:02X}",
                     {"function": answer_function, "data": answer},
                     {"function": function, "data": request if function in (
                         WRITE_SINGLE_COIL, WRITE_SINGLE_REGISTER) else request[:4]},
                     not problems, "; ".join(problems))
    assert not problems, "; ".join(problems)
