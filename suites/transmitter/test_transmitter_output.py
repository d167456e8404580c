"""Transmitter suite, the 4-20 mA output: the loop current follows the process value on the
declared range, and the step response meets the declared dynamics (IEC 60770 / IEC 62828
quantities, ../shared/reference/metrology-crypto.md section 3.2 [M])."""

from __future__ import annotations

from typing import Any

import pytest

from hilbench.ne43 import classify_loop_current

from transmitter_suite import (SETTLING_BAND_OF_SPAN, span_of, steady_reading, step_to,
                               the_transmitter)

# The loop current may differ from the ideal 4 + 16 x by this much (0.1 % of the 16 mA
# span, plus f32 rounding); the declared error model stays well inside it.
CURRENT_TOLERANCE_MA = 0.016


@pytest.fixture
def transmitter(bench: Any) -> Any:
    return the_transmitter(bench)


@pytest.mark.requirement("HB-DATA-01")
@pytest.mark.parametrize("fraction", [0.25, 0.75])
def test_loop_current_follows_the_process_value(transmitter: Any, fraction: float) -> None:
    """The mapping only: a slow device is the step-response test's business, so the reading
    is checked whether or not it settled."""
    span = span_of(transmitter)
    _, _, deadline = step_to(transmitter, fraction)
    reading = steady_reading(transmitter, deadline)
    assert reading["unit"] == span.unit
    assert reading["status"] == "measurement"
    assert classify_loop_current(reading["loop_current_ma"]) == "measurement"
    ideal = span.ideal_current_ma(reading["process_value"])
    assert abs(reading["loop_current_ma"] - ideal) <= CURRENT_TOLERANCE_MA, (
        f"{reading['loop_current_ma']} mA for {reading['process_value']} {span.unit}; "
        f"the declared range {span.lower}..{span.upper} gives {ideal:.4f} mA")


@pytest.mark.requirement("IEC60770-1-STEP")
def test_step_response_settles_within_the_declared_time(transmitter: Any) -> None:
    """A 50 % step settles within +-1 % of span [M] by dead time + 5 time constants."""
    settled, _, _ = step_to(transmitter, 0.25)
    assert settled is not None, "the transmitter does not settle at 25 % of span at all"
    elapsed, reading, deadline = step_to(transmitter, 0.75)
    assert elapsed is not None, (
        f"still {reading['process_value']} {reading['unit']} {deadline:.2f} s after a step to "
        f"75 % of span (settling band +-{SETTLING_BAND_OF_SPAN:.0%} of span)")
