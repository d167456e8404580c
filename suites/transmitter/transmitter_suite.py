"""Helpers of the transmitter suite (test_transmitter_*.py): the one transmitter of the
bench, and a step of the process input timed until the output settles.

Figures (settling band, NE 43 edges) are data: the settling band is the IEC 60770 /
IEC 62828 step-response "settling time to within a band (e.g. +-1 %)" [M] of
../shared/reference/metrology-crypto.md section 3.2; the NE 43 bands are hilbench.ne43's table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest

from hilbench.protocols import Transmitter, TransmitterReading

SETTLING_BAND_OF_SPAN = 0.01  # [M] +-1 % of span (IEC 62828-1 step response, example band)
# Time the bench itself may need (serial round trips at 9600 baud, ~75 ms per ASCII reading,
# and a loaded host delaying one of them): added to the device's declared response time. A
# device 50x slower than declared (the lag_too_slow knob) is still far outside it.
BENCH_ALLOWANCE_S = 1.5


def the_transmitter(bench: Any) -> Transmitter:
    """The bench's transmitter; not applicable when it has none."""
    found = [d for d in bench.devices() if d.provides(Transmitter)]
    if not found:
        pytest.skip("not applicable: the bench has no device implementing Transmitter")
    if len(found) > 1:
        pytest.fail(f"the bench has {len(found)} transmitters; this suite checks one at a time")
    return found[0]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Span:
    lower: float
    upper: float
    unit: str

    @property
    def width(self) -> float:
        return self.upper - self.lower

    def at(self, fraction: float) -> float:
        return self.lower + fraction * self.width

    def ideal_current_ma(self, value: float) -> float:
        return 4.0 + 16.0 * (value - self.lower) / self.width


def span_of(transmitter: Transmitter) -> Span:
    declared = transmitter.profile.data["range"]
    return Span(float(declared["lower"]), float(declared["upper"]), str(declared["unit"]))


def declared_response_time_s(transmitter: Transmitter) -> float:
    """Dead time + 5 time constants (within 1 % of a first-order step), from the profile."""
    response = transmitter.profile.data["response"]
    return float(response["dead_time_s"]) + 5.0 * float(response["time_constant_s"])


def settle(transmitter: Any, target: float, band: float, deadline_s: float
           ) -> tuple[float | None, TransmitterReading]:
    """Reads until the process value is within `band` of `target`, at most `deadline_s`
    seconds after the call; (seconds taken or None, last reading)."""
    start = time.monotonic()
    while True:
        reading = transmitter.reading()
        elapsed = time.monotonic() - start
        if elapsed > deadline_s:
            return None, reading
        if abs(reading["process_value"] - target) <= band:
            return elapsed, reading


STEADY_OF_SPAN = 0.001  # two readings in a row this close count as steady (0.1 % of span)


def steady_reading(transmitter: Any, deadline_s: float) -> TransmitterReading:
    """A reading taken while the output no longer moves (two readings in a row within 0.1 %
    of span), or the last one at the deadline: a protocol that reads the process value and
    the loop current in separate exchanges only agrees with itself on a steady output."""
    band = STEADY_OF_SPAN * span_of(transmitter).width
    start = time.monotonic()
    previous = transmitter.reading()
    while True:
        reading = transmitter.reading()
        if abs(reading["process_value"] - previous["process_value"]) <= band:
            return reading
        if time.monotonic() - start > deadline_s:
            return reading
        previous = reading


def step_to(transmitter: Any, fraction: float) -> tuple[float | None, TransmitterReading, float]:
    """Steps the simulated process input to `fraction` of span and waits for the output:
    (seconds to settle or None, last reading, the deadline used)."""
    span = span_of(transmitter)
    deadline = declared_response_time_s(transmitter) + BENCH_ALLOWANCE_S
    target = span.at(fraction)
    transmitter.simulate_input(target)
    elapsed, reading = settle(transmitter, target, SETTLING_BAND_OF_SPAN * span.width, deadline)
    return elapsed, reading, deadline
