"""Transmitter suite, static performance (IEC 60770-1 / IEC 62828-1 method,
../shared/reference/metrology-crypto.md section 3.2 [M]): three up-and-down traverses over
0, 25, 50, 75 and 100 % of span, each point approached from one side without overshoot (from
-5 % below the span going up, from 105 % going down), the 4-20 mA output read once the
output has settled. From those readings, each against the limit the transmitter's profile
declares ([accuracy], percent of span):
- measured error: the largest deviation of any reading from the ideal transfer line;
- non-linearity: the largest deviation of the up/down mean curve from the terminal line
  (through the mean curve at 0 and 100 %);
- hysteresis: the largest difference between mean upscale and mean downscale readings;
- non-repeatability: the largest spread of the readings at one point from one direction.
The traverse runs once per session and every test journals all its readings.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

import pytest

from hilbench.measure import Declared, rectangular, resolution

from transmitter_suite import BENCH_ALLOWANCE_S, Span, span_of, the_transmitter

POINTS = (0.0, 0.25, 0.5, 0.75, 1.0)  # fractions of span (the method's minimum set)
CYCLES = 3  # full up-and-down traverses (the method's minimum)
APPROACH = 0.05  # start each traverse this far outside the span, so no point is overshot
SETTLED_OF_SPAN = 0.00005  # two readings 2 time constants apart within 0.005 % of span
LIMIT_SOURCE = "the transmitter's declared [accuracy], IEC 60770-1 / IEC 62828-1 method [M]"


@dataclass(frozen=True)
class Traverse:
    span: Span
    # (fraction, "up" | "down", cycle) -> output in percent of span, from the loop current
    readings: dict[tuple[float, str, int], float]
    settled_within_s: float  # the longest wait for a point
    settle_bound_percent: float  # what "settled" allows, percent of span

    def error(self, fraction: float, direction: str, cycle: int) -> float:
        return self.readings[(fraction, direction, cycle)] - fraction * 100.0

    def mean(self, fraction: float, direction: str | None = None) -> float:
        return statistics.fmean(v for (f, d, _), v in self.readings.items()
                                if f == fraction and direction in (None, d))

    def as_parameters(self) -> dict[str, Any]:
        return {"method": "IEC 60770-1 / IEC 62828-1 static performance, 4-20 mA output read "
                          "over the transmitter's interface",
                "points_percent_of_span": [p * 100 for p in POINTS], "cycles": CYCLES,
                "approach_percent_of_span": APPROACH * 100,
                "readings_percent_of_span": [
                    {"point": f * 100, "direction": d, "cycle": c, "output": v}
                    for (f, d, c), v in sorted(self.readings.items())],
                "settled_within_s": self.settled_within_s, "unit": self.span.unit}


def output_percent(reading: Any) -> float:
    return (float(reading["loop_current_ma"]) - 4.0) / 16.0 * 100.0


def settle(transmitter: Any, deadline_s: float, time_constant_s: float) -> tuple[float, float]:
    """Reads until two readings sampled at least 2 time constants apart agree within
    SETTLED_OF_SPAN: (output in percent of span, seconds). The device samples a reading
    somewhere between the request and the answer, so "2 time constants apart" is counted
    from the earlier one's answer to the later one's request: a loaded host stretching an
    exchange can never make two nearly simultaneous samples look far apart. The dynamics is
    the step-response test's business: a device that does not settle by `deadline_s` makes
    this traverse inconclusive."""
    started = time.monotonic()
    answered: list[tuple[float, float]] = []  # (seconds at the answer, output)
    while True:
        asked = time.monotonic() - started
        value = output_percent(transmitter.reading())
        now = time.monotonic() - started
        earlier = [v for t, v in answered if asked - t >= 2 * time_constant_s]
        answered.append((now, value))
        if earlier and abs(value - earlier[-1]) <= SETTLED_OF_SPAN * 100:
            return value, now
        if now > deadline_s:
            pytest.skip(f"inconclusive: the output still moves {now:.1f} s after an input "
                        f"change ({value:.4f} % of span); static performance needs a settled "
                        "output (the step-response test judges the dynamics)")


@pytest.fixture(scope="module")
def traverse(bench: Any) -> Traverse:
    transmitter = the_transmitter(bench)
    span = span_of(transmitter)
    response = transmitter.profile.data["response"]
    tau = float(response["time_constant_s"])
    deadline = float(response["dead_time_s"]) + 10 * tau + BENCH_ALLOWANCE_S
    readings: dict[tuple[float, str, int], float] = {}
    longest = 0.0
    for cycle in range(1, CYCLES + 1):
        for direction, approach, points in (("up", -APPROACH, POINTS),
                                            ("down", 1 + APPROACH, tuple(reversed(POINTS)))):
            transmitter.simulate_input(span.at(approach))
            settle(transmitter, deadline, tau)
            for fraction in points:
                transmitter.simulate_input(span.at(fraction))
                value, seconds = settle(transmitter, deadline, tau)
                readings[(fraction, direction, cycle)] = value
                longest = max(longest, seconds)
    return Traverse(span, readings, longest, SETTLED_OF_SPAN * 100)


def declared_limit(bench: Any, key: str) -> float:
    accuracy = the_transmitter(bench).profile.data.get("accuracy") or {}
    limit = accuracy.get(key)
    if limit is None:
        pytest.skip(f"not applicable: the transmitter's profile declares no [accuracy] {key}")
    return float(limit)


def judge(evidence: Any, traverse: Traverse, name: str, limit: float, value: float,
          upper_only: bool = True) -> None:
    declared = Declared(name=name, quantity=f"{name}, percent of span", unit="P1",
                        upper=limit, lower=None if upper_only else -limit, rule="guard_band",
                        limit_source=LIMIT_SOURCE)
    measurement = evidence.measure(
        declared, [value],
        # Each reading is known to within the settling bound (it may still have been moving
        # that much) and the 4-20 mA reading's own resolution (f32: far below it).
        [rectangular("settling: two readings 2 time constants apart within the bound",
                     traverse.settle_bound_percent),
         resolution("loop current reading (f32 at 20 mA), percent of span",
                    2.0 ** -19 * 20.0 / 16.0 * 100.0)],
        parameters=traverse.as_parameters())
    assert measurement.passed, measurement.summary()


@pytest.mark.requirement("IEC60770-1-ERR")
def test_measured_error_within_the_declared_limit(bench: Any, traverse: Traverse,
                                                  evidence: Any) -> None:
    limit = declared_limit(bench, "measured_error_percent")
    worst = max(abs(traverse.error(f, d, c)) for f, d, c in traverse.readings)
    judge(evidence, traverse, "measured error", limit, worst)


@pytest.mark.requirement("IEC60770-1-LIN")
def test_nonlinearity_within_the_declared_limit(bench: Any, traverse: Traverse,
                                                evidence: Any) -> None:
    limit = declared_limit(bench, "nonlinearity_percent")
    low, high = traverse.mean(POINTS[0]), traverse.mean(POINTS[-1])
    worst = max(abs(traverse.mean(f) - (low + (high - low) * f)) for f in POINTS)
    judge(evidence, traverse, "non-linearity (terminal-based)", limit, worst)


@pytest.mark.requirement("IEC60770-1-HYST")
def test_hysteresis_within_the_declared_limit(bench: Any, traverse: Traverse,
                                              evidence: Any) -> None:
    limit = declared_limit(bench, "hysteresis_percent")
    worst = max(abs(traverse.mean(f, "up") - traverse.mean(f, "down")) for f in POINTS)
    judge(evidence, traverse, "hysteresis", limit, worst)


@pytest.mark.requirement("IEC60770-1-REPEAT")
def test_non_repeatability_within_the_declared_limit(bench: Any, traverse: Traverse,
                                                     evidence: Any) -> None:
    limit = declared_limit(bench, "non_repeatability_percent")
    worst = max(max(group) - min(group) for group in (
        [traverse.readings[(f, d, c)] for c in range(1, CYCLES + 1)]
        for f in POINTS for d in ("up", "down")))
    judge(evidence, traverse, "non-repeatability", limit, worst)
