"""Writes take effect (function codes 05, 06, 15, 16): a value the device acknowledged reads
back over the interface that wrote it. Only points the profile declares writable are written,
each with a value other than the one it holds, and restored afterwards."""

from __future__ import annotations

import pytest

from modbus_suite import WRITE_MULTIPLE_COILS, WRITE_MULTIPLE_REGISTERS, WRITE_SINGLE_COIL, \
    WRITE_SINGLE_REGISTER


def _writable_coils(meter, count: int) -> list[int]:
    coils = [b.address for b in meter.profile.bits_in("coil") if b.writable]
    if not coils:
        pytest.skip(f"not applicable: {meter.name} declares no writable coil")
    run = [coils[0]]
    while len(run) < count and run[-1] + 1 in coils:
        run.append(run[-1] + 1)
    return run


def _writable_registers(meter, count: int) -> list[int]:
    registers = [r.address for r in meter.profile.registers_in("holding")
                 if r.writable and r.words == 1]
    if not registers:
        pytest.skip(f"not applicable: {meter.name} declares no writable 16-bit register")
    run = [registers[0]]
    while len(run) < count and run[-1] + 1 in registers:
        run.append(run[-1] + 1)
    return run


@pytest.mark.requirement("MODBUS-APP-WRITE")
@pytest.mark.parametrize("function", [WRITE_SINGLE_COIL, WRITE_SINGLE_REGISTER,
                                      WRITE_MULTIPLE_COILS, WRITE_MULTIPLE_REGISTERS],
                         ids=["fc05", "fc06", "fc15", "fc16"])
def test_acknowledged_write_reads_back(meter, interface, evidence, function):
    client = meter.client(interface)
    if function in (WRITE_SINGLE_COIL, WRITE_MULTIPLE_COILS):
        addresses = _writable_coils(meter, 1 if function == WRITE_SINGLE_COIL else 8)
        before: list = client.read_coils(addresses[0], len(addresses))
        wanted: list = [not v for v in before]
        read = lambda: client.read_coils(addresses[0], len(addresses))  # noqa: E731
        if function == WRITE_SINGLE_COIL:
            write = lambda values: client.write_single_coil(addresses[0], values[0])  # noqa: E731
        else:
            write = lambda values: client.write_multiple_coils(addresses[0], values)  # noqa: E731
    else:
        addresses = _writable_registers(meter, 1 if function == WRITE_SINGLE_REGISTER else 8)
        before = client.read_holding_registers(addresses[0], len(addresses))
        wanted = [(v + 1) & 0xFFFF for v in before]
        read = lambda: client.read_holding_registers(addresses[0], len(addresses))  # noqa: E731
        if function == WRITE_SINGLE_REGISTER:
            write = lambda values: client.write_single_register(addresses[0], values[0])  # noqa: E731
        else:
            write = lambda values: client.write_multiple_registers(addresses[0], values)  # noqa: E731
    write(wanted)
    try:
        after = read()
        passed = list(after) == list(wanted)
        evidence.observe(f"read back after write function 0x{function:02X} at {addresses[0]}",
                         after, wanted, passed, f"held {before} before the write")
        assert passed, (f"function 0x{function:02X} was acknowledged, but {addresses[0]}.. "
                        f"reads {after} instead of the written {wanted}")
    finally:
        write(before)
