"""Accuracy-class tables as data: one TOML per standard in hilbench/metrology/ (IEC 62053-21,
IEC 62053-22, EN 50470-3 / MID, ANSI C12.20). Figures live only there, each row with its
source and confidence tag; tests/test_accuracy_classes.py checks every row against the
research notes it was taken from.

Format (keys of a file):
  [standard]  id, title, requirement_error / _starting / _no_load (catalog IDs), source, note
  [[limit]]   class, edition, connection ("direct" | "CT"), base (the current the bounds are
              multiples of: Ib, In, Itr, Iref, TA), i_min (inclusive), i_max (a multiple, or
              "Imax"), i_max_inclusive, pf (list: "1", "0.5 ind", "0.8 cap"), limit_percent
              (the MPE, ±), confidence, source, ref (where the figure sits in the notes)
  [[starting]] class, connection, base, current (multiple of base), confidence, source, rule
  [[no_load]]  class, edition, voltage_factor (x Un), max_pulses, duration_constant (C),
              duration_formula, confidence, source
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ._core import ConfigError

TABLE_DIR = Path(str(resources.files("hilbench") / "metrology"))
PF_ANGLE_SIGN = {"ind": -1.0, "cap": 1.0}  # phase of the current against the voltage


@dataclass(frozen=True)
class LimitRow:
    cls: str
    edition: str
    connection: str
    base: str
    i_min: float
    i_max: float | str
    i_max_inclusive: bool
    pf: tuple[str, ...]
    limit_percent: float
    confidence: str
    source: str

    def current_range_a(self, base_a: float, imax_a: float) -> tuple[float, float]:
        upper = imax_a if self.i_max == "Imax" else float(self.i_max) * base_a
        return self.i_min * base_a, upper

    def covers(self, current_a: float, pf: str, base_a: float, imax_a: float) -> bool:
        low, high = self.current_range_a(base_a, imax_a)
        above = current_a >= low - 1e-12
        below = current_a <= high + 1e-12 if self.i_max_inclusive else current_a < high - 1e-12
        return pf in self.pf and above and below


@dataclass(frozen=True)
class StartingRow:
    cls: str
    connection: str
    base: str
    current: float
    confidence: str
    source: str
    rule: str


@dataclass(frozen=True)
class NoLoadRow:
    cls: str
    edition: str
    voltage_factor: float
    max_pulses: int
    duration_constant: float
    duration_formula: str
    confidence: str
    source: str

    def minimum_duration_s(self, constant_imp_per_kwh: float, elements: int, un_v: float,
                           current_a: float) -> float:
        """C x 10^6 / (k m Un I) minutes, in seconds (I: Imax for Ed.1, Ist for EN 50470-3)."""
        return self.duration_constant * 1e6 / (constant_imp_per_kwh * elements * un_v
                                               * current_a) * 60.0


@dataclass(frozen=True)
class ClassTable:
    standard: dict[str, Any]
    limits: tuple[LimitRow, ...]
    starting: tuple[StartingRow, ...]
    no_load: tuple[NoLoadRow, ...]
    path: Path

    def limit(self, cls: str, current_a: float, pf: str, base_a: float, imax_a: float,
              edition: str | None = None, connection: str = "direct") -> LimitRow | None:
        """The row that applies at this load point (None: the class sets no limit there)."""
        for row in self.limits:
            if (row.cls == cls and row.connection == connection
                    and (edition is None or row.edition == edition)
                    and row.covers(current_a, pf, base_a, imax_a)):
                return row
        return None

    def rows(self, cls: str, edition: str | None = None,
             connection: str = "direct") -> list[LimitRow]:
        return [r for r in self.limits if r.cls == cls and r.connection == connection
                and (edition is None or r.edition == edition)]

    def starting_row(self, cls: str, connection: str = "direct") -> StartingRow | None:
        return next((r for r in self.starting if r.cls == cls and r.connection == connection),
                    None)

    def no_load_row(self, cls: str) -> NoLoadRow | None:
        return next((r for r in self.no_load if r.cls == cls), None)


def pf_phase_deg(pf: str) -> float:
    """The phase angle (degrees, current against voltage) of a power factor text: "1" -> 0,
    "0.5 ind" -> -60 (current lagging), "0.8 cap" -> +36.87."""
    parts = pf.split()
    value = float(parts[0])
    sign = PF_ANGLE_SIGN[parts[1]] if len(parts) > 1 else 1.0
    return sign * math.degrees(math.acos(value))


def load(name: str, directory: Path | None = None) -> ClassTable:
    """The table of one standard by file stem ("iec62053-21") or path."""
    path = Path(name) if name.endswith(".toml") else (directory or TABLE_DIR) / f"{name}.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return ClassTable(
            standard=dict(data["standard"]),
            limits=tuple(LimitRow(
                cls=r["class"], edition=r["edition"], connection=r["connection"], base=r["base"],
                i_min=float(r["i_min"]), i_max=r["i_max"] if r["i_max"] == "Imax"
                else float(r["i_max"]), i_max_inclusive=bool(r["i_max_inclusive"]),
                pf=tuple(r["pf"]), limit_percent=float(r["limit_percent"]),
                confidence=r["confidence"], source=r["source"]) for r in data.get("limit", [])),
            starting=tuple(StartingRow(
                cls=r["class"], connection=r["connection"], base=r["base"],
                current=float(r["current"]), confidence=r["confidence"], source=r["source"],
                rule=r["rule"]) for r in data.get("starting", [])),
            no_load=tuple(NoLoadRow(
                cls=r["class"], edition=r["edition"], voltage_factor=float(r["voltage_factor"]),
                max_pulses=int(r["max_pulses"]), duration_constant=float(r["duration_constant"]),
                duration_formula=r["duration_formula"], confidence=r["confidence"],
                source=r["source"]) for r in data.get("no_load", [])),
            path=path)
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as error:
        raise ConfigError(f"{path}: accuracy-class table unreadable: {error!r}") from error


def available() -> list[str]:
    return sorted(p.stem for p in TABLE_DIR.glob("*.toml"))
