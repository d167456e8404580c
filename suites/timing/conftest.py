"""Fixtures of the timing suite: the timing resolution every verdict states (the DUT as a
ModbusDevice and its interfaces come from suites/conftest.py)."""

from __future__ import annotations

import os

import pytest

# What host chunk timestamps resolve on the emulated serial ports (docs/timing.md: reader
# and relay wake-up jitter). A verdict fails only beyond the limit by more than this, and
# says so. Override for another host: HILBENCH_TIMING_RESOLUTION_US.
DEFAULT_RESOLUTION_US = 250


@pytest.fixture
def resolution_ns() -> int:
    return int(float(os.environ.get("HILBENCH_TIMING_RESOLUTION_US", DEFAULT_RESOLUTION_US))
               * 1000)
