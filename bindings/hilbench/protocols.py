"""Capability protocols: what suites ask the bench for.

A suite says what it needs (`bench.find(ModbusDevice)`, the `dut` fixture), not which
driver class provides it; drivers declare the protocols they implement
(`Driver.implements`). Meter, Transmitter, ScpiInstrument, ReferenceSource and
PowerSupply arrive with the emulated-bench issue, as further classes here.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from ._core import ModbusClient, Transport
from .profile import DeviceProfile


@runtime_checkable
class Device(Protocol):
    """What every bench device offers, whatever its kind."""

    name: str
    emulated: bool
    profile: DeviceProfile

    def endpoints(self) -> list[dict[str, Any]]: ...

    def take_exchanges(self) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


@runtime_checkable
class ModbusDevice(Device, Protocol):
    """Register and bit access over Modbus, on each interface the bench offers.

    Interfaces are named by framing: "rtu" (a serial line), "tcp" (Modbus TCP).
    """

    @property
    def interfaces(self) -> list[str]: ...

    def client(self, interface: str) -> ModbusClient:
        """The Modbus client on `interface`, opened on first use."""
        ...

    def transport(self, interface: str) -> Transport:
        """The raw transport behind `interface`, where raw bytes are the point."""
        ...
