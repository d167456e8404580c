"""Timing measurements from the transport's own chunk timestamps (the C++ core:
harness/include/hilbench/measure/latency.hpp, histogram.hpp): timed exchanges with their
latency histograms, and DUT clock readings with offset, drift and their uncertainty.

Everything here returns plain data (dicts, JSON-ready) for the journal; verdicts are the
suites' (suites/timing). What host timestamps can and cannot resolve: docs/timing.md.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Callable

from hilbench._core import LatencyHistogram, Transport, exchange_timings

SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class TimedExchanges:
    """Exchanges run under a chunk capture: per-exchange timing dicts (exchange_timings) and
    the histograms of request end -> first and -> last answer byte (ns)."""

    exchanges: list[dict[str, Any]]
    to_first: LatencyHistogram
    to_last: LatencyHistogram

    def plot_data(self, what: str) -> dict[str, Any]:
        """The latency histograms as journal data (for the report's latency plot)."""
        return {"plot": "latency-histogram", "what": what, "unit": "ns",
                "to_first_byte": self.to_first.to_json(), "to_last_byte": self.to_last.to_json()}


def timed(transport: Transport, run: Callable[[], Any], count: int,
          character_time: float | None = None) -> TimedExchanges:
    """Runs `run` `count` times with the transport's chunks captured, and splits the capture
    into exchanges (each call of `run` must be one request and its answer). With a serial
    line's `character_time` (s) each exchange also has its line idle estimates."""
    capture = transport.start_capture()
    try:
        for _ in range(count):
            run()
        chunks = capture.drain()
    finally:
        transport.stop_capture()
    exchanges = exchange_timings(chunks, character_time)
    to_first, to_last = LatencyHistogram(), LatencyHistogram()
    for exchange in exchanges:
        if exchange["answered"]:
            to_first.record_ns(exchange["to_first_ns"])
            to_last.record_ns(exchange["to_last_ns"])
    return TimedExchanges(exchanges, to_first, to_last)


@dataclass(frozen=True)
class ClockReading:
    """One read of the DUT's clock, placed in host time.

    The DUT sampled its clock somewhere between the request's last byte written and the
    answer's first byte read (chunk timestamps): the host instant is that interval's
    midpoint, with a rectangular uncertainty over its width. The reading is truncated to the
    clock's `resolution_s`: half of it is added back, with a rectangular uncertainty too."""

    host_monotonic_ns: int     # midpoint of request end .. first answer byte
    host_realtime_s: float     # the same instant on the host's UTC clock (CLOCK_REALTIME)
    dut_s: float               # the DUT's clock (seconds since 1970 UTC), resolution corrected
    window_ns: int             # request end .. first answer byte
    resolution_s: float

    @property
    def offset_s(self) -> float:
        """DUT clock minus host clock (+ = the DUT is ahead)."""
        return self.dut_s - self.host_realtime_s

    @property
    def u_s(self) -> float:
        """Standard uncertainty of the reading's placement in host time (s)."""
        return math.hypot(self.window_ns / 1e9, self.resolution_s) / math.sqrt(12.0)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "offset_s": self.offset_s, "u_s": self.u_s}


def read_clock(transport: Transport, read: Callable[[], datetime],
               resolution_s: float) -> ClockReading:
    """Reads the DUT's clock once through `read` (one exchange on `transport`)."""
    capture = transport.start_capture()
    try:
        when = read()
        chunks = capture.drain()
    finally:
        transport.stop_capture()
    realtime_ns, monotonic_ns = time.time_ns(), time.monotonic_ns()
    answered = [e for e in exchange_timings(chunks) if e["answered"]]
    if not answered:
        raise RuntimeError(f"the clock read left no answered exchange in the capture of "
                           f"{transport.name}: {chunks!r}")
    exchange = answered[-1]
    middle = (exchange["request_end_ns"] + exchange["response_first_ns"]) // 2
    return ClockReading(host_monotonic_ns=middle,
                        host_realtime_s=(realtime_ns - (monotonic_ns - middle)) / 1e9,
                        dut_s=when.timestamp() + resolution_s / 2,
                        window_ns=exchange["to_first_ns"], resolution_s=resolution_s)


def drift(first: ClockReading, last: ClockReading) -> dict[str, Any]:
    """The DUT clock's rate error between two readings, in s/day, with its standard and
    expanded (k = 2) uncertainty from both readings' placement uncertainties."""
    host_s = (last.host_monotonic_ns - first.host_monotonic_ns) / 1e9
    if host_s <= 0:
        raise ValueError("the second clock reading is not after the first")
    dut_s = last.dut_s - first.dut_s
    rate = (dut_s - host_s) / host_s
    u_rate = math.hypot(first.u_s, last.u_s) / host_s
    return {"window_s": host_s, "drift_s_per_day": rate * SECONDS_PER_DAY,
            "drift_ppm": rate * 1e6, "u_s_per_day": u_rate * SECONDS_PER_DAY,
            "U_s_per_day": 2 * u_rate * SECONDS_PER_DAY, "k": 2,
            "offset_start_s": first.offset_s, "offset_end_s": last.offset_s}
