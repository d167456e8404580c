"""Values against the declared data model: every register and bit the profile declares is
read on its own, decoded with the declared type, word order and scaling, and judged: a static
value must read exactly as declared, a live measurement must lie within its declared band."""

from __future__ import annotations

import pytest


@pytest.mark.requirement("HB-DATA-01")
def test_values_match_the_declared_data_model(meter, interface, evidence):
    client = meter.client(interface)
    profile = meter.profile
    wrong = []
    for register in profile.registers_in("input") + profile.registers_in("holding"):
        read = client.read_input_registers if register.table == "input" else \
            client.read_holding_registers
        words = read(register.address, register.words)
        value = register.decode(words)
        name = f"{register.table}[{register.address}] {register.name} ({register.unit})"
        if register.band is not None:
            low, high = register.band
            passed = low <= value <= high
            expected: object = {"min": low, "max": high}
            rule = "live measurement: within the declared band"
        else:
            passed = list(words) == register.raw_words()
            expected = {"value": register.value, "words": register.raw_words()}
            rule = (f"static value: exact ({register.type}, {register.word_order} word order, "
                    f"scale {register.scale:g})")
        evidence.observe(name, {"value": value, "words": list(words)}, expected, passed, rule)
        if not passed:
            wrong.append(f"{name} reads {value:g} (words {list(words)}), declared {expected}")
    for bit in profile.bits_in("coil") + profile.bits_in("discrete_input"):
        read_bits = client.read_coils if bit.table == "coil" else client.read_discrete_inputs
        value = read_bits(bit.address, 1)[0]
        passed = value == bit.value
        evidence.observe(f"{bit.table}[{bit.address}] {bit.name}", value, bit.value, passed,
                         "static value: exact")
        if not passed:
            wrong.append(f"{bit.table}[{bit.address}] {bit.name} reads {value}, declared {bit.value}")
    assert not wrong, f"{len(wrong)} values differ from the declared data model: " + \
        "; ".join(wrong[:10])
