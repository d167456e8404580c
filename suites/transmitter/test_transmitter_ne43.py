"""Transmitter suite, NAMUR NE 43: a sensor failure is signalled in a failure band of the
loop current (<= 3.6 mA or >= 21.0 mA [V]) and flagged in the status the transmitter
reports (hilbench.ne43 holds the band table with its tags)."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from hilbench.ne43 import classify_loop_current, is_failure

from transmitter_suite import the_transmitter


@pytest.fixture
def failing(bench: Any) -> Iterator[Any]:
    """The transmitter with its sensor failing (simulated), restored afterwards."""
    transmitter = the_transmitter(bench)
    transmitter.simulate_sensor_fault(True)
    try:
        yield transmitter
    finally:
        transmitter.simulate_sensor_fault(False)


@pytest.mark.requirement("NE43-FAIL-BAND")
def test_sensor_failure_is_signalled_in_a_failure_band(failing: Any) -> None:
    reading = failing.reading()
    band = classify_loop_current(reading["loop_current_ma"])
    assert is_failure(band), (f"sensor failure signalled at {reading['loop_current_ma']} mA, "
                              f"in the {band} band")


@pytest.mark.requirement("NE43-STATUS")
def test_sensor_failure_is_flagged_in_the_status(failing: Any) -> None:
    reading = failing.reading()
    assert is_failure(reading["status"]), (
        f"the status says {reading['status']} while the sensor fails "
        f"({reading['loop_current_ma']} mA)")


def test_healthy_sensor_reports_measurement(bench: Any) -> None:
    transmitter = the_transmitter(bench)
    reading = transmitter.reading()
    assert reading["status"] == "measurement"
    assert classify_loop_current(reading["loop_current_ma"]) == "measurement"
