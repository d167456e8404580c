"""Exception responses (Application Protocol §7): 01 for an unsupported function, 02 for an
address or range outside a table, 03 for an illegal quantity, value or byte count.

Every request here is a raw PDU (`transact`): the client refuses to build them, and the
malformed request is the point. A device that answers with data, or not at all, fails the
requirement the exception belongs to."""

from __future__ import annotations

import struct

import pytest

from modbus_suite import (
    COIL_OFF, COIL_ON, INPUT_VALIDATION, READ_COILS, READ_DISCRETE_INPUTS, READ_HOLDING,
    READ_INPUT, SPEC_MAX_QUANTITY, TABLES, UNSUPPORTED_FUNCTION, WRITE_MULTIPLE_COILS,
    WRITE_MULTIPLE_REGISTERS, WRITE_SINGLE_COIL, address_quantity, exception_outcome, recovers,
)


def _expect_exception(meter, client, evidence, what: str, function: int, data: bytes,
                      code: int) -> None:
    kind, got = exception_outcome(client, function, data)
    passed = (kind, got) == ("exception", code)
    evidence.observe(f"answer to {what}", {"outcome": kind, "value": got},
                     {"outcome": "exception", "value": code}, passed,
                     f"request function 0x{function:02X} data {data.hex()}")
    if kind == "silence":
        recovered = recovers(meter, client)
        evidence.observe("answers valid requests afterwards", recovered, True, recovered)
    assert passed, f"{what}: expected exception {code:02d}, got {kind} {got}"


@pytest.mark.requirement("MODBUS-APP-7-01", *INPUT_VALIDATION)
def test_unsupported_function_answers_exception_01(meter, interface, evidence):
    _expect_exception(meter, meter.client(interface), evidence,
                      f"unsupported function 0x{UNSUPPORTED_FUNCTION:02X}", UNSUPPORTED_FUNCTION,
                      b"", 1)


def _table(meter, name: str):
    table = TABLES[name]
    addresses = table.addresses(meter.profile)
    if not addresses:
        pytest.skip(f"not applicable: {meter.name} declares no {name.replace('_', ' ')}")
    return table, addresses


@pytest.mark.requirement("MODBUS-APP-7-02", *INPUT_VALIDATION)
@pytest.mark.parametrize("table_name", sorted(TABLES))
def test_read_past_the_end_of_a_table_answers_exception_02(meter, interface, evidence,
                                                           table_name):
    """One address past the last one the table maps."""
    table, addresses = _table(meter, table_name)
    past = max(addresses) + 1
    if past > 0xFFFF:
        pytest.skip(f"not applicable: the {table_name} table maps the last address")
    _expect_exception(meter, meter.client(interface), evidence,
                      f"read of {table_name}[{past}], one past the table", table.read_function,
                      address_quantity(past, 1), 2)


@pytest.mark.requirement("MODBUS-APP-7-02", *INPUT_VALIDATION)
@pytest.mark.parametrize("table_name", sorted(TABLES))
def test_range_crossing_the_end_of_a_table_answers_exception_02(meter, interface, evidence,
                                                                table_name):
    """A range that starts on the table's last point (a register's first word) and runs one
    address past the end: start + quantity beyond the table gives 02, not a partial answer."""
    table, addresses = _table(meter, table_name)
    if table.bits:
        start, quantity = max(addresses), 2
    else:
        last = meter.profile.registers_in(table.name)[-1]
        start, quantity = last.address, last.words + 1
    if start + quantity > 0x10000:
        pytest.skip(f"not applicable: the {table_name} table ends at the last address")
    _expect_exception(meter, meter.client(interface), evidence,
                      f"read of {table_name}[{start}..{start + quantity - 1}] across the end",
                      table.read_function, address_quantity(start, quantity), 2)


# (function, quantity kind): quantity 0 and the limit + 1 of every function with a quantity.
# FC16 has no well-formed "124 registers" request: its 248 data bytes exceed the 253-byte PDU
# (the byte-count mismatch test below covers FC16's other malformed request).
QUANTITY_CASES = [(READ_COILS, "zero"), (READ_COILS, "max+1"),
                  (READ_DISCRETE_INPUTS, "zero"), (READ_DISCRETE_INPUTS, "max+1"),
                  (READ_HOLDING, "zero"), (READ_HOLDING, "max+1"),
                  (READ_INPUT, "zero"), (READ_INPUT, "max+1"),
                  (WRITE_MULTIPLE_COILS, "zero"), (WRITE_MULTIPLE_COILS, "max+1"),
                  (WRITE_MULTIPLE_REGISTERS, "zero")]
