"""What the Modbus interface suite's test files share: fixtures' helpers, the spec's limits,
raw request building and the response-shape rules (Modbus Application Protocol V1.1b3 §6).

Raw PDUs go through `ModbusClient.transact`, which checks framing and addressing only (RTU
address and CRC; MBAP transaction id, protocol id, length and unit) and hands the PDU back
as received: the shape of a normal answer is judged here, against the request, so a bad
byte count is a finding of MODBUS-APP-RESP and not a harness error.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from hilbench import DeviceTimeout, ModbusException
from hilbench.profile import DeviceProfile

READ_COILS, READ_DISCRETE_INPUTS, READ_HOLDING, READ_INPUT = 0x01, 0x02, 0x03, 0x04
WRITE_SINGLE_COIL, WRITE_SINGLE_REGISTER = 0x05, 0x06
WRITE_MULTIPLE_COILS, WRITE_MULTIPLE_REGISTERS = 0x0F, 0x10
# A function code in the user-defined range 65..72 (Application Protocol §5): no public
# function, so a conforming device that has not implemented it answers exception 01.
UNSUPPORTED_FUNCTION = 0x41

# Quantity limits of the spec per function code (metrology-crypto.md §5.1, [V] libmodbus).
SPEC_MAX_QUANTITY = {READ_COILS: 2000, READ_DISCRETE_INPUTS: 2000, READ_HOLDING: 125,
                     READ_INPUT: 125, WRITE_MULTIPLE_COILS: 1968, WRITE_MULTIPLE_REGISTERS: 123}
COIL_ON, COIL_OFF = 0xFF00, 0x0000

IDENTIFICATION = ("MODBUS-APP-6.21", "EN303645-5.3-16", "US-8425-D1", "US-8259A-1", "JP-S1.1-16",
                  "WELMEC-P2")
INPUT_VALIDATION = ("EN303645-5.13-1B", "EN18031-GEC-6")


@dataclass(frozen=True)
class Table:
    """One Modbus data table as the profile declares it."""

    name: str          # "coil" | "discrete_input" | "holding" | "input" (profile names)
    read_function: int
    bits: bool

    def addresses(self, profile: DeviceProfile) -> list[int]:
        if self.bits:
            return [b.address for b in profile.bits_in(self.name)]
        return sorted(profile.mapped_addresses(self.name))

    def max_quantity(self, profile: DeviceProfile) -> int:
        """The largest quantity one read may ask for: the spec's, or the profile's lower one."""
        limit = profile.max_read_bits if self.bits else profile.max_read_registers
        return min(SPEC_MAX_QUANTITY[self.read_function], limit)


TABLES = {
    "coils": Table("coil", READ_COILS, True),
    "discrete_inputs": Table("discrete_input", READ_DISCRETE_INPUTS, True),
    "holding_registers": Table("holding", READ_HOLDING, False),
    "input_registers": Table("input", READ_INPUT, False),
}


def address_quantity(address: int, quantity: int) -> bytes:
    return struct.pack(">HH", address, quantity)


def expected_byte_count(function: int, quantity: int) -> int:
    return (quantity + 7) // 8 if function in (READ_COILS, READ_DISCRETE_INPUTS) else 2 * quantity


def shape_problems(function: int, request: bytes, answer_function: int,
                   answer: bytes) -> list[str]:
    """What is wrong with a normal answer to `function`/`request` (empty: nothing)."""
    if answer_function == function | 0x80:
        return [f"exception {answer.hex() or '(no code)'} where a normal answer was expected"]
    if answer_function != function:
        return [f"function 0x{answer_function:02X} answers request function 0x{function:02X}"]
    if function in (READ_COILS, READ_DISCRETE_INPUTS, READ_HOLDING, READ_INPUT):
        quantity = struct.unpack(">H", request[2:4])[0]
        expected = expected_byte_count(function, quantity)
        problems = []
        if not answer or answer[0] != expected:
            problems.append(f"byte count {answer[0] if answer else None} where {expected} "
                            f"was expected for {quantity} "
                            f"{'bits' if function <= READ_DISCRETE_INPUTS else 'registers'}")
        if len(answer) != 1 + expected:
            problems.append(f"{len(answer) - 1 if answer else 0} data bytes follow where "
                            f"{expected} were expected")
        return problems
    if function in (WRITE_SINGLE_COIL, WRITE_SINGLE_REGISTER):
        return [] if answer == request else [f"answer {answer.hex()} does not echo the request "
                                             f"{request.hex()}"]
    if function in (WRITE_MULTIPLE_COILS, WRITE_MULTIPLE_REGISTERS):
        return [] if answer == request[:4] else [
            f"answer {answer.hex()} does not echo address and quantity {request[:4].hex()}"]
    return []


def exception_outcome(client: Any, function: int, data: bytes) -> tuple[str, Any]:
    """Sends one raw PDU; ("exception", code) | ("answer", data hex) | ("silence", detail)."""
    try:
        answer_function, answer = client.transact(function, data)
    except DeviceTimeout as error:
        return "silence", str(error)
    if answer_function == function | 0x80 and len(answer) == 1:
        return "exception", answer[0]
    return "answer", {"function": answer_function, "data": answer.hex()}


def recovers(meter: Any, client: Any, attempts: int = 3) -> bool:
    """After a request went unanswered: does the device answer a valid one again? Some stacks
    keep the unanswered bytes and lose the next frame with them; absorbing that here keeps the
    knock-on failure in the test that caused it instead of the next test."""
    first = first_register(meter.profile)
    for _ in range(attempts):
        try:
            client.read_holding_registers(first, 1) if first is not None else \
                client.read_device_identification("basic")
            return True
        except DeviceTimeout:
            continue
        except ModbusException:
            return True
    return False


def first_register(profile: DeviceProfile) -> int | None:
    registers = profile.registers_in("holding")
    return registers[0].address if registers else None


def contiguous_run(addresses: list[int], start: int, limit: int) -> int:
    """How many addresses from `start` on are mapped without a gap (at most `limit`)."""
    present = set(addresses)
    count = 0
    while count < limit and start + count in present:
        count += 1
    return count


def whole_run(profile: DeviceProfile, table: Table, start: int, limit: int) -> int:
    """Quantity of the longest read from `start` that stays inside the map and cuts no
    32-bit register in half (at most `limit`)."""
    if table.bits:
        return contiguous_run(table.addresses(profile), start, limit)
    quantity = 0
    for register in profile.registers_in(table.name):
        if register.address < start:
            continue
        if register.address != start + quantity or quantity + register.words > limit:
            break
        quantity += register.words
    return quantity
