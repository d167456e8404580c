"""Robustness under link faults (issue 10; docs/faults.md): the device keeps answering
correctly once each class of link fault is removed, acts on no corrupted frame, and still
answers after a burst of malformed frames.

Faults come from seeded plans applied through the `faults` fixture (in-process, on the
harness's own transports), so each run provokes the same faults and journals them. Under a
fault, requests go through a probe client with a short timeout (FAULTED_TIMEOUT): what
happens to them is not judged, only what the device does once the link is plain again. The
burst and flipped-bit tests write raw frames, since malformed frames are the point.

Order matters on a device with the `stops_answering_after_noise` defect: the burst test comes
last, so a device it breaks takes no other test with it.
"""

from __future__ import annotations

from typing import Any

import pytest

from hilbench import DeviceTimeout, HarnessError, ModbusClient, ModbusException, encode_rtu

FAULTED_TIMEOUT = 0.3  # seconds per probe request under a fault
READ_HOLDING, WRITE_SINGLE_REGISTER = 0x03, 0x06
INPUT_VALIDATION = ("EN303645-5.13-1B", "EN18031-GEC-6")

# One plan per class of link fault; a fixed seed each, so every run provokes the same faults.
# On a serial line each class costs the device at most two malformed frames in a row: towards
# the device only whole-chunk faults and one gap (slicing and bandwidth write a request in
# pieces, which a loaded host may space wider than t3.5 — more broken frames, by chance).
FAULT_CLASSES: dict[str, dict[str, Any]] = {
    "delay": {"seed": 101, "name": "latency, jitter, slicing, bandwidth, gap", "faults": [
        {"kind": "latency", "latency_ms": 20, "jitter_ms": 5},
        {"kind": "slicer", "direction": "to_host", "average_size": 3, "size_variation": 1,
         "delay_us": 300},
        {"kind": "bandwidth", "direction": "to_host", "rate_bytes_per_s": 4000},
        {"kind": "gap", "direction": "to_device", "gap_ms": 5}]},
    "outage": {"seed": 102, "name": "link down, then data stops", "faults": [
        {"kind": "down", "duration_s": 0.1},
        {"kind": "timeout", "start_s": 0.1}]},
    "connection_loss": {"seed": 103, "name": "connection closed in the middle of a request",
                        "faults": [{"kind": "limit_data", "direction": "to_device", "bytes": 6}]},
    "corruption": {"seed": 104, "name": "bit flips, drops, duplicates, noise, truncation",
                   "faults": [
        {"kind": "bit_flip", "bit_error_rate": 0.01},
        {"kind": "byte_drop", "rate": 0.02},
        {"kind": "byte_duplicate", "rate": 0.02},
        {"kind": "noise_burst", "direction": "to_device", "length": 4},
        {"kind": "truncate", "direction": "to_host", "keep_bytes": 4, "probability": 0.5}]},
}


def first_holding(meter) -> int:
    registers = meter.profile.registers_in("holding")
    if not registers:
        pytest.skip(f"not applicable: {meter.name} declares no holding register")
    return registers[0].address


def read_plain(meter, interface: str, first: int,
               quantity: int = 2) -> tuple[list[int] | None, str]:
    """The registers through the driver's own client, with one retry (a reconnect may lose
    the first request); (None, why) if the device does not answer correctly."""
    problem = ""
    for _ in range(2):
        try:
            return meter.client(interface).read_holding_registers(first, quantity), ""
        except (DeviceTimeout, ModbusException) as error:
            problem = str(error)
        except HarnessError as error:
            problem = str(error)
            meter.drop_transports()
    return None, problem


QUIET = 0.1  # seconds: far longer than t3.5, so frames never merge even on a loaded host


def quiet_line(transport, window: float) -> bytes:
    """Waits for the serial line to stay quiet (longer than t3.5), returns what arrived."""
    dropped, _quiet = transport.drain_until_quiet(QUIET, window + QUIET)
    return dropped


