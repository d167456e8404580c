"""Drivers: a bench device and its resources bound to a live device.

The contract every driver keeps is the `Driver` base class below. A driver declares the
resource kinds it binds to (`binds`) and the capability protocols it implements
(`implements`, classes from hilbench.protocols); suites ask the bench for a protocol
(`bench.find(ModbusDevice)`), never for a driver class. Drivers open transports only
through the bench's TransportFactory.

Drivers are registered in the entry-point group "hilbench.drivers" under the name bench
files use (`driver = "modbus"`); ours are listed in pyproject.toml like any plug-in's.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar, Mapping

from .._core import ConfigError, Transport
from ..profile import DeviceProfile
from ..registry import Registry
from ..resources import Resource
from ..spec import DeviceSpec
from ..transports import TransportFactory


class Driver(abc.ABC):
    """Base of every driver. Thread-safety: one test thread at a time.

    Evidence: every exchange the driver's protocol clients record is handed out by
    take_exchanges() as a protocol-neutral exchange dict (docs/journal-schema.md,
    `exchange`), which the pytest plugin journals after each test.
    """

    binds: ClassVar[tuple[str, ...]]  # resource kinds this driver can use
    implements: ClassVar[tuple[type, ...]] = ()  # capability protocols (hilbench.protocols)

    def __init__(self, spec: DeviceSpec, resources: Mapping[str, Resource],
                 transports: TransportFactory, timeout: float = 1.0) -> None:
        self.spec = spec
        self.name = spec.name
        self.profile: DeviceProfile = spec.profile
        self.emulated = spec.emulated
        self.resources = dict(resources)
        self.transports = transports
        self.timeout = timeout  # seconds, per transaction
        self._retired_exchanges: list[dict[str, Any]] = []
        self._transports: dict[str, Transport] = {}  # resource kind -> open transport
        # Drivers for other protocols of the same device (a Modbus meter's optical port):
        # their capabilities, protocols (facet) and exchanges are this device's.
        self.companions: list[Driver] = []

    # ---- what the device is and how it is reached ---------------------------------------
    def endpoints(self) -> list[dict[str, Any]]:
        return [resource.describe() for resource in self.resources.values()]

    def describe(self) -> dict[str, Any]:
        """The journal's `dut` record data (docs/journal-schema.md)."""
        profile = self.profile
        return {
            "name": self.name,
            "kind": profile.kind,
            "driver": self.spec.driver,
            "emulated": bool(self.emulated),
            "defects": list(self.spec.emulator.defects) if self.spec.emulator else [],
            "profile": str(profile.path),
            "profile_sha256": profile.sha256,
            "declared_identity": dict(profile.identity),
            "endpoints": self.endpoints(),
            "calibration": (self.spec.calibration.as_record()
                            if self.spec.calibration is not None else None),
        }

    def read_identity(self) -> dict[str, str]:
        """The identity the device reports about itself (model, serial number, firmware
        revision, ... keyed like the profile's declared identity), read over the wire. {}:
        this driver has no way to ask. Raises HarnessError if the device does not answer."""
        return {}

    def capabilities(self) -> set[str]:
        """What this device offers on this bench, as tests name it in
        `@pytest.mark.needs(...)` (e.g. "modbus-rtu"): the driver's protocols over the
        resources the bench connects."""
        return set()

    @classmethod
    def provides(cls, protocol: type) -> bool:
        """True if the driver declares `protocol` or a protocol derived from it. (Declared,
        not structural: issubclass() does not work on protocols with data members.)"""
        return any(protocol in declared.__mro__ for declared in cls.implements)

    def facet(self, protocol: type) -> Driver | None:
        """The driver of this device that implements `protocol`: itself, a companion (another
        protocol of the same device), or None."""
        if self.provides(protocol):
            return self
        return next((c for c in self.companions if c.provides(protocol)), None)

    # ---- transports -------------------------------------------------------------------------
    def open_transport(self, kind: str) -> Transport:
        """The transport on this device's `kind` resource, opened (through the bench's
        factory) on first use and kept until it is lost or the driver closes."""
        if kind not in self._transports:
            if kind not in self.resources:
                raise ConfigError(f"{self.name}: no '{kind}' resource on this bench "
                                  f"(it has: {', '.join(self.resources) or 'none'})")
            self._transports[kind] = self.transports.open(self.resources[kind])
        return self._transports[kind]

    def heal(self) -> list[str]:
        """Drops every transport whose connection is lost, so the next exchange reconnects
        (the factory journals both). Returns the resource kinds dropped."""
        dropped = [kind for companion in self.companions for kind in companion.heal()]
        for kind, transport in list(self._transports.items()):
            if transport.connection_lost:
                self._retired_exchanges.extend(self._forget(kind))
                del self._transports[kind]
                self.transports.lost(self.resources[kind], transport, self.name)
                dropped.append(kind)
        return dropped

    def drop_transports(self) -> list[str]:
        """Closes every open transport (their exchanges are kept for the next take), so the
        next use opens a new one through the factory: how a fault plan's wrapper is put in
        the path and taken out again; companions' too. Returns the resource kinds that were
        open."""
        dropped = [kind for companion in self.companions for kind in companion.drop_transports()]
        dropped += list(self._transports)
        for kind in list(self._transports):
            self._retired_exchanges.extend(self._forget(kind))
            del self._transports[kind]
        return dropped

    def links(self) -> list[tuple[Driver, str]]:
        """(driver, resource kind) for every link of this device, each under the driver that
        speaks on it: a resource a companion serves (a meter's optical port) is the
        companion's."""
        served = {kind for companion in self.companions for kind in companion.resources}
        own = [(self, kind) for kind in self.resources if kind not in served]
        return own + [link for companion in self.companions for link in companion.links()]

    def open_links(self) -> list[tuple[Driver, str]]:
        """The links() whose transport is open now."""
        return [(driver, kind) for driver, kind in self.links() if kind in driver._transports]

    @abc.abstractmethod
    def _forget(self, kind: str) -> list[dict[str, Any]]:
        """Drops the protocol clients on the `kind` transport; returns their exchanges."""

    # ---- evidence -------------------------------------------------------------------------
    @abc.abstractmethod
    def _drain_exchanges(self) -> list[dict[str, Any]]:
        """Exchanges recorded by the open protocol clients since the last call."""

    def take_exchanges(self) -> list[dict[str, Any]]:
        """Every exchange since the last call, across interfaces, in time order."""
        exchanges = self._retired_exchanges + self._drain_exchanges()
        for companion in self.companions:
            exchanges += companion.take_exchanges()
        self._retired_exchanges = []
        return sorted(exchanges, key=lambda e: e["request_ns"])

    def adopt_exchanges(self, exchanges: list[dict[str, Any]]) -> None:
        """Keeps exchanges of a predecessor (an emulator restart) for the next take."""
        self._retired_exchanges.extend(exchanges)

    def close(self) -> None:
        """Closes every transport; exchanges recorded so far stay available."""
        for kind in list(self._transports):
            self._retired_exchanges.extend(self._forget(kind))
        self._retired_exchanges.extend(self._drain_exchanges())
        self._transports.clear()  # the C++ destructors close ports and sockets
        for companion in self.companions:
            companion.close()
            self._retired_exchanges.extend(companion.take_exchanges())


def _is_driver(item: object) -> bool:
    return isinstance(item, type) and issubclass(item, Driver) and bool(getattr(item, "binds", ()))


DRIVERS: Registry[type[Driver]] = Registry(
    "hilbench.drivers", _is_driver, "a hilbench.drivers.Driver subclass that binds resources")
