"""Exposed services: the ports a TCP connect scan of the DUT's (loopback) address finds,
compared with the services its profile declares. The scan is the C++ core's
(hilbench._core.scan_tcp_ports: loopback only, with a deadline); this module compares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._core import scan_tcp_ports


@dataclass(frozen=True)
class ServiceComparison:
    host: str
    scanned: tuple[int, int]  # first and last port, inclusive
    open_ports: list[int]
    declared: dict[int, str]  # port -> service name the profile declares
    undeclared: list[int] = field(default_factory=list)  # open but not declared: a finding
    missing: list[int] = field(default_factory=list)  # declared but not open (informative)

    @property
    def passed(self) -> bool:
        return not self.undeclared

    def as_dict(self) -> dict[str, Any]:
        return {"host": self.host, "scanned": list(self.scanned), "open": self.open_ports,
                "declared": {str(p): n for p, n in self.declared.items()},
                "undeclared": self.undeclared, "missing": self.missing, "passed": self.passed}


def compare_exposed_services(host: str, declared: dict[int, str], first_port: int,
                             last_port: int, *, deadline_s: float = 30.0,
                             attempt_timeout_s: float = 0.5) -> ServiceComparison:
    """Scans host:first_port..last_port and compares with `declared` (port -> service)."""
    result = scan_tcp_ports(host, first_port, last_port, deadline_s=deadline_s,
                            attempt_timeout_s=attempt_timeout_s)
    open_ports = [int(port) for port in result["open"]]
    in_range = {p: n for p, n in declared.items() if first_port <= p <= last_port}
    return ServiceComparison(
        host=host, scanned=(first_port, last_port), open_ports=open_ports, declared=in_range,
        undeclared=[p for p in open_ports if p not in in_range],
        missing=sorted(p for p in in_range if p not in open_ports))
