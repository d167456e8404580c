"""Fixtures and ordering every suite folder shares: the DUT as a ModbusDevice (`meter`) and each of its
Modbus interfaces (`interface` = rtu | tcp, not applicable where the bench has none). A folder
that needs the DUT as another capability defines its own `meter` (suites/metrology: a Meter)."""

from __future__ import annotations

import pytest

from hilbench.protocols import ModbusDevice
from hilbench_pytest import require


@pytest.fixture
def meter(dut) -> ModbusDevice:
    """The device under test, as the capability these suites need (any driver providing it)."""
    return require(dut, ModbusDevice)


@pytest.fixture(params=["rtu", "tcp"])
def interface(request: pytest.FixtureRequest, meter) -> str:
    if request.param not in meter.interfaces:
        pytest.skip(f"not applicable: {meter.name} has no {request.param} interface on this bench")
    return request.param


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    """The robustness suite runs last: it provokes the device on purpose (noise bursts, half
    frames, link faults), and a device that does not recover must not take the evidence of
    the other suites down with it — each claim fails on its own (docs/mutation-matrix.md)."""
    robustness = [item for item in items if "robustness" in item.path.parts]
    if robustness:
        items[:] = [item for item in items if "robustness" not in item.path.parts] + robustness
