"""Declared measurements: a measurement is declared (name, quantity, unit, limits, marginal
band, decision rule), not computed ad hoc, and its journal record is plain data from which
the verdict can be re-derived (`rederive`).

The arithmetic is the C++ core's (harness/measure, `hilbench._core.measure`): statistics of
the readings, the GUM uncertainty budget (Type A s/sqrt(n); Type B certificate U/k,
rectangular a/sqrt(3), resolution d/(2 sqrt(3)); combined; expanded with k = 2) and the
ILAC-G8 decision rules (`simple_acceptance`; `guard_band` with w = U, non-binary: "pass",
"conditional pass", "conditional fail", "fail" — a result inside the guard band is never
reported as a pass). The record shape is documented in docs/journal-schema.md
(`measurement`, MEASUREMENT_SCHEMA).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from . import _core
from ._core import ConfigError

MEASUREMENT_SCHEMA = 1
RULES = ("simple_acceptance", "guard_band")
VERDICTS = ("pass", "fail", "conditional pass", "conditional fail")

# The fixed unit table: UNECE Recommendation 20 common codes -> (symbol, name).
UNITS: dict[str, tuple[str, str]] = {
    "VLT": ("V", "volt"),
    "AMP": ("A", "ampere"),
    "4K": ("mA", "milliampere"),
    "WTT": ("W", "watt"),
    "KWT": ("kW", "kilowatt"),
    "WHR": ("Wh", "watt hour"),
    "KWH": ("kWh", "kilowatt hour"),
    "HTZ": ("Hz", "hertz"),
    "SEC": ("s", "second"),
    "C26": ("ms", "millisecond"),
    "P1": ("%", "percent"),
    "DD": ("°", "degree (angle)"),
    "BAR": ("bar", "bar"),
    "CEL": ("°C", "degree Celsius"),
    "C62": ("1", "one (a count, dimensionless)"),
    "59": ("ppm", "part per million"),
}


def certificate(name: str, expanded: float, k: float = 2.0, sensitivity: float = 1.0
                ) -> dict[str, Any]:
    """A Type B input from a calibration certificate: expanded uncertainty U stated with k."""
    return {"name": name, "distribution": "normal", "input": float(expanded), "divisor": float(k),
            "sensitivity": float(sensitivity)}


def rectangular(name: str, half_width: float, sensitivity: float = 1.0) -> dict[str, Any]:
    """A Type B input known only as a half-width a (a / sqrt(3))."""
    return {"name": name, "distribution": "rectangular", "input": float(half_width),
            "sensitivity": float(sensitivity)}


def resolution(name: str, step: float, sensitivity: float = 1.0) -> dict[str, Any]:
    """A Type B input: the resolution d of an indication (one digit, one pulse): d / (2 sqrt 3)."""
    return {"name": name, "distribution": "resolution", "input": float(step),
            "sensitivity": float(sensitivity)}


def expanded_uncertainty(type_b: Sequence[Mapping[str, Any]], k: float = 2.0) -> float:
    """U of a budget of Type B inputs alone (no readings' scatter): what a measurement planned
    with these inputs will state, e.g. to size a counting gate before opening it."""
    return float(_core.measure.budget([0.0], [dict(c) for c in type_b], k)["expanded"])


@dataclass(frozen=True)
class Declared:
    """What is measured and how it is judged. `lower`/`upper` bound the tolerance interval
    (None: unbounded on that side); `marginal_band`: a passing value closer than this to a
    limit is flagged marginal; `limit_source`: where the limit comes from (standard, clause,
    confidence tag of the figure)."""

    name: str
    quantity: str
    unit: str
    lower: float | None = None
    upper: float | None = None
    rule: str = "guard_band"
    marginal_band: float = 0.0
    limit_source: str = ""

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ConfigError(f"measurement {self.name!r}: unit {self.unit!r} is not in the unit "
                              f"table (UNECE Rec 20: {', '.join(sorted(UNITS))})")
        if self.rule not in RULES:
            raise ConfigError(f"measurement {self.name!r}: decision rule {self.rule!r} is not one "
                              f"of {', '.join(RULES)}")
        if self.lower is None and self.upper is None:
            raise ConfigError(f"measurement {self.name!r}: no limit declared")
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ConfigError(f"measurement {self.name!r}: lower limit above the upper")
        if self.marginal_band < 0:
            raise ConfigError(f"measurement {self.name!r}: negative marginal band")

    @classmethod
    def symmetric(cls, name: str, quantity: str, unit: str, limit: float, **kw: Any) -> Declared:
        """Limits ±limit (an MPE)."""
        return cls(name=name, quantity=quantity, unit=unit, lower=-abs(limit), upper=abs(limit),
                   **kw)


@dataclass(frozen=True)
class Measurement:
    """A judged measurement; `record` is its journal data."""

    record: dict[str, Any] = field(repr=False)

    @property
    def verdict(self) -> str:
        return str(self.record["verdict"])

    @property
    def value(self) -> float:
        return float(self.record["value"])

    @property
    def expanded_uncertainty(self) -> float:
        return float(self.record["budget"]["expanded"])

    @property
    def passed(self) -> bool:
        """Only an unconditional pass."""
        return self.verdict == "pass"

    def summary(self) -> str:
        """One line for a failure message: value, U, limits, rule, verdict."""
        r = self.record
        symbol = UNITS[r["unit"]][0]
        limits = f"[{_fmt(r['limits']['lower'])}, {_fmt(r['limits']['upper'])}] {symbol}"
        return (f"{r['name']}: {r['value']:+.4g} {symbol} ± {r['budget']['expanded']:.3g} "
                f"(k = {r['budget']['k']:g}), limits {limits}, rule {r['rule']}: {r['verdict']}")


def _fmt(value: float | None) -> str:
    return "-inf" if value is None else f"{value:+.4g}"


def evaluate(declared: Declared, readings: Sequence[float], type_b: Sequence[Mapping[str, Any]] = (),
             *, timestamps_ns: Sequence[int] | None = None, k: float = 2.0,
             parameters: Mapping[str, Any] | None = None, nodeid: str | None = None
             ) -> Measurement:
    """Judges `readings` (the value is their mean) with the Type A uncertainty of the readings
    (n >= 2) and the Type B inputs `type_b`; returns the measurement with its record.
    `parameters`: what the test applied and how (load point, duration, shortened settings)."""
    values = [float(v) for v in readings]
    if not values:
        raise ConfigError(f"measurement {declared.name!r}: no readings")
    if timestamps_ns is not None and len(timestamps_ns) != len(values):
        raise ConfigError(f"measurement {declared.name!r}: {len(timestamps_ns)} timestamps for "
                          f"{len(values)} readings")
    stats = _core.measure.statistics(values)
    budget = _core.measure.budget(values, [dict(c) for c in type_b], k)
    value = stats["mean"]
    verdict = _core.measure.decide(value, declared.lower, declared.upper, budget["expanded"],
                                   declared.rule)
    record: dict[str, Any] = {
        "measurement_schema": MEASUREMENT_SCHEMA,
        "nodeid": nodeid,
        "name": declared.name, "quantity": declared.quantity, "unit": declared.unit,
        "unit_symbol": UNITS[declared.unit][0],
        "readings": values,
        "timestamps_ns": [int(t) for t in timestamps_ns] if timestamps_ns is not None else None,
        "statistics": stats,
        "value": value,
        "budget": budget,
        "limits": {"lower": declared.lower, "upper": declared.upper,
                   "source": declared.limit_source},
        "marginal_band": declared.marginal_band,
        "marginal": _marginal(value, declared, verdict),
        "rule": declared.rule,
        "verdict": verdict,
        "parameters": dict(parameters or {}),
    }
    return Measurement(record)


def _marginal(value: float, declared: Declared, verdict: str) -> bool:
    if verdict != "pass" or declared.marginal_band <= 0:
        return False
    gaps = [value - declared.lower] if declared.lower is not None else []
    gaps += [declared.upper - value] if declared.upper is not None else []
    return min(gaps) < declared.marginal_band


def rederive(data: Mapping[str, Any], rel_tol: float = 1e-9) -> list[str]:
    """Re-derives a `measurement` record's value, uncertainty and verdict from its readings,
    its Type B inputs, its limits and its rule; one line per disagreement ([] = consistent)."""
    try:
        readings = [float(v) for v in data["readings"]]
        budget = data["budget"]
        type_b = [c for c in budget["contributions"] if c["distribution"] != "type_a"]
        limits = data["limits"]
        again = evaluate(Declared(name=str(data["name"]), quantity=str(data["quantity"]),
                                  unit=str(data["unit"]), lower=limits["lower"],
                                  upper=limits["upper"], rule=str(data["rule"]),
                                  marginal_band=float(data.get("marginal_band") or 0.0)),
                         readings, type_b, k=float(budget["k"]))
    except (KeyError, TypeError, ValueError, ConfigError) as error:
        return [f"measurement {data.get('name')!r}: cannot be re-derived: {error}"]
    problems = []
    derived = again.record
    for label, recorded, computed in (
            ("value", data["value"], derived["value"]),
            ("combined uncertainty", budget.get("combined"), derived["budget"]["combined"]),
            ("expanded uncertainty U", budget.get("expanded"), derived["budget"]["expanded"])):
        if not isinstance(recorded, (int, float)) or not math.isclose(
                recorded, computed, rel_tol=rel_tol, abs_tol=1e-15):
            problems.append(f"measurement {data['name']!r}: recorded {label} {recorded!r}, "
                            f"re-derived {computed!r}")
    if data.get("verdict") != derived["verdict"]:
        problems.append(f"measurement {data['name']!r}: recorded verdict {data.get('verdict')!r}, "
                        f"re-derived {derived['verdict']!r} (value {derived['value']:.6g}, "
                        f"U {derived['budget']['expanded']:.3g}, rule {data['rule']})")
    return problems