@pytest.mark.requirement("EN303645-5.9-1", "EN303645-5.9-2")
@pytest.mark.parametrize("fault_class", list(FAULT_CLASSES))
def test_keeps_answering_after_the_link_fault_is_removed(meter, faults, evidence, fault_class):
    first = first_holding(meter)
    interfaces = list(meter.interfaces)
    before = {i: meter.client(i).read_holding_registers(first, 2) for i in interfaces}
    with faults.apply(FAULT_CLASSES[fault_class], duts=[meter.name]) as applied:
        for interface in interfaces:
            probe = ModbusClient(meter.transport(interface), framing=interface,
                                 unit=meter.profile.unit, timeout=FAULTED_TIMEOUT)
            try:
                probe.read_holding_registers(first, 2)
            except HarnessError:
                pass  # under the fault anything may happen; judged is what follows
            evidence.exchanges(meter.name, probe.take_exchanges())
            del probe  # the plan's removal closes the faulted links: hold none of them
    assert applied.applied, f"the {fault_class} plan applied no fault"
    problems = []
    for interface in interfaces:
        after, problem = read_plain(meter, interface, first)
        evidence.observe(f"{interface} answers as before once the {fault_class} faults are gone",
                         after, before[interface], after == before[interface], problem)
        if after != before[interface]:
            problems.append(f"{interface}: {problem or f'read {after}, before {before[interface]}'}")
    assert not problems, "; ".join(problems)


@pytest.mark.requirement("MODBUS-SL-CRC", *INPUT_VALIDATION)
@pytest.mark.needs("modbus-rtu")
def test_write_with_a_flipped_bit_does_not_change_the_register(meter, evidence, request):
    registers = [r for r in meter.profile.registers_in("holding") if r.writable and r.words == 1]
    if not registers:
        pytest.skip(f"not applicable: {meter.name} declares no writable 16-bit register")
    address = registers[0].address
    client = meter.client("rtu")
    before = client.read_holding_registers(address, 1)[0]
    wanted = before ^ 0x0100
    frame = bytes(encode_rtu(meter.profile.unit, WRITE_SINGLE_REGISTER,
                             address.to_bytes(2, "big") + wanted.to_bytes(2, "big")))
    window = float(request.config.getoption("hilbench_timeout"))
    transport = meter.transport("rtu")
    changed = []
    # One bit flipped in the function code, then in each byte of the value: the CRC no longer
    # matches, so the device must discard the frame (executed, each would change the register).
    for byte, bit in ((1, 3), (4, 7), (5, 1)):
        corrupted = bytearray(frame)
        corrupted[byte] ^= 1 << bit
        quiet_line(transport, window)
        transport.write(bytes(corrupted), window)
        answer = quiet_line(transport, window)
        words, problem = read_plain(meter, "rtu", address, 1)
        after = words[0] if words else None
        evidence.observe(f"register {address} after a write with bit {bit} of byte {byte} "
                         "flipped", after, before, after == before, problem or answer.hex())
        if after != before:
            changed.append(f"byte {byte} bit {bit}: register became {after} {problem}")
            if after is not None:
                client.write_single_register(address, before)  # restore for the next probe
    assert not changed, "the device acted on corrupted writes: " + "; ".join(changed)


@pytest.mark.requirement("CRA-I.2(h)")
@pytest.mark.needs("modbus-rtu")
def test_still_answers_after_a_burst_of_malformed_frames(meter, evidence, request):
    first = first_holding(meter)
    client = meter.client("rtu")
    before = client.read_holding_registers(first, 2)
    window = float(request.config.getoption("hilbench_timeout"))
    good = bytes(encode_rtu(meter.profile.unit, READ_HOLDING,
                            first.to_bytes(2, "big") + (2).to_bytes(2, "big")))
    other = (meter.profile.unit + 0x55) % 256 or 0x55  # noise never starts with the own address
    burst = [good[:3], bytes([other, 0xAA, 0x01, 0x99, 0x12, 0x7E]), good[:-1] + bytes([good[-1] ^ 0xFF]),
             bytes([other]) * 9, good[:5], bytes([other, 0xFF])]
    transport = meter.transport("rtu")
    for frame in burst:
        quiet_line(transport, window)
        transport.write(frame, window)
    quiet_line(transport, window)
    after, problem = read_plain(meter, "rtu", first)
    evidence.observe(f"answers after a burst of {len(burst)} malformed frames", after, before,
                     after == before, problem)
    assert after == before, f"no correct answer after the burst: {problem or after}"
