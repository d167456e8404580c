"""A third-party plug-in as a lab would write one (used by tests/test_plugins.py).

- resource kind "gateway": a Modbus TCP gateway in front of a device, with the unit id the
  gateway routes to;
- driver "demo-energy": reads a meter's energy register through it, as the EnergyReadout
  capability protocol;
- report writer "csv": requirement verdicts per market as CSV.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from hilbench import ModbusClient, TcpTransport, Transport
from hilbench.drivers import Driver
from hilbench.resources import Resource
from hilbench_reports.writers import ReportSet, ReportWriter


@runtime_checkable
class EnergyReadout(Protocol):
    def energy_register(self) -> str: ...

    def read_energy(self) -> float:
        """Active energy import in the profile's unit."""
        ...


@dataclass(frozen=True)
class ModbusGateway(Resource):
    kind: ClassVar[str] = "gateway"
    host: str
    port: int
    unit: int

    @classmethod
    def from_bench(cls, reader: Any, table: dict[str, Any], where: str, profile: Any) -> "ModbusGateway":
        reader.check_keys(table, {"host", "port", "unit"}, where)
        return cls(host=reader.get(table, "host", str, where), port=reader.get(table, "port", int, where),
                   unit=reader.get(table, "unit", int, where, profile.unit))

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "address": f"{self.host}:{self.port}#unit{self.unit}",
                "settings": {"unit": self.unit}}

    def connect(self, timeout: float) -> Transport:
        return TcpTransport(self.host, self.port, connect_timeout=timeout)


class EnergyMeterDriver(Driver):
    binds: ClassVar[tuple[str, ...]] = ("gateway",)
    implements: ClassVar[tuple[type, ...]] = (EnergyReadout,)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client: ModbusClient | None = None

    def energy_register(self) -> str:
        return "active_energy_import"

    def read_energy(self) -> float:
        gateway = self.resources["gateway"]
        if self._client is None:
            self._client = ModbusClient(self.open_transport("gateway"), framing="tcp",
                                        unit=gateway.unit, timeout=self.timeout)
        register = next(r for r in self.profile.registers if r.name == self.energy_register())
        words = self._client.read_input_registers(register.address, register.words)
        raw = int.from_bytes(b"".join(w.to_bytes(2, "big") for w in words), "big")
        return raw / register.scale

    def _drain_exchanges(self) -> list[dict[str, Any]]:
        return self._client.take_exchanges() if self._client is not None else []

    def _forget(self, kind: str) -> list[dict[str, Any]]:
        exchanges = self._drain_exchanges()
        self._client = None
        return exchanges


class CsvVerdicts(ReportWriter):
    name = "csv"

    def write(self, reports: ReportSet, out: Path) -> list[Path]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["market", "requirement", "status"])
        for code, report in reports.reports.items():
            for requirement in report["requirements"]:
                writer.writerow([code, requirement["id"], requirement["status"]])
        path = out / "verdicts.csv"
        path.write_text(buffer.getvalue())
        return [path]
