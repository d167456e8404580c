"""Registries of plug-in points: resource kinds, drivers, report writers, CLI commands.

Each registry is an entry-point group. hilbench registers its own built-ins through the same
groups (pyproject.toml), so a plug-in package adds a resource kind, a driver or a report
writer exactly as hilbench does, without editing any of our files. In-process registration
(`Registry.register`) exists for tests and notebooks; it wins over an entry point of the
same name.

Groups (what an entry point must load to):
  hilbench.resources       a `hilbench.resources.Resource` subclass, keyed by its kind
  hilbench.drivers         a `hilbench.drivers.Driver` subclass, keyed by its bench-file name
  hilbench.report_writers  a `hilbench_reports.writers.ReportWriter` subclass
  hilbench.commands        a function adding a sub-command to the `hilbench` command line

Thread-safety: loading happens on first use, from the main thread (collection time).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Callable, Generic, TypeVar

from ._core import ConfigError

T = TypeVar("T")

GROUPS = {
    "hilbench.resources": "resource kinds (bench file tables that say how to reach a device)",
    "hilbench.drivers": "device drivers (bench file `driver = ...`)",
    "hilbench.report_writers": "report writers (one output format each)",
    "hilbench.commands": "sub-commands of the `hilbench` command line",
}


@dataclass(frozen=True)
class Registration:
    name: str
    origin: str  # "entry point <dist>: <module:attr>" or "in-process"


class Registry(Generic[T]):
    """Name -> T, filled from one entry-point group on first use."""

    def __init__(self, group: str, check: Callable[[object], bool], expected: str) -> None:
        if group not in GROUPS:
            raise ValueError(f"unknown registry group {group}")
        self.group = group
        self._check = check
        self._expected = expected
        self._items: dict[str, T] = {}
        self._origins: dict[str, str] = {}
        self._entry_points: dict[str, EntryPoint] | None = None

    def register(self, name: str, item: T) -> T:
        if not self._check(item):
            raise ConfigError(f"{self.group}: '{name}' is not {self._expected}")
        self._items[name] = item
        self._origins[name] = "in-process"
        return item

    def unregister(self, name: str) -> None:
        """Drops an in-process registration (entry points stay)."""
        self._items.pop(name, None)
        self._origins.pop(name, None)

    def names(self) -> list[str]:
        return sorted(set(self._items) | set(self._discover()))

    def get(self, name: str) -> T:
        if name in self._items:
            return self._items[name]
        entry = self._discover().get(name)
        if entry is None:
            raise ConfigError(f"unknown {self.group.split('.')[-1][:-1].replace('_', ' ')} "
                              f"'{name}' (known: {', '.join(self.names()) or 'none'})")
        try:
            item = entry.load()
        except Exception as error:  # a broken plug-in must name itself, not crash the run
            raise ConfigError(f"{self.group}: entry point '{name}' ({entry.value}) failed to "
                              f"load: {type(error).__name__}: {error}") from None
        if not self._check(item):
            raise ConfigError(f"{self.group}: entry point '{name}' ({entry.value}) is not "
                              f"{self._expected}")
        self._items[name] = item
        self._origins[name] = _origin(entry)
        return item

    def registrations(self) -> list[Registration]:
        discovered = self._discover()
        return [Registration(name, self._origins.get(name) or _origin(discovered[name]))
                for name in self.names()]

    def _discover(self) -> dict[str, EntryPoint]:
        if self._entry_points is None:
            self._entry_points = {e.name: e for e in entry_points(group=self.group)}
        return self._entry_points


def _origin(entry: EntryPoint) -> str:
    dist = getattr(entry, "dist", None)
    name = f"{dist.name} {dist.version}" if dist is not None else "?"
    return f"{name}: {entry.value}"


def group_entry_points(group: str) -> list[Registration]:
    """What a group holds, from package metadata alone (nothing is imported)."""
    return [Registration(e.name, _origin(e))
            for e in sorted(entry_points(group=group), key=lambda e: e.name)]
