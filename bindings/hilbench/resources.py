"""Resources: typed descriptions of how a device is reached, one class per kind.

A resource is data: a serial port and its line settings, a TCP host:port. Each kind parses
and validates its own bench-file table (`[devices.<kind>]`), reads its part of an
emulator's ready line, and describes itself for the journal's `dut` record. Opening it is
the transport factory's job (hilbench.transports), the one place a transport is opened.

Kinds are registered in the entry-point group "hilbench.resources" (ours in pyproject.toml);
a plug-in package adds one by subclassing Resource and exposing it there.
"""

from __future__ import annotations

import abc
import re
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, cast

from ._core import ConfigError, SerialTransport, TcpTransport, Transport, find_serial_port
from .emulation import use_umockdev_dir
from .profile import PARITIES, DeviceProfile, SerialSettings
from .registry import Registry
from .strict_toml import StrictReader

Parity = Literal["none", "odd", "even", "mark", "space"]
_USB_ID = re.compile(r"[0-9A-Fa-f]{4}:[0-9A-Fa-f]{4}")


class Resource(abc.ABC):
    """One way to reach a device. Subclasses are frozen dataclasses (hashable, comparable)."""

    kind: ClassVar[str]  # the bench-file table name and the registry key

    @classmethod
    @abc.abstractmethod
    def from_bench(cls, reader: StrictReader, table: dict[str, Any], where: str,
                   profile: DeviceProfile) -> Resource:
        """Parses `[devices.<kind>]`; errors name the file and key (reader.fail)."""

    @classmethod
    def from_ready(cls, ready: dict[str, Any], profile: DeviceProfile) -> Resource:
        """Reads this kind's part of an emulator's ready line (devices/README.md)."""
        raise ConfigError(f"resource kind '{cls.kind}' cannot be served by an emulator")

    @abc.abstractmethod
    def describe(self) -> dict[str, Any]:
        """{"kind", "address", "settings"}: the endpoint as the journal's dut record keeps it."""

    @abc.abstractmethod
    def connect(self, timeout: float) -> Transport:
        """Opens the transport. Called only by hilbench.transports.TransportFactory."""

    def needs_umockdev(self) -> bool:
        """True if this process must run under libumockdev-preload to reach the endpoint."""
        return False


def _is_resource_kind(item: object) -> bool:
    return isinstance(item, type) and issubclass(item, Resource) and isinstance(
        getattr(item, "kind", None), str)


RESOURCE_KINDS: Registry[type[Resource]] = Registry(
    "hilbench.resources", _is_resource_kind, "a hilbench.resources.Resource subclass with a kind")


