"""ModbusDriver: any Modbus RTU/TCP device described by a profile — the emulated EM-1, a real
meter, a third-party simulator. Binds a serial resource (as RTU) and a TCP resource (as
Modbus TCP). Suites talk to it through the ModbusDevice protocol, not to raw bytes, except
where raw bytes are the point (malformed frames: `transport("rtu")`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from .._core import ConfigError, ModbusClient, Transport
from ..profile import IDENTITY_OBJECT_IDS
from ..protocols import ModbusDevice
from . import Driver

# Modbus framing used on each resource kind this driver binds.
FRAMING_BY_RESOURCE: dict[str, Literal["rtu", "tcp"]] = {"serial": "rtu", "tcp": "tcp"}


class ModbusDriver(Driver):
    # "optical": a meter's optical port, served by an Iec62056MeterDriver companion.
    binds: ClassVar[tuple[str, ...]] = (*FRAMING_BY_RESOURCE, "optical")
    implements: ClassVar[tuple[type, ...]] = (ModbusDevice,)

    _clients: dict[str, ModbusClient]  # interface -> client

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients = {}
        if "optical" in self.resources:  # the meter's optical port: IEC 62056-21 mode C
            from .iec62056 import Iec62056MeterDriver

            self.companions.append(Iec62056MeterDriver(
                self.spec, {"optical": self.resources["optical"]}, self.transports,
                timeout=self.timeout))

    @property
    def interfaces(self) -> list[str]:
        return [FRAMING_BY_RESOURCE[kind] for kind in FRAMING_BY_RESOURCE if kind in self.resources]

    def read_identity(self) -> dict[str, str]:
        """Modbus FC 43/14 (Read Device Identification), every category the device's
        conformity level offers, on the first interface the bench connects."""
        if not self.interfaces:
            return {}
        client = self.client(self.interfaces[0])
        basic = client.read_device_identification("basic")
        objects = dict(basic["objects"])
        level = basic["conformity_level"] & 0x7F
        more: tuple[Literal["regular", "extended"], ...] = ("regular", "extended")
        for category in more[:max(0, min(level, 3) - 1)]:
            objects.update(client.read_device_identification(category)["objects"])
        names = {object_id: name for name, object_id in IDENTITY_OBJECT_IDS.items()}
        return {names.get(object_id, f"object_0x{object_id:02X}"): value
                for object_id, value in sorted(objects.items())}

    def capabilities(self) -> set[str]:
        """"modbus" and "modbus-<interface>" for each interface the bench connects, and what
        companions offer (an optical port: "iec62056-21")."""
        return {"modbus", *(f"modbus-{interface}" for interface in self.interfaces),
                *(c for companion in self.companions for c in companion.capabilities())}

    def transport(self, interface: str) -> Transport:
        """The transport behind `interface` ("rtu" or "tcp"); opened on first use."""
        return self.open_transport(self._resource_kind(interface))

    def client(self, interface: str) -> ModbusClient:
        """The Modbus client on `interface` ("rtu" or "tcp"); opened on first use."""
        if interface not in self._clients:
            framing: Literal["rtu", "tcp"] = "rtu" if interface == "rtu" else "tcp"
            self._clients[interface] = ModbusClient(self.transport(interface), framing=framing,
                                                    unit=self.profile.unit, timeout=self.timeout)
        return self._clients[interface]

    def _resource_kind(self, interface: str) -> str:
        kinds = [k for k, framing in FRAMING_BY_RESOURCE.items() if framing == interface]
        if not kinds:
            raise ConfigError(f"{self.name}: unknown interface '{interface}' "
                              f"(known: {', '.join(FRAMING_BY_RESOURCE.values())})")
        if kinds[0] not in self.resources:
            raise ConfigError(f"{self.name}: has no {interface} interface on this bench "
                              f"(it has: {', '.join(self.interfaces) or 'none'})")
        return kinds[0]

    def _drain_exchanges(self) -> list[dict[str, Any]]:
        return [e for client in self._clients.values() for e in client.take_exchanges()]

    def _forget(self, kind: str) -> list[dict[str, Any]]:
        # "optical" belongs to the IEC 62056-21 companion: no Modbus client of ours runs on it.
        framing = FRAMING_BY_RESOURCE.get(kind)
        client = self._clients.pop(framing, None) if framing is not None else None
        return client.take_exchanges() if client is not None else []
