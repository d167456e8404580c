"""Meter accuracy against its class (IEC 62053-21 Ed.1 Table 6 by default; the table is data:
hilbench/metrology/iec62053-21.toml): the error at every load point and power factor of the
class table, the energy error by pulse counting, the starting current and the no-load (creep)
test. Every verdict is a declared measurement (value, limit, U, decision rule) in the journal.
"""

from __future__ import annotations

import math

import pytest

from hilbench.live import until
from hilbench.measure import Declared, expanded_uncertainty

from metrology_suite import (BOOT_ALLOWANCE_S, EDITION, ELEMENTS, NO_LOAD_MARGIN, READINGS,
                             SETTLE_S, SHORT_CONSTANT_S, SHORT_ENERGY_S, SHORT_NO_LOAD_S,
                             SHORT_PULSES, SHORT_STARTING_PULSES, MeterBench, constant_type_b,
                             count_energy, current_of, energy_type_b, fastest_interface, gate,
                             load_points, point_id,
                             power_readings, power_type_b, pulses_needed, register_step,
                             watch_pulses)

NO_CURRENT_FRACTION = 0.001  # of Ib: below any class's starting current (0.001 Ib is 0.1 S's)

POINTS = load_points()


def _declared(metering: MeterBench, name: str, mpe: float, row_source: str,
              confidence: str) -> Declared:
    return Declared.symmetric(name, "percentage error of active power", "P1", mpe,
                              rule="guard_band", marginal_band=mpe / 10,
                              limit_source=f"{metering.table.standard['id']} class "
                                           f"{metering.accuracy_class}: {row_source} {confidence}")


@pytest.mark.requirement("IEC62053-21-ERR")
@pytest.mark.parametrize("point", POINTS, ids=[point_id(p) for p in POINTS])
def test_error_within_class_at_load_point(metering: MeterBench, evidence, point) -> None:
    multiple, pf = point
    current = current_of(metering, multiple)
    row = metering.limit_row(current, pf)
    true_w = metering.apply(current, pf)
    watts, stamps = power_readings(metering, READINGS)
    errors = [(w - true_w) / true_w * 100.0 for w in watts]
    measurement = evidence.measure(
        _declared(metering, f"error at {point_id(point)}", row.limit_percent, row.source,
                  row.confidence),
        errors, power_type_b(metering, true_w), timestamps_ns=stamps,
        parameters={"method": "repeated active-power readings against V x I x cos(phi)",
                    "voltage_v": metering.un_v, "current_a": current, "pf": pf,
                    "true_power_w": true_w, "readings_w": watts, "edition": EDITION})
    assert measurement.passed, measurement.summary()


ENERGY_POINTS = [(1.0, "1"), (math.inf, "1")]


@pytest.mark.requirement("IEC62053-21-ERR")
@pytest.mark.parametrize("point", ENERGY_POINTS, ids=[point_id(p) for p in ENERGY_POINTS])
def test_energy_error_by_pulse_counting(metering: MeterBench, evidence, point) -> None:
    multiple, pf = point
    current = current_of(metering, multiple)
    row = metering.limit_row(current, pf)
    full = pulses_needed(row.limit_percent)
    true_w = metering.apply(current, pf)
    rate = metering.constant * true_w / 3.6e6  # pulses per second
    pulses = min(full, max(SHORT_PULSES, math.ceil(rate * SHORT_ENERGY_S))) \
        if metering.short else full
    counted, measured_wh, brackets, seconds = count_energy(metering, pulses, true_w)
    # The edges sit inside their brackets: the reference energy between the brackets' middles.
    reference_wh = measured_wh - brackets[1] / 2 + brackets[0] / 2
    meter_wh = counted / metering.constant * 1000.0
    error = (meter_wh - reference_wh) / reference_wh * 100.0
    measurement = evidence.measure(
        _declared(metering, f"energy error at {point_id(point)}", row.limit_percent, row.source,
                  row.confidence),
        [error], energy_type_b(metering, reference_wh, brackets),
        parameters={"method": "test-output pulses against the source's reference energy",
                    "current_a": current, "pf": pf, "voltage_v": metering.un_v,
                    "pulses": counted, "reference_wh": reference_wh, "duration_s": seconds,
                    "gate": "opened and closed on the meter's pulse edges",
                    "edge_brackets_wh": brackets,
                    "meter_constant_imp_per_kwh": metering.constant,
                    "pulses_for_resolution": full, "shortened": metering.short,
                    **({"shortened_from": {"pulses": full}} if metering.short else {})})
    assert measurement.passed, measurement.summary()


