"""Fault plans in Python: parsed from a dict or a TOML plan file, applied to transports
through the TransportFactory's wrappers (docs/faults.md).

- `FaultPlan.from_dict(d)` / `FaultPlan.from_toml(path)`: the C++ parser validates (strict:
  unknown keys, wrong types, values out of range are ConfigErrors naming the file and the
  key path) and returns the canonical form, which is what gets journaled.
- `FaultInjector(plan)`: its `wrap` is a TransportFactory wrapper; every transport opened
  while it is installed is a FaultyTransport with the plan. `take_applied()` drains the
  faults every one of them applied, per transport; `release()` forgets the transports (the
  caller has dropped them), so nothing of a removed plan stays alive.

The pytest fixture `faults` (hilbench_pytest) installs an injector on the live bench, makes
the drivers reopen their transports through it, and removes it (reopening plain
transports) at the end of the block or test, whatever happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ._core import FaultyTransport, Transport, parse_fault_plan
from .resources import Resource
from .strict_toml import read_toml


@dataclass(frozen=True)
class FaultPlan:
    """A validated plan in canonical form: `seed`, `name`, `faults` (list of dicts)."""

    canonical: dict[str, Any]
    source: str = ""  # the plan file, "" for a dict

    @classmethod
    def from_dict(cls, plan: Mapping[str, Any], source: str = "") -> FaultPlan:
        return cls(parse_fault_plan(dict(plan), source), source)

    @classmethod
    def from_toml(cls, path: str | Path) -> FaultPlan:
        """A plan file: top-level `seed`, optional `name`, and `[[faults]]` tables."""
        path = Path(path)
        _raw, document = read_toml(path, "fault plan")
        return cls.from_dict(document, str(path))

    @property
    def seed(self) -> int:
        return int(self.canonical["seed"])

    @property
    def name(self) -> str:
        return str(self.canonical["name"])

    @property
    def faults(self) -> list[dict[str, Any]]:
        return list(self.canonical["faults"])

    def record(self) -> dict[str, Any]:
        """What the journal keeps of the plan."""
        return {"plan": self.canonical, "source": self.source}


class FaultInjector:
    """A TransportFactory wrapper applying one plan. Thread-safety: one thread, as the factory."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._transports: list[FaultyTransport] = []

    def wrap(self, resource: Resource, transport: Transport) -> Transport:
        faulty = FaultyTransport(transport, self.plan.canonical, self.plan.source)
        self._transports.append(faulty)
        return faulty

    @property
    def transports(self) -> list[FaultyTransport]:
        return list(self._transports)

    def take_applied(self) -> list[dict[str, Any]]:
        """[{'transport', 'faults': [...], 'suppressed'}] for every transport with news."""
        out = []
        for faulty in self._transports:
            applied = faulty.take_applied()
            if applied or faulty.suppressed_records:
                out.append({"transport": faulty.name, "faults": applied,
                            "suppressed": faulty.suppressed_records})
        return out

    def release(self) -> None:
        """Drops this injector's references to its transports (after take_applied)."""
        self._transports.clear()
