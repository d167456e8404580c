"""Identity and one data model: what the device says it is (FC 43/14) matches what is
declared, and every interface serves the same registers.

Runs unchanged on the embedded emulated bench, a real meter, or a third-party simulator:
everything device-specific (identity, register map, unit, serial settings) comes from the
device's profile. Interfaces the bench does not offer are reported as not applicable.
"""

from __future__ import annotations

import pytest

from modbus_suite import IDENTIFICATION


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
    """Every interface serves the same registers. A register the profile declares
    free-running moves by itself on a powered, measuring device, so two reads cannot be
    expected to match: a counter (energy, clock seconds) read over another interface must lie
    between two reads over the first one, taken before and after; a free-running measurement
    (noise, a sub-second clock) is journaled, not compared (HB-DATA-01 judges it in its
    band). Every other register must read the same, word for word."""
    interfaces = meter.interfaces
    if len(interfaces) < 2:
        pytest.skip(f"not applicable: {meter.name} offers only {', '.join(interfaces)} on this bench")
    first, others = interfaces[0], interfaces[1:]
    differences = []
    for table in ("input", "holding"):
        registers = meter.profile.registers_in(table)
        declared = {r.address + i: word for r in registers for i, word in enumerate(r.raw_words())}
        blocks = _blocks(set(declared), meter.profile.max_read_registers)
        views = {name: _read_table(meter.client(name), table, blocks) for name in interfaces}
        again = _read_table(meter.client(first), table, blocks)  # brackets the counters
        for name, view in views.items():
            evidence.observe(f"{table} registers via {name}", view, declared)
        free = {r.name: r.free_running for r in registers if r.free_running}
        if free:
            evidence.observe(f"{table} registers free-running (counters bracketed by two "
                             f"{first} reads, measurements not compared)", free)
        for register in registers:
            words = range(register.address, register.address + register.words)
            if register.free_running == "measurement":
                continue
            if register.counter:
                low = register.decode([views[first][a] for a in words])
                high = register.decode([again[a] for a in words])
                for name in others:
                    value = register.decode([views[name][a] for a in words])
                    if not low <= value <= high:
                        differences.append(f"{table} {register.name}: {name}={value}, not between "
                                           f"{first}'s {low} and {high} read before and after")
                continue
            for address in words:
                seen = {name: views[name][address] for name in interfaces}
                if len(set(seen.values())) != 1:
                    differences.append(f"{table}[{address}]: " +
                                       ", ".join(f"{n}={v}" for n, v in seen.items()))
    assert not differences, "interfaces disagree: " + "; ".join(differences[:10])
