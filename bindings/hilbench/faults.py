"""Fault plans in Python: parsed from a dict or a TOML plan file, applied to transports
through the TransportFactory's wrappers (docs/faults.md).

- `FaultPlan.from_dict(d)` / `FaultPlan.from_toml(path)`: the C++ parser validates (strict:
  unknown keys, wrong types, values out of range are ConfigErrors naming the file and the
  key path) and returns the canonical form, which is what gets journaled.
- `FaultInjector(plan)`: its `wrap` is a TransportFactory wrapper; every transport opened
  while it is installed is a FaultyTransport with the plan. `take_applied()` drains the
  faults every one of them applied, per transport; `release()` forgets the transports (the
  caller has dropped them), so nothing of a removed plan stays alive.

- `FaultProxy(upstream_host, upstream_port)`: the same plans out of process, in
  hilbench-proxy (a TCP man in the middle: proxy/), for links the harness does not open
  itself. `with proxy.apply(plan): ...` always removes the plan; the faults the proxy
  applied are collected, and journaled through its `journal` callback with "where": "proxy".

The pytest fixture `faults` (hilbench_pytest) installs an injector on the live bench, makes
the drivers reopen their transports through it, and removes it (reopening plain
transports) at the end of the block or test, whatever happened; `faults.proxy(host, port)`
starts a journaled FaultProxy stopped at teardown.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Callable, Iterator, Mapping

from ._core import FaultyTransport, HarnessError, Transport, parse_fault_plan
from .emulation import ChildProcess, find_tool
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


# (record type, data): fault_plan_applied, faults_applied, fault_plan_removed.
JournalCallback = Callable[[str, dict[str, Any]], None]


class ProxyPlan:
    """One plan applied in a FaultProxy until `remove()` (or the end of its `with` block)."""

    def __init__(self, proxy: FaultProxy, plan: FaultPlan, plan_id: int) -> None:
        self.proxy = proxy
        self.plan = plan
        self.plan_id = plan_id
        # every fault applied so far: {'connection', 'monotonic_ns', 'fault', 'kind',
        # 'direction', 'offset', 'change'}
        self.applied: list[dict[str, Any]] = []
        self.removed: dict[str, Any] | None = None  # the proxy's plan_removed reply

    def __enter__(self) -> ProxyPlan:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.remove()

    def collect(self) -> list[dict[str, Any]]:
        """The faults applied since the last call (journaled; also kept in `applied`)."""
        self.proxy.stats()  # a round trip: every fault line written before it is read
        return self.proxy._journal_faults(self)

    def remove(self) -> dict[str, Any]:
        """Removes the plan (the bytes it held go out at once); idempotent. Returns the
        proxy's reply: faults_applied, suppressed, held_bytes_flushed."""
        if self.removed is None:
            self.removed = self.proxy._remove(self)
        return self.removed


class FaultProxy:
    """hilbench-proxy between clients and `upstream` (docs/faults.md, "hilbench-proxy").

    Clients connect to `address`; each gets its own upstream connection. `apply(plan)` puts a
    plan on every connection, open or later (one plan at a time). Every record goes to
    `journal` (if given) with "where": "proxy"; `plan_ids` numbers the plans (the `faults`
    fixture shares its own numbering). Thread-safety: one thread (the control channel)."""

    def __init__(self, upstream_host: str, upstream_port: int, name: str = "proxy",
                 listen_host: str = "127.0.0.1", log_path: Path | None = None,
                 journal: JournalCallback | None = None,
                 plan_ids: Iterator[int] | None = None) -> None:
        self.name = name
        self.upstream = (upstream_host, int(upstream_port))
        self.child = ChildProcess(
            [find_tool("hilbench-proxy"), "--listen", f"{listen_host}:0",
             "--upstream", f"{upstream_host}:{int(upstream_port)}", "--name", name],
            f"hilbench-proxy[{name}]", log_path)
        self.journal = journal
        self._plan_ids = plan_ids if plan_ids is not None else itertools.count(1)
        self.active: ProxyPlan | None = None
        self._pending: list[dict[str, Any]] = []  # fault lines read, not yet journaled

    def start(self, timeout: float = 10.0) -> FaultProxy:
        self.child.start(timeout)
        return self

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) clients connect to."""
        listen = self.child.ready["listen"]
        return str(listen["host"]), int(listen["port"])

    def control(self, request: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        """One control request; fault lines read on the way are kept for the journal."""
        return self.child.control(request, timeout,
                                  notices={"fault_applied": self._pending.append})

    def stats(self) -> dict[str, Any]:
        """{'connections' (open), 'accepted', 'plan', 'bytes': {'to_device', 'to_host'}
        (relayed, after faults), 'fds', 'threads'} of the proxy process."""
        return self.control({"op": "stats"})

    def apply(self, plan: FaultPlan | Mapping[str, Any]) -> ProxyPlan:
        """Applies `plan` (validated here first: a ConfigError names the key) until the
        returned ProxyPlan is removed; use it as a context manager to always remove it."""
        fault_plan = plan if isinstance(plan, FaultPlan) else FaultPlan.from_dict(plan)
        if self.active is not None:
            raise HarnessError(f"{self.child.name}: a plan is already applied")
        self.control({"op": "apply_plan", "plan": fault_plan.canonical})
        applied = ProxyPlan(self, fault_plan, next(self._plan_ids))
        self.active = applied
        self._record("fault_plan_applied", {
            "plan_id": applied.plan_id, "where": "proxy", "proxy": self.name,
            "listen": self.child.ready["listen"], "upstream": self.child.ready["upstream"],
            "duts": [], "seed": fault_plan.seed, **fault_plan.record()})
        return applied

    def stop(self, timeout: float = 5.0) -> int | None:
        """Removes the applied plan (journaled) and stops the proxy."""
        try:
            if self.active is not None and self.child.alive():
                self.active.remove()
        finally:
            code = self.child.stop(timeout)
        return code

    def _remove(self, applied: ProxyPlan) -> dict[str, Any]:
        reply = self.control({"op": "remove_plan"})
        self.active = None
        self._journal_faults(applied)
        self._record("fault_plan_removed", {
            "plan_id": applied.plan_id, "where": "proxy", "proxy": self.name,
            "faults_applied": int(reply["faults_applied"]),
            "suppressed": int(reply["suppressed"]),
            "held_bytes_flushed": int(reply["held_bytes_flushed"]),
            "discarded_hex": {}, "errors": {}})
        return reply

    def _journal_faults(self, applied: ProxyPlan) -> list[dict[str, Any]]:
        news, self._pending = self._pending, []
        faults = [{k: v for k, v in line.items() if k != "event"} for line in news]
        by_connection: dict[int, list[dict[str, Any]]] = {}
        for fault in faults:
            by_connection.setdefault(int(fault["connection"]), []).append(
                {k: v for k, v in fault.items() if k != "connection"})
        for connection, entries in sorted(by_connection.items()):
            self._record("faults_applied", {
                "plan_id": applied.plan_id, "where": "proxy",
                "transport": f"hilbench-proxy[{self.name}] connection {connection}",
                "connection": connection, "faults": entries, "suppressed": 0})
        applied.applied.extend(faults)
        return faults

    def _record(self, kind: str, data: dict[str, Any]) -> None:
        if self.journal is not None:
            self.journal(kind, data)
