"""Helpers of the metrology suite: the bench's meter and reference source, the class table's
load points, and the measurement methods labs use (IEC 62053-21 / EN 50470-3 practice,
research notes metrology §1.5-1.9):

* error at a load point by repeated power readings: n readings of the meter's total active
  power against the applied V x I x cos(phi) x phases; Type A from the readings, Type B the
  reference source's certificate and the register resolution;
* error by energy: pulses counted by the source against the reference energy it applied,
  over a count of pulses chosen from the resolution the MPE needs (quantisation <= MPE / 10);
* starting current: pulses must come (and keep coming) at Ist, PF 1;
* no-load: at most one pulse at 1.15 Un, no current, over the standard's minimum duration;
* meter constant: pulses of the test output against the energy register's advance, the gate
  opened and closed on the register's own steps (so its resolution drops out), at Imax.

Figures come from the class table (hilbench/metrology/*.toml) and the meter's profile, never
from here. Durations can be shortened (--metrology-short); each measurement then records the
full and the shortened figures in its `parameters`.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pytest

from hilbench import accuracy_classes
from hilbench.accuracy_classes import ClassTable, LimitRow
from hilbench.live import LiveBench
from hilbench.measure import certificate, rectangular, resolution
from hilbench.protocols import Meter, PulseCounter, ReferenceSource
from hilbench_pytest import require

STANDARD = "iec62053-21"            # the class table this suite applies (hilbench/metrology)
EDITION = "Ed.1 2003, Table 6"      # rows in Ib terms: the emulated meter declares Ib, Imax
# The reference source's expanded uncertainty of applied power and energy (k = 2), percent.
# A real bench takes it from the source's calibration certificate; the emulated RS-3 applies
# exactly what it is set to, so this is the bench's stated figure, not a measured one.
REFERENCE_U_PERCENT = 0.05
REFERENCE_K = 2.0
READINGS = 10                       # repeated power readings per load point
SETTLE_READS = 1                    # readings discarded after a load change
ELEMENTS = 3                        # measuring elements of the emulated three-phase meter
NO_LOAD_MARGIN = 2.0                # labs run the no-load test for twice the minimum time
# --metrology-short (CI): these replace the full figures, and every record says so.
SHORT_PULSES = 100                  # energy-error pulses (full: 10 / MPE fraction) ...
SHORT_ENERGY_S = 10.0               # ... or as many as come in this time, if more
SHORT_NO_LOAD_S = 10.0              # no-load window (full: 2 x the standard's minimum)
SHORT_STARTING_PULSES = 1           # pulses required at Ist (full: 2: "starts and keeps")
SHORT_CONSTANT_S = 40.0             # meter-constant gate (full: as long as pulses_needed takes)


@dataclass
class MeterBench:
    meter: Meter
    source: ReferenceSource
    counter: PulseCounter
    table: ClassTable
    accuracy_class: str
    un_v: float
    ib_a: float
    imax_a: float
    constant: float
    power_resolution_w: float
    short: bool

    def apply(self, current_a: float, pf: str, voltage_v: float | None = None) -> float:
        """Applies a load point; returns the true total active power (W)."""
        phase = accuracy_classes.pf_phase_deg(pf)
        voltage = self.un_v if voltage_v is None else voltage_v
        self.source.apply(voltage_v=voltage, current_a=current_a, phase_deg=phase)
        self.source.output(True)
        return ELEMENTS * voltage * current_a * math.cos(math.radians(phase))

    def limit_row(self, current_a: float, pf: str) -> LimitRow:
        row = self.table.limit(self.accuracy_class, current_a, pf, self.ib_a, self.imax_a,
                               edition=EDITION)
        assert row is not None, f"the class table has no limit at {current_a} A, PF {pf}"
        return row

    def reference(self) -> list[dict[str, Any]]:
        return [certificate("reference source (certificate)", REFERENCE_U_PERCENT, REFERENCE_K)]


def meter_bench(bench: LiveBench, dut: Any, short: bool) -> MeterBench:
    meter = require(dut, Meter)
    terminals = bench.spec.wires(dut.spec).get("terminals")
    if terminals is None:
        pytest.skip(f"not applicable: the terminals of {dut.name} are not wired to a reference "
                    "source on this bench (bench file: terminals = \"<source>\")")
    source_device = bench.device(terminals)
    source = source_device.facet(ReferenceSource)
    counter = source_device.facet(PulseCounter)
    if source is None or counter is None:
        pytest.skip(f"not applicable: {terminals} is no ReferenceSource with a pulse input")
    spec = meter.profile.data.get("meter") or {}
    if not spec:
        pytest.skip(f"not applicable: {dut.name}'s profile declares no [meter] model")
    table = accuracy_classes.load(STANDARD)
    accuracy_class = f"{spec['accuracy_class']:g}"
    if not table.rows(accuracy_class, edition=EDITION):
        pytest.skip(f"not applicable: {table.standard['id']} ({EDITION}) has no class "
                    f"{accuracy_class}")
    return MeterBench(meter=meter, source=source, counter=counter,  # type: ignore[arg-type]
                      table=table, accuracy_class=accuracy_class,
                      un_v=float(spec["nominal_voltage_v"]), ib_a=float(spec["base_current_a"]),
                      imax_a=float(spec["max_current_a"]),
                      constant=float(meter.meter_constant_imp_per_kwh),
                      power_resolution_w=_register_resolution(meter, spec), short=short)


def _register_resolution(meter: Any, spec: dict[str, Any]) -> float:
    """The active-power register's step (W): one count of the L1 register."""
    name = (spec.get("registers") or {}).get("active_power", ["active_power_l1"])[0]
    for register in meter.profile.registers_in("input") + meter.profile.registers_in("holding"):
        if register.name == name:
            return register.resolution()
    raise AssertionError(f"the profile has no register {name!r} for active power")


