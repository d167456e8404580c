"""Fixtures of the robustness suite: the DUT as a ModbusDevice."""

from __future__ import annotations

import pytest

from hilbench.protocols import ModbusDevice
from hilbench_pytest import require


@pytest.fixture
def meter(dut) -> ModbusDevice:
    """The device under test, as the capability this suite needs (any driver providing it)."""
    return require(dut, ModbusDevice)
