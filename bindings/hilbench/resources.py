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
from typing import Any, ClassVar, Literal, Mapping, TypedDict, cast

from ._core import (
    ConfigError,
    SerialTransport,
    TcpTransport,
    Transport,
    UsbtmcTransport,
    UsbTransport,
    find_serial_port,
    list_serial_ports,
    list_usb_devices,
)
from .emulation import use_umockdev_dir
from .profile import PARITIES, DeviceProfile, SerialSettings
from .registry import Registry
from .strict_toml import StrictReader

Parity = Literal["none", "odd", "even", "mark", "space"]
_USB_ID = re.compile(r"[0-9A-Fa-f]{4}:[0-9A-Fa-f]{4}")
# VISA USB resource strings: USB[board]::manufacturer ID::model code::serial number[::USB
# interface number][::INSTR] (IVI VPP-4.3 4.3.1.1); IDs in hex (0x...) or decimal.
_VISA_USB = re.compile(r"USB(\d*)::(0[xX][0-9A-Fa-f]{1,4}|\d+)::(0[xX][0-9A-Fa-f]{1,4}|\d+)::"
                       r"([^:]+)(?:::(\d+))?(?:::INSTR)?", re.IGNORECASE)
_USB_PATH = re.compile(r"\d+-\d+(\.\d+)*")


def parse_visa_usb(resource: str) -> tuple[int, int, str, int | None]:
    """(vendor_id, product_id, serial, interface or None) of a VISA USB resource string such
    as "USB0::0x1AB1::0x0588::DS1ED1410::INSTR". Raises ValueError naming what is wrong."""
    match = _VISA_USB.fullmatch(resource.strip())
    if match is None:
        raise ValueError(f"'{resource}' is not a VISA USB resource string "
                         "(USB0::0xVVVV::0xPPPP::SERIAL[::INTERFACE]::INSTR)")
    vendor, product = (int(text, 0) for text in (match.group(2), match.group(3)))
    if vendor > 0xFFFF or product > 0xFFFF:
        raise ValueError(f"'{resource}': vendor and product IDs are 16-bit")
    interface = int(match.group(5)) if match.group(5) is not None else None
    return vendor, product, match.group(4), interface


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

    def hardware(self) -> HardwareIdentity | None:
        """What discovery reports of the hardware behind this resource now, in the same fields
        for a serial port (libserialport's port list) and a USB device (libusb's): None where
        there is no such hardware (a TCP endpoint) or discovery does not show it. Raises
        HarnessError where discovery itself fails."""
        return None


class HardwareIdentity(TypedDict):
    """One piece of bench hardware as discovery sees it. `usb_*` are None for a port that is
    not on USB (a native UART): a serial port's are its USB adapter's."""

    port: str | None  # the OS name of a serial port; None for a USB device
    transport: str  # "usb", "native", "bluetooth", ... (libserialport's), "usb" for libusb's
    usb_id: str | None  # "vvvv:pppp", hex
    usb_serial: str | None
    usb_manufacturer: str | None
    usb_product: str | None
    usb_bus: int | None
    usb_address: int | None  # device number on the bus: changes on re-plug


def _usb_id(vendor: int | None, product: int | None) -> str | None:
    return f"{vendor:04x}:{product:04x}" if vendor is not None and product is not None else None


def describe_hardware(identity: Mapping[str, Any]) -> str:
    """"/dev/ttyUSB0 on USB 0403:6001 serial FT4ABC12", "USB 1209:0001 serial X", "/dev/ttyS0
    (native)": one line for `hilbench bench check`."""
    where = [identity["port"]] if identity["port"] else []
    if identity["usb_id"] is None:
        return " ".join(where + [f"({identity['transport']})"])
    usb = f"USB {identity['usb_id']}" + (f" serial {identity['usb_serial']}"
                                          if identity["usb_serial"] else "")
    return " on ".join(where + [usb])


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

    def hardware(self) -> HardwareIdentity | None:
        if self.umockdev_dir:
            use_umockdev_dir(self.umockdev_dir)
        name = self.resolve()
        for port in list_serial_ports():
            if port["name"] == name:
                return HardwareIdentity(
                    port=name, transport=str(port["transport"]),
                    usb_id=_usb_id(port["usb_vendor_id"], port["usb_product_id"]),
                    usb_serial=port["usb_serial"] or None,
                    usb_manufacturer=port["usb_manufacturer"] or None,
                    usb_product=port["usb_product"] or None, usb_bus=port["usb_bus"],
                    usb_address=port["usb_address"])
        return None


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