# ---- load points --------------------------------------------------------------------------
def load_points(table_name: str = STANDARD, edition: str = EDITION, cls: str = "1",
                ib: float = 1.0) -> list[tuple[float, str]]:
    """(current as a multiple of Ib, PF) per row: its lower bound, and Ib and Imax for rows
    reaching Imax (IEC 62053-21 / MID test points). Multiples; "Imax" stays a marker."""
    table = accuracy_classes.load(table_name)
    points: list[tuple[float, str]] = []
    for row in table.rows(cls, edition=edition):
        for pf in row.pf:
            points.append((row.i_min, pf))
            if row.i_max == "Imax":
                points += [(1.0, pf), (math.inf, pf)]
    return sorted(set(points), key=lambda p: (p[1], p[0]))


def point_id(point: tuple[float, str]) -> str:
    multiple, pf = point
    where = "Imax" if math.isinf(multiple) else f"{multiple:g}Ib"
    return f"{where}-pf{pf.replace(' ', '')}"


def current_of(metering: MeterBench, multiple: float) -> float:
    return metering.imax_a if math.isinf(multiple) else multiple * metering.ib_a


# ---- methods ---------------------------------------------------------------------------------
def power_readings(metering: MeterBench, count: int) -> tuple[list[float], list[int]]:
    """`count` readings of the total active power (W) with their monotonic timestamps (ns)."""
    for _ in range(SETTLE_READS):
        metering.meter.instantaneous()
    values, stamps = [], []
    for _ in range(count):
        reading = metering.meter.instantaneous()
        stamps.append(time.monotonic_ns())
        values.append(sum(p["active_power_w"] for p in reading["phases"]))
    return values, stamps


def power_type_b(metering: MeterBench, true_w: float) -> list[dict[str, Any]]:
    """Reference certificate; the power registers' resolution (relative, percent). The source
    drives every phase alike, so the phases' roundings are the same and add linearly:
    sensitivity = number of elements, not its square root."""
    step_percent = metering.power_resolution_w / true_w * 100.0
    return metering.reference() + [
        resolution("power register resolution (per phase, phases correlated)", step_percent,
                   sensitivity=float(ELEMENTS))]


def pulses_needed(mpe_percent: float) -> int:
    """Quantisation (+-1 pulse) <= 1/10 of the MPE: N >= 10 / MPE fraction (notes §1.8)."""
    return math.ceil(10.0 / (mpe_percent / 100.0))


POLL_S = 0.01  # pulse-count polling near the end of a gate
SETTLE_S = 0.5  # after a load change, before an energy gate opens


def gate(seconds: float) -> None:
    """Waits out part of a counting gate: the gate's length is the measurement (a physical
    duration chosen from the resolution needed), not a synchronisation."""
    if seconds > 0:
        time.sleep(seconds)


def _edge(metering: MeterBench, within_s: float) -> tuple[int, float, float]:
    """Waits for the meter's next test-output pulse (the source's count changes) and returns
    (count, reference Wh at the first read showing it, Wh between that read and the one
    before): the pulse edge lies inside that bracket. Reads back to back, no sleep."""
    source: Any = metering.source
    count0, before = source.pulses_and_reference_energy()
    deadline = time.monotonic() + within_s
    while True:
        count, energy = source.pulses_and_reference_energy()
        if count != count0:
            return count, energy, energy - before
        if time.monotonic() > deadline:
            raise AssertionError(f"no test-output pulse within {within_s:.1f} s")
        before = energy