READ_TABLE = {READ_COILS: "coils", READ_DISCRETE_INPUTS: "discrete_inputs",
              READ_HOLDING: "holding_registers", READ_INPUT: "input_registers",
              WRITE_MULTIPLE_COILS: "coils", WRITE_MULTIPLE_REGISTERS: "holding_registers"}


@pytest.mark.requirement("MODBUS-APP-7-03", *INPUT_VALIDATION)
@pytest.mark.parametrize("function, case", QUANTITY_CASES,
                         ids=[f"fc{f:02d}-{c}" for f, c in QUANTITY_CASES])
def test_illegal_quantity_answers_exception_03(meter, interface, evidence, function, case):
    table, addresses = _table(meter, READ_TABLE[function])
    start = min(addresses)
    if function in (WRITE_MULTIPLE_COILS, WRITE_MULTIPLE_REGISTERS):
        quantity = 0 if case == "zero" else SPEC_MAX_QUANTITY[function] + 1
        payload_bytes = (quantity + 7) // 8 if function == WRITE_MULTIPLE_COILS else 2 * quantity
        # Consistent byte count and data (all zero): only the quantity is wrong.
        data = address_quantity(start, quantity) + bytes([payload_bytes]) + bytes(payload_bytes)
    else:
        quantity = 0 if case == "zero" else table.max_quantity(meter.profile) + 1
        data = address_quantity(start, quantity)
    _expect_exception(meter, meter.client(interface), evidence,
                      f"function 0x{function:02X} with quantity {quantity}", function, data, 3)


@pytest.mark.requirement("MODBUS-APP-7-03", *INPUT_VALIDATION)
@pytest.mark.parametrize("function", [WRITE_MULTIPLE_COILS, WRITE_MULTIPLE_REGISTERS],
                         ids=["fc15", "fc16"])
def test_write_multiple_with_mismatched_byte_count_answers_exception_03(meter, interface,
                                                                         evidence, function):
    """Quantity 1 with a byte count (and data) one unit larger than it needs. The data is
    what the point already holds, so a device that wrongly executes it changes nothing."""
    client = meter.client(interface)
    if function == WRITE_MULTIPLE_COILS:
        coils = [b for b in meter.profile.bits_in("coil") if b.writable]
        if not coils:
            pytest.skip(f"not applicable: {meter.name} declares no writable coil")
        address = coils[0].address
        current = client.read_coils(address, 1)[0]
        data = address_quantity(address, 1) + bytes([2, int(current), 0])
    else:
        registers = [r for r in meter.profile.registers_in("holding") if r.writable and r.words == 1]
        if not registers:
            pytest.skip(f"not applicable: {meter.name} declares no writable 16-bit register")
        address = registers[0].address
        current = client.read_holding_registers(address, 1)[0]
        data = address_quantity(address, 1) + bytes([4]) + struct.pack(">HH", current, 0)
    _expect_exception(meter, client, evidence,
                      f"function 0x{function:02X}, quantity 1 with byte count {data[4]}",
                      function, data, 3)


@pytest.mark.requirement("MODBUS-APP-7-03", *INPUT_VALIDATION)
def test_write_single_coil_with_illegal_value_answers_exception_03(meter, interface, evidence):
    """FC05 takes 0xFF00 (on) or 0x0000 (off) only."""
    _, addresses = _table(meter, "coils")
    client = meter.client(interface)
    address = min(addresses)
    before = client.read_coils(address, 1)[0]
    try:
        _expect_exception(meter, client, evidence, "write single coil with value 0x1234",
                          WRITE_SINGLE_COIL, struct.pack(">HH", address, 0x1234), 3)
    finally:
        if client.read_coils(address, 1)[0] != before:  # a defective device took it
            client.transact(WRITE_SINGLE_COIL, struct.pack(">HH", address,
                                                           COIL_ON if before else COIL_OFF))