@dataclass(frozen=True)
class UsbDevice(Resource):
    """A USB device found by VID:PID (`usb_id = "1209:0001"`), serial number (`serial`),
    bus/port path (`path = "1-2.3"`), or a VISA resource string (`resource =
    "USB0::0x1209::0x0001::SERIAL::INSTR"`, which gives VID:PID and serial), reached through
    libusb. `protocol = "usbtmc"` (default: a USBTMC/USB488 instrument, messages framed by
    hilbench.UsbtmcTransport) or "raw" (the interface's bulk endpoints as a byte stream)."""

    kind: ClassVar[str] = "usb"
    usb_id: str | None = None  # "VVVV:PPPP", hex
    serial: str | None = None
    path: str | None = None
    interface: int | None = None
    protocol: str = "usbtmc"
    umockdev_dir: str | None = None  # set: the device is presented by a umockdev testbed

    @classmethod
    def from_bench(cls, reader: StrictReader, table: dict[str, Any], where: str,
                   profile: DeviceProfile) -> UsbDevice:
        reader.check_keys(table, {"resource", "usb_id", "serial", "path", "interface",
                                  "protocol", "umockdev_dir"}, where)
        resource = reader.get(table, "resource", str, where, None)
        usb_id = reader.get(table, "usb_id", str, where, None)
        serial = reader.get(table, "serial", str, where, None)
        interface = reader.get(table, "interface", int, where, None)
        if resource is not None:
            if usb_id is not None or serial is not None:
                raise reader.fail(where, "name the device by `resource` or by `usb_id`/"
                                  "`serial`, not both")
            try:
                vendor, product, serial, visa_interface = parse_visa_usb(resource)
            except ValueError as error:
                raise reader.fail(f"{where}.resource", str(error)) from None
            usb_id = f"{vendor:04x}:{product:04x}"
            interface = visa_interface if visa_interface is not None else interface
        device = cls(usb_id=usb_id, serial=serial,
                     path=reader.get(table, "path", str, where, None), interface=interface,
                     protocol=reader.get(table, "protocol", str, where, "usbtmc"),
                     umockdev_dir=reader.get(table, "umockdev_dir", str, where, None))
        if device.usb_id is None and device.serial is None and device.path is None:
            raise reader.fail(where, "name the device by `resource`, `usb_id`, `serial` "
                              "and/or `path`")
        problem = device.settings_problem()
        if problem:
            key, message = problem
            raise reader.fail(f"{where}.{key}", message)
        return device

    @classmethod
    def from_ready(cls, ready: dict[str, Any], profile: DeviceProfile) -> UsbDevice:
        """`ready` is the emulator's "usb" object (devices/README.md)."""
        return cls(usb_id=f"{ready['vid']}:{ready['pid']}", serial=str(ready["serial"]),
                   umockdev_dir=str(ready["umockdev_dir"]))

    def settings_problem(self) -> tuple[str, str] | None:
        """(key, what is wrong) or None."""
        if self.usb_id is not None and not _USB_ID.fullmatch(self.usb_id):
            return "usb_id", f"must be VID:PID in hex, e.g. '1209:0001', got '{self.usb_id}'"
        if self.path is not None and not _USB_PATH.fullmatch(self.path):
            return "path", f"must be a bus/port path such as '1-2.3', got '{self.path}'"
        if self.protocol not in ("usbtmc", "raw"):
            return "protocol", f"must be 'usbtmc' or 'raw', got '{self.protocol}'"
        if self.interface is not None and not 0 <= self.interface <= 255:
            return "interface", f"must be 0..255, got {self.interface}"
        return None

    def usb_ids(self) -> tuple[int | None, int | None]:
        if self.usb_id is None:
            return None, None
        vendor, _, product = self.usb_id.partition(":")
        return int(vendor, 16), int(product, 16)

    def visa_resource(self) -> str | None:
        """The VISA resource string of this device, when VID:PID and serial are known."""
        vendor, product = self.usb_ids()
        if vendor is None or product is None or self.serial is None:
            return None
        return f"USB0::0x{vendor:04X}::0x{product:04X}::{self.serial}::INSTR"

    def describe(self) -> dict[str, Any]:
        criteria = {k: v for k, v in (("usb_id", self.usb_id), ("serial", self.serial),
                                      ("path", self.path)) if v is not None}
        address = self.visa_resource() or "usb " + " ".join(f"{k}={v}" for k, v in criteria.items())
        return {"kind": self.kind, "address": address,
                "settings": {**criteria, "protocol": self.protocol,
                             "umockdev": self.umockdev_dir is not None,
                             **({"interface": self.interface} if self.interface is not None else {})}}

    def hardware(self) -> HardwareIdentity | None:
        if self.umockdev_dir:
            use_umockdev_dir(self.umockdev_dir)
        wanted = {k: v for k, v in (("usb_id", (self.usb_id or "").lower() or None),
                                    ("serial", self.serial), ("path", self.path)) if v}
        for device in list_usb_devices():
            seen = {"usb_id": _usb_id(device["vendor_id"], device["product_id"]),
                    "serial": device["serial"], "path": device["path"]}
            if all(seen[k] == v for k, v in wanted.items()):
                return HardwareIdentity(
                    port=None, transport="usb", usb_id=seen["usb_id"],
                    usb_serial=device["serial"] or None,
                    usb_manufacturer=device["manufacturer"] or None,
                    usb_product=device["product"] or None, usb_bus=device["bus"],
                    usb_address=device["address"])
        return None

    def connect(self, timeout: float) -> Transport:
        if self.umockdev_dir:
            use_umockdev_dir(self.umockdev_dir)
        vendor, product = self.usb_ids()
        usb = UsbTransport(vendor_id=vendor, product_id=product, serial=self.serial or "",
                           path=self.path or "", interface_number=self.interface)
        if self.protocol == "raw":
            return usb
        return UsbtmcTransport(usb)

    def needs_umockdev(self) -> bool:
        return self.umockdev_dir is not None