@pytest.mark.requirement("IEC62053-21-START")
def test_starts_and_keeps_registering_at_the_starting_current(metering: MeterBench,
                                                              evidence) -> None:
    row = metering.table.starting_row(metering.accuracy_class)
    assert row is not None, "the class table has no starting current for this class"
    ist = row.current * metering.ib_a
    true_w = metering.apply(ist, "1")
    period_s = 3.6e6 / (metering.constant * true_w)
    needed = SHORT_STARTING_PULSES if metering.short else 2
    window = 1.5 * period_s * needed  # notes §1.8: at least 1.5 x the pulse period at Ist
    count, seconds = watch_pulses(metering, window, enough=needed)
    measurement = evidence.measure(
        Declared(name="pulses at the starting current", quantity="test-output pulses",
                 unit="C62", lower=float(needed), rule="simple_acceptance",
                 limit_source=f"{metering.table.standard['id']} class {metering.accuracy_class}"
                              f": Ist = {row.current:g} {row.base} {row.confidence}; {row.rule}"),
        [float(count)],
        parameters={"current_a": ist, "pf": "1", "voltage_v": metering.un_v,
                    "pulse_period_s": period_s, "window_s": window, "watched_s": seconds,
                    "pulses_required": needed, "shortened": metering.short,
                    **({"shortened_from": {"pulses_required": 2}} if metering.short else {})})
    assert measurement.passed, measurement.summary()


@pytest.mark.requirement("IEC62053-21-NOLOAD")
def test_no_load_gives_at_most_one_pulse(metering: MeterBench, evidence) -> None:
    row = metering.table.no_load_row(metering.accuracy_class)
    assert row is not None, "the class table has no no-load rule for this class"
    minimum_s = row.minimum_duration_s(metering.constant, ELEMENTS, metering.un_v,
                                       metering.imax_a)
    full_s = NO_LOAD_MARGIN * minimum_s
    window = min(full_s, SHORT_NO_LOAD_S) if metering.short else full_s
    metering.apply(0.0, "1", voltage_v=row.voltage_factor * metering.un_v)
    # The window opens once the meter measures no current: pulses owed to the previous load
    # point (the meter samples its terminals on its own cycle) are not the no-load test's.
    until(lambda: all(p["current_a"] <= NO_CURRENT_FRACTION * metering.ib_a
                      for p in metering.meter.instantaneous()["phases"]),
          BOOT_ALLOWANCE_S, "the meter measures no current", None)
    count, seconds = watch_pulses(metering, window)
    measurement = evidence.measure(
        Declared(name="pulses at no load", quantity="test-output pulses", unit="C62",
                 upper=float(row.max_pulses), rule="simple_acceptance",
                 limit_source=f"{metering.table.standard['id']} class {metering.accuracy_class}"
                              f" no-load: {row.source} {row.confidence}"),
        [float(count)],
        parameters={"voltage_v": row.voltage_factor * metering.un_v, "current_a": 0.0,
                    "minimum_duration_s": minimum_s, "window_s": window, "watched_s": seconds,
                    "duration_formula": row.duration_formula, "shortened": metering.short,
                    **({"shortened_from": {"window_s": full_s}} if metering.short else {})})
    assert measurement.passed, measurement.summary()


PLANNED_U_OF_LIMIT = 0.7  # the constant's gate is sized so U comes to 70 % of its limit
FULL_GATE_CEILING = 3.0  # the full method lengthens its gate to at most 3x its nominal length


