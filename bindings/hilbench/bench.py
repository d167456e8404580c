"""Bench descriptions: which devices are on the bench, what they are, how to reach them.

A bench is data (a TOML file, or the embedded emulated bench) resolved to device drivers
through a registry keyed by driver name, so new device kinds and transports plug in
without editing a central list. Parsing is strict: errors name the file and the key.

    schema = 1
    name = "lab-3"
    [[devices]]
    name = "meter-a"                       # optional, default: the profile's device.name
    profile = "profiles/em1-meter.toml"    # relative to this file
    driver = "modbus"                      # optional, default "modbus"
    emulated = false                       # true: a simulator, not certification evidence
    [devices.tcp]
    host = "192.0.2.10"
    port = 502
    [devices.serial]
    port = "/dev/ttyUSB0"                  # baud/data_bits/parity/stop_bits default to the profile
    umockdev_dir = "/tmp/umockdev.X"       # optional: port presented by a umockdev testbed
    [devices.emulator]                     # optional: the plugin starts hilbench-emulator
    defects = ["illegal_address_returns_data"]
    serial = true
    tcp = true
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Callable

from ._core import ConfigError
from .profile import PARITIES, DeviceProfile, known_defects, load_profile
from .strict_toml import StrictReader, read_toml

BENCH_SCHEMA = 1


@dataclass(frozen=True)
class SerialEndpoint:
    port: str
    baud: int
    data_bits: int
    parity: str
    stop_bits: int
    umockdev_dir: str | None = None


@dataclass(frozen=True)
class TcpEndpoint:
    host: str
    port: int


@dataclass(frozen=True)
class EmulatorSpec:
    defects: tuple[str, ...] = ()
    serial: bool = True
    tcp: bool = True


@dataclass(frozen=True)
class DeviceSpec:
    name: str
    driver: str
    profile: DeviceProfile
    emulated: bool
    serial: SerialEndpoint | None = None
    tcp: TcpEndpoint | None = None
    emulator: EmulatorSpec | None = None


@dataclass(frozen=True)
class BenchSpec:
    name: str
    source: str  # "embedded" or the bench file path
    sha256: str | None
    devices: tuple[DeviceSpec, ...] = field(default_factory=tuple)

    @property
    def emulated(self) -> bool:
        return any(d.emulated for d in self.devices)

    def needs_umockdev(self) -> bool:
        return any((d.emulator is not None and d.emulator.serial)
                   or (d.serial is not None and d.serial.umockdev_dir) for d in self.devices)


def embedded_profile_dir() -> Path:
    """Profiles shipped with hilbench: installed into the package by CMake (wheel), or read
    from devices/profiles when running from a source tree / editable install."""
    installed = Path(str(resources.files("hilbench") / "profiles"))
    if installed.is_dir():
        return installed
    source_tree = Path(__file__).resolve().parents[2] / "devices" / "profiles"
    if source_tree.is_dir():
        return source_tree
    raise ConfigError(f"embedded device profiles not found (looked in {installed} and {source_tree})")


def embedded_bench(defects: tuple[str, ...] = ()) -> BenchSpec:
    """The default bench: one emulated EM-1 meter on an emulated serial port and loopback TCP."""
    for defect in defects:
        if defect not in known_defects():
            raise ConfigError(f"--defect: unknown defect '{defect}' (known: {', '.join(known_defects())})")
    profile = load_profile(embedded_profile_dir() / "em1-meter.toml")
    device = DeviceSpec(name=profile.name, driver="modbus", profile=profile, emulated=True,
                        emulator=EmulatorSpec(defects=defects))
    return BenchSpec(name="embedded-emulated", source="embedded", sha256=None, devices=(device,))


def load_bench(path: str | Path) -> BenchSpec:
    path = Path(path)
    raw, doc = read_toml(path, "bench file")
    r = StrictReader(path)
    r.check_keys(doc, {"schema", "name", "devices"}, "")
    schema = r.get(doc, "schema", int, "")
    if schema != BENCH_SCHEMA:
        raise r.fail("schema", f"unsupported bench schema {schema} (this hilbench reads {BENCH_SCHEMA})")
    devices_raw = r.get(doc, "devices", list, "")
    if not devices_raw:
        raise r.fail("devices", "a bench needs at least one device")
    devices: list[DeviceSpec] = []
    for index, item in enumerate(devices_raw):
        where = f"devices[{index}]"
        if not isinstance(item, dict):
            raise r.fail(where, "expected a table ([[devices]])")
        devices.append(_device(r, path, item, where, devices))
    return BenchSpec(name=r.get(doc, "name", str, "", path.stem), source=str(path),
                     sha256=hashlib.sha256(raw).hexdigest(), devices=tuple(devices))


def _device(r: StrictReader, path: Path, item: dict[str, Any], where: str,
            earlier: list[DeviceSpec]) -> DeviceSpec:
    r.check_keys(item, {"name", "profile", "driver", "emulated", "tcp", "serial", "emulator"}, where)
    profile_path = Path(r.get(item, "profile", str, where))
    if not profile_path.is_absolute():
        profile_path = path.parent / profile_path
    profile = load_profile(profile_path)
    name = r.get(item, "name", str, where, profile.name)
    driver = r.get(item, "driver", str, where, "modbus")
    emulated = r.get(item, "emulated", bool, where, False)

    tcp = None
    if "tcp" in item:
        w = f"{where}.tcp"
        table = r.table(item, "tcp", w)
        r.check_keys(table, {"host", "port"}, w)
        port = r.get(table, "port", int, w)
        if not 1 <= port <= 65535:
            raise r.fail(f"{w}.port", f"must be 1..65535, got {port}")
        tcp = TcpEndpoint(host=r.get(table, "host", str, w), port=port)

    serial = None
    if "serial" in item:
        w = f"{where}.serial"
        table = r.table(item, "serial", w)
        r.check_keys(table, {"port", "baud", "data_bits", "parity", "stop_bits", "umockdev_dir"}, w)
        parity = r.get(table, "parity", str, w, profile.serial.parity)
        if parity not in PARITIES:
            raise r.fail(f"{w}.parity", f"must be one of {', '.join(PARITIES)}, got '{parity}'")
        serial = SerialEndpoint(
            port=r.get(table, "port", str, w),
            baud=r.get(table, "baud", int, w, profile.serial.baud),
            data_bits=r.get(table, "data_bits", int, w, profile.serial.data_bits),
            parity=parity,
            stop_bits=r.get(table, "stop_bits", int, w, profile.serial.stop_bits),
            umockdev_dir=r.get(table, "umockdev_dir", str, w, None),
        )

    emulator = None
    if "emulator" in item:
        w = f"{where}.emulator"
        table = r.table(item, "emulator", w)
        r.check_keys(table, {"defects", "serial", "tcp"}, w)
        defects = r.get(table, "defects", list, w, [])
        for d_index, defect in enumerate(defects):
            if not isinstance(defect, str) or defect not in known_defects(profile.kind):
                raise r.fail(f"{w}.defects[{d_index}]", f"unknown defect {defect!r} "
                             f"(known: {', '.join(known_defects(profile.kind))})")
        emulator = EmulatorSpec(defects=tuple(defects), serial=r.get(table, "serial", bool, w, True),
                                tcp=r.get(table, "tcp", bool, w, True))
        emulated = True
        if tcp or serial:
            raise r.fail(where, "a device with [emulator] gets its endpoints from the emulator; "
                         "remove [tcp]/[serial]")
    elif tcp is None and serial is None:
        raise r.fail(where, "no way to reach the device: add [devices.tcp] and/or [devices.serial]")
    if driver not in driver_names():
        raise r.fail(f"{where}.driver", f"unknown driver '{driver}' (known: {', '.join(driver_names())})")
    if any(d.name == name for d in earlier):
        raise r.fail(f"{where}.name", f"device name '{name}' used twice")
    return DeviceSpec(name=name, driver=driver, profile=profile, emulated=emulated,
                      serial=serial, tcp=tcp, emulator=emulator)


# ---- driver registry -------------------------------------------------------------------
DriverFactory = Callable[..., Any]
_DRIVERS: dict[str, DriverFactory] = {}


def register_driver(name: str) -> Callable[[DriverFactory], DriverFactory]:
    """Registers a device driver class under `name` (used by bench files' `driver = ...`).
    Third-party packages can instead expose an entry point in group "hilbench.drivers"."""

    def decorate(factory: DriverFactory) -> DriverFactory:
        _DRIVERS[name] = factory
        return factory

    return decorate


def _load_entry_point_drivers() -> None:
    for entry in entry_points(group="hilbench.drivers"):
        _DRIVERS.setdefault(entry.name, entry.load())


def driver_names() -> list[str]:
    from . import devices  # noqa: F401  (registers the built-in drivers)

    _load_entry_point_drivers()
    return sorted(_DRIVERS)


def driver_for(name: str) -> DriverFactory:
    driver_names()
    try:
        return _DRIVERS[name]
    except KeyError:
        raise ConfigError(f"unknown driver '{name}' (known: {', '.join(sorted(_DRIVERS))})") from None
