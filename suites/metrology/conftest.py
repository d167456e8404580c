"""Fixtures of the metrology suite: the DUT as a Meter whose terminals a ReferenceSource (which
also counts its pulses) drives, the supply feeding it (bench keys `terminals` and `powered_by`),
the accuracy-class table that applies, and the run's duration settings (--metrology-short).
A bench that does not wire one makes the tests needing it not applicable. Each instrument is
put back in its power-on state after the test, and the meter is awaited until it answers
again, so no test inherits another's cut or load point."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from hilbench.live import LiveBench, until
from hilbench.protocols import Meter, PowerSupply, ReferenceSource
from hilbench_pytest import require

from metrology_suite import BOOT_ALLOWANCE_S, MeterBench, meter_bench


@pytest.fixture
def metering(bench: LiveBench, dut, shortened: bool) -> MeterBench:
    """The meter, the source wired to its terminals, the class table and the settings; "not
    applicable" on a bench without them."""
    return meter_bench(bench, dut, short=shortened)


@pytest.fixture
def meter(dut) -> Meter:
    return require(dut, Meter)


def _wired(bench: Any, meter: Any, key: str, protocol: type, what: str) -> Any:
    name = getattr(meter.spec, key)
    if name is None:
        pytest.skip(f"not applicable: {meter.name} has no {what} wired on this bench "
                    f"(bench key {key})")
    return require(bench.device(name), protocol)


@pytest.fixture
def source(bench, meter) -> Iterator[ReferenceSource]:
    """The reference source driving the meter's terminals; its power-on load point after."""
    source = _wired(bench, meter, "terminals", ReferenceSource, "reference source")
    yield source
    power_on = source.profile.data["power_on"]
    source.apply(voltage_v=power_on["voltage_v"], current_a=power_on["current_a"],
                 phase_deg=power_on["phase_deg"])
    source.output(bool(power_on["output"]))


@pytest.fixture
def supply(bench, meter) -> Iterator[PowerSupply]:
    """The supply feeding the meter; back on at its power-on voltage after, the meter booted."""
    supply = _wired(bench, meter, "powered_by", PowerSupply, "power supply")
    yield supply
    power_on = supply.profile.data["power_on"]
    supply.set_voltage(power_on["voltage_v"])
    supply.output(bool(power_on["output"]))
    until(lambda: meter.read_clock(), BOOT_ALLOWANCE_S, f"{meter.name} answers again", bench)