@dataclass(frozen=True)
class SerialPort(Resource):
    """A serial port, named by the OS (`port = "/dev/ttyUSB0"`) or by its USB adapter
    (`usb_serial = "FT4ABC12"` and/or `usb_id = "0403:6001"`), found through libserialport's
    port list when it is opened, so a bench file survives the adapter moving to another
    /dev/ttyUSB<n>. Line settings default to the device profile's."""

    kind: ClassVar[str] = "serial"
    port: str | None
    baud: int
    data_bits: int
    parity: str
    stop_bits: int
    umockdev_dir: str | None = None  # set: the port is presented by a umockdev testbed
    usb_serial: str | None = None  # the USB adapter's serial number (a criterion, or known)
    usb_id: str | None = None  # "VVVV:PPPP", hex
    pacing: str | None = None  # emulated: "paced" | "unpaced" (the presenter's wire timing)

    @classmethod
    def default_settings(cls, profile: DeviceProfile) -> SerialSettings:
        """Line settings a bench file or ready line may leave out: the profile's."""
        return profile.serial

    @classmethod
    def from_bench(cls, reader: StrictReader, table: dict[str, Any], where: str,
                   profile: DeviceProfile) -> SerialPort:
        reader.check_keys(table, {"port", "usb_serial", "usb_id", "baud", "data_bits", "parity",
                                  "stop_bits", "umockdev_dir"}, where)
        defaults = cls.default_settings(profile)
        port = cls(port=reader.get(table, "port", str, where, None),
                   baud=reader.get(table, "baud", int, where, defaults.baud),
                   data_bits=reader.get(table, "data_bits", int, where, defaults.data_bits),
                   parity=reader.get(table, "parity", str, where, defaults.parity),
                   stop_bits=reader.get(table, "stop_bits", int, where, defaults.stop_bits),
                   umockdev_dir=reader.get(table, "umockdev_dir", str, where, None),
                   usb_serial=reader.get(table, "usb_serial", str, where, None),
                   usb_id=reader.get(table, "usb_id", str, where, None))
        if (port.port is None) == (port.usb_serial is None and port.usb_id is None):
            raise reader.fail(where, "name the port either by `port` (OS name) or by its USB "
                              "adapter (`usb_serial` and/or `usb_id`), not both, not neither")
        problem = port.settings_problem()
        if problem:
            key, message = problem
            raise reader.fail(f"{where}.{key}", message)
        return port

    @classmethod
    def from_ready(cls, ready: dict[str, Any], profile: DeviceProfile) -> SerialPort:
        """`ready` is the emulator's "serial" object completed with its presenter port
        (hilbench.emulation.start_emulator): device_path, umockdev_dir, adapter_serial,
        pacing from the presenter's ready line; line settings from the emulator's."""
        p: SerialSettings = cls.default_settings(profile)
        serial = ready.get("adapter_serial")
        pacing = ready.get("pacing")
        return cls(port=str(ready["device_path"]), baud=int(ready.get("baud", p.baud)),
                   data_bits=int(ready.get("data_bits", p.data_bits)),
                   parity=str(ready.get("parity", p.parity)),
                   stop_bits=int(ready.get("stop_bits", p.stop_bits)),
                   umockdev_dir=str(ready["umockdev_dir"]),
                   usb_serial=str(serial) if serial is not None else None,
                   pacing=str(pacing) if pacing is not None else None)

    def usb_ids(self) -> tuple[int | None, int | None]:
        if self.usb_id is None:
            return None, None
        vendor, _, product = self.usb_id.partition(":")
        return int(vendor, 16), int(product, 16)

    def resolve(self) -> str:
        """The OS name of the port (found by its adapter when the bench names one)."""
        if self.port is not None:
            return self.port
        vendor, product = self.usb_ids()
        return find_serial_port(self.usb_serial or "", vendor, product)

    def settings_problem(self) -> tuple[str, str] | None:
        """(key, what is wrong) for settings no UART or adapter has, or None."""
        if self.usb_id is not None and not _USB_ID.fullmatch(self.usb_id):
            return "usb_id", f"must be VID:PID in hex, e.g. '0403:6001', got '{self.usb_id}'"
        if self.parity not in PARITIES:
            return "parity", f"must be one of {', '.join(PARITIES)}, got '{self.parity}'"
        if self.data_bits not in (5, 6, 7, 8):
            return "data_bits", f"must be 5..8, got {self.data_bits}"
        if self.stop_bits not in (1, 2):
            return "stop_bits", f"must be 1 or 2, got {self.stop_bits}"
        if self.baud <= 0:
            return "baud", f"must be > 0, got {self.baud}"
        return None

    def describe(self) -> dict[str, Any]:
        adapter = {k: v for k, v in (("usb_serial", self.usb_serial), ("usb_id", self.usb_id))
                   if v is not None}
        address = self.port or "usb " + " ".join(f"{k}={v}" for k, v in adapter.items())
        return {"kind": self.kind, "address": address,
                "settings": {"baud": self.baud, "data_bits": self.data_bits,
                             "parity": self.parity, "stop_bits": self.stop_bits,
                             "umockdev": self.umockdev_dir is not None, **adapter,
                             **({"pacing": self.pacing} if self.pacing else {})}}

    def connect(self, timeout: float) -> Transport:
        if self.umockdev_dir:
            use_umockdev_dir(self.umockdev_dir)
        return SerialTransport(self.resolve(), baud=self.baud, data_bits=self.data_bits,
                               parity=cast(Parity, self.parity), stop_bits=self.stop_bits)

    def needs_umockdev(self) -> bool:
        return self.umockdev_dir is not None


@dataclass(frozen=True)
class OpticalPort(SerialPort):
    """A meter's optical (D0) interface through an optical probe on a serial port, spoken to
    in IEC 62056-21 mode C (`[devices.optical]`, same keys as `[devices.serial]`). Line
    settings default to the mode C sign-on, 300 baud 7E1; the protocol switches the baud rate
    during a session (SerialLine.reconfigure). An emulated meter announces it in its ready
    line as "optical" (hilbench-emulator --optical-socket, on its own presenter port)."""

    kind: ClassVar[str] = "optical"

    @classmethod
    def default_settings(cls, profile: DeviceProfile) -> SerialSettings:
        return SerialSettings(baud=300, data_bits=7, parity="even", stop_bits=1)


@dataclass(frozen=True)
class TcpEndpoint(Resource):
    """A TCP endpoint (Modbus TCP port 502, a SCPI raw socket on 5025, ...)."""

    kind: ClassVar[str] = "tcp"
    host: str
    port: int

    @classmethod
    def from_bench(cls, reader: StrictReader, table: dict[str, Any], where: str,
                   profile: DeviceProfile) -> TcpEndpoint:
        reader.check_keys(table, {"host", "port"}, where)
        port = reader.get(table, "port", int, where)
        if not 1 <= port <= 65535:
            raise reader.fail(f"{where}.port", f"must be 1..65535, got {port}")
        return cls(host=reader.get(table, "host", str, where), port=port)

    @classmethod
    def from_ready(cls, ready: dict[str, Any], profile: DeviceProfile) -> TcpEndpoint:
        return cls(host=str(ready["host"]), port=int(ready["port"]))

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "address": f"{self.host}:{self.port}",
                "settings": {"no_delay": True}}

    def connect(self, timeout: float) -> Transport:
        return TcpTransport(self.host, self.port, connect_timeout=timeout)
