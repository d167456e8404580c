"""A lab's suite using only the plug-in's capability protocol."""

import pytest
from hb_demo_plugin import EnergyReadout


def test_energy_reads_the_declared_value(bench, evidence):
    meter = bench.find(EnergyReadout)
    declared = next(r.value for r in meter.profile.registers if r.name == meter.energy_register())
    value = meter.read_energy()
    evidence.observe("active_energy_import", value, declared, abs(value - declared) < 1e-3)
    assert value == pytest.approx(declared, abs=1e-3)