def count_energy(metering: MeterBench, pulses: int, true_w: float
                 ) -> tuple[int, float, list[float], float]:
    """Energy by pulses gated on the meter's own pulse edges (lab practice: the DUT's pulses
    open and close the gate, so its pulse quantisation drops out): returns (pulses between
    the edges, reference Wh between them, the two edges' brackets in Wh, seconds). The gate
    waits out most of the expected time, then catches the closing edge."""
    period_s = 3.6e6 / (metering.constant * true_w)
    metering.counter.reset_pulse_count()
    # Settle: the load is applied and the meter has registered under it for a while (the
    # pulse output's phase and rate belong to this load) before the opening edge.
    gate(SETTLE_S)
    _edge(metering, 3 * period_s + 1.0)
    first, start_wh, start_bracket = _edge(metering, 3 * period_s + 1.0)
    started = time.monotonic()
    gate(pulses * period_s - 2 * period_s - 0.05)
    while True:
        last, end_wh, end_bracket = _edge(metering, 3 * period_s + 1.0)
        if last - first >= pulses:
            return (last - first, end_wh - start_wh, [start_bracket, end_bracket],
                    time.monotonic() - started)


def watch_pulses(metering: MeterBench, seconds: float, enough: int | None = None
                 ) -> tuple[int, float]:
    """Counts pulses over `seconds` (or until `enough` have come); returns (count, seconds)."""
    metering.counter.reset_pulse_count()
    started = time.monotonic()
    while True:
        count = metering.counter.pulse_count()
        elapsed = time.monotonic() - started
        if (enough is not None and count >= enough) or elapsed >= seconds:
            return count, elapsed
        gate(min(0.25, seconds - elapsed))


@contextmanager
def fastest_interface(meter: Any) -> Iterator[str | None]:
    """Inside: a meter driver with several interfaces reads over TCP if the bench connects it.
    A gate edge's bracket is one read loop: an RTU read at 9600 baud takes tens of ms (7 pulses
    at Imax on the EM-1), a loopback TCP read about one."""
    interfaces = list(getattr(meter, "interfaces", ()) or ())
    if "tcp" not in interfaces or not hasattr(meter, "interface"):
        yield None
        return
    previous = meter.interface
    meter.interface = "tcp"
    try:
        yield "tcp"
    finally:
        meter.interface = previous


def register_step(metering: MeterBench, within_s: float) -> tuple[float, int, int]:
    """Waits for the meter's active-import register to step and returns (its reading in Wh,
    the test-output pulse count read right after the read that showed the step, pulses between
    that count and the one before): the step lies inside that bracket. Reads back to back."""
    def reading() -> float:
        return float(metering.meter.active_import_wh())

    first = reading()
    before = metering.counter.pulse_count()
    deadline = time.monotonic() + within_s
    while True:
        wh = reading()
        count = metering.counter.pulse_count()
        if wh != first:
            return wh, count, count - before
        if time.monotonic() > deadline:
            raise AssertionError(f"the energy register did not step within {within_s:.1f} s")
        before = count


def constant_type_b(pulses: float, brackets: list[int]) -> list[dict[str, Any]]:
    """Percent of the pulse count: each gate edge (a register step) known to within its bracket
    of pulses, plus the count's own resolution (one pulse) at each edge."""
    return [rectangular(f"gate edge {i + 1} (register step between two pulse reads)",
                        bracket / 2 / pulses * 100.0) for i, bracket in enumerate(brackets)] + [
        resolution(f"pulse count at gate edge {i + 1}", 1 / pulses * 100.0) for i in range(2)]


def energy_type_b(metering: MeterBench, reference_wh: float,
                  brackets_wh: list[float]) -> list[dict[str, Any]]:
    """Reference certificate; each gate edge known to within its bracket: the reference
    energy is read at the first read after the edge, so each edge adds a rectangular term of
    half-width bracket / 2 around the bracket's middle (percent of the reference energy)."""
    return metering.reference() + [
        rectangular(f"gate edge {i + 1} (pulse edge between two reads)",
                    bracket / 2 / reference_wh * 100.0)
        for i, bracket in enumerate(brackets_wh)]


# ---- a meter that reboots ------------------------------------------------------------------
# Time a meter may take to answer again after its supply returns: its boot delay is in its
# profile ([power] boot_delay_ms); this covers it plus a few timed-out polls on a loaded host.
BOOT_ALLOWANCE_S = 5.0