def constant_gate_s(nominal_s: float, full_s: float, rate: float, limit: float,
                    first_bracket: int, short: bool) -> float:
    """The meter-constant gate's length. U scales as 1 / pulses, and most of it is the two
    edges' brackets, which a loaded host or a slow register read widens: after the first edge,
    the gate is lengthened until edges as coarse as that one leave U at PLANNED_U_OF_LIMIT of
    the limit — up to the full method's length when shortened, to FULL_GATE_CEILING x it
    otherwise. Beyond that the result is journaled and reported inconclusive."""
    u_per_pulse = expanded_uncertainty(constant_type_b(1.0, [first_bracket, first_bracket]))
    wanted_s = u_per_pulse / (PLANNED_U_OF_LIMIT * limit) / rate
    ceiling_s = full_s if short else FULL_GATE_CEILING * full_s
    return max(nominal_s, min(wanted_s, ceiling_s))


@pytest.mark.requirement("IEC62053-21-CONST")
def test_register_and_test_output_agree(metering: MeterBench, evidence) -> None:
    """The meter constant: the test output's pulses against the energy register's advance, at
    Imax, PF 1 (fastest). The gate opens and closes on the register's own steps, so the
    register's resolution drops out; the pulse counts at the steps carry the uncertainty. The
    constant they give must differ from the marking by less than 1/10 of the MPE (research
    notes metrology §1.8, French Annex 4 §3 [V])."""
    row = metering.limit_row(metering.imax_a, "1")
    limit = row.limit_percent / 10.0
    true_w = metering.apply(metering.imax_a, "1")
    rate = metering.constant * true_w / 3.6e6  # pulses per second
    full = pulses_needed(limit)  # +-1 pulse <= 1/10 of the limit
    full_s = full / rate
    nominal_s = min(full_s, SHORT_CONSTANT_S) if metering.short else full_s
    step_s = 3.6e3 / true_w * 2 + 1.0  # two register steps (1 Wh each at the EM-1), and slack
    gate(SETTLE_S)
    with fastest_interface(metering.meter) as read_over:
        start_wh, start_count, start_bracket = register_step(metering, step_s)
        seconds = constant_gate_s(nominal_s, full_s, rate, limit, start_bracket, metering.short)
        gate(seconds - step_s)
        end_wh, end_count, end_bracket = register_step(metering, step_s)
    # Each step lies inside its bracket: count between the brackets' middles.
    pulses = (end_count - end_bracket / 2) - (start_count - start_bracket / 2)
    register_wh = end_wh - start_wh
    assert pulses > 0 and register_wh > 0, (pulses, register_wh)
    constant = pulses / (register_wh / 1000.0)
    error = (constant - metering.constant) / metering.constant * 100.0
    measurement = evidence.measure(
        Declared.symmetric("meter constant: test output against the register",
                           "relative difference of the constant from its marking", "P1", limit,
                           rule="guard_band", marginal_band=limit / 10,
                           limit_source=f"1/10 of the MPE of {metering.table.standard['id']} "
                                        f"class {metering.accuracy_class} at Imax PF 1 "
                                        f"({row.source} {row.confidence}); metrology notes §1.8 "
                                        "[V]"),
        [error], constant_type_b(pulses, [start_bracket, end_bracket]),
        parameters={"method": "test-output pulses between two steps of the active-import "
                              "register",
                    "current_a": metering.imax_a, "pf": "1", "voltage_v": metering.un_v,
                    "pulses": pulses, "register_wh": register_wh,
                    "constant_imp_per_kwh": constant,
                    "marked_constant_imp_per_kwh": metering.constant,
                    "edge_brackets_pulses": [start_bracket, end_bracket],
                    "register_read_over": read_over or "the meter's default interface",
                    "pulses_for_resolution": full, "gate_s": seconds,
                    "gate_planned": {"nominal_s": nominal_s, "first_edge_bracket_pulses":
                                     start_bracket, "planned_u_of_limit": PLANNED_U_OF_LIMIT},
                    "shortened": seconds < full_s,
                    **({"shortened_from": {"seconds": full_s}} if seconds < full_s else {})})
    if measurement.expanded_uncertainty >= limit:
        # U alone spans the tolerance: the gate edges were too coarse (a meter slow to read
        # its register) for this gate to decide either way. Journaled above; no verdict.
        pytest.skip(f"inconclusive: {measurement.summary()}; the register steps were bracketed "
                    f"to {start_bracket} and {end_bracket} pulses (one read loop each): read it "
                    "faster, or run the full method (--metrology-full)")
    assert measurement.passed, measurement.summary()

