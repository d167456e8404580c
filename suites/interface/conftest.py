"""Fixtures of the Modbus interface suite: the DUT as a ModbusDevice, and each interface."""

from __future__ import annotations

import pytest

from hilbench.protocols import ModbusDevice
from hilbench_pytest import require


@pytest.fixture
def meter(dut) -> ModbusDevice:
    """The device under test, as the capability this suite needs (any driver providing it)."""
    return require(dut, ModbusDevice)


@pytest.fixture(params=["rtu", "tcp"])
def interface(request: pytest.FixtureRequest, meter) -> str:
    if request.param not in meter.interfaces:
        pytest.skip(f"not applicable: {meter.name} has no {request.param} interface on this bench")
    return request.param
