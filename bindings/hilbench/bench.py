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
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Callable

from ._core import ConfigError
from .profile import DEFECTS, PARITIES, DeviceProfile, load_profile

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
        if defect not in DEFECTS:
            raise ConfigError(f"--defect: unknown defect '{defect}' (known: {', '.join(DEFECTS)})")
    profile = load_profile(embedded_profile_dir() / "em1-meter.toml")
    device = DeviceSpec(name=profile.name, driver="modbus", profile=profile, emulated=True,
                        emulator=EmulatorSpec(defects=defects))
    return BenchSpec(name="embedded-emulated", source="embedded", sha256=None, devices=(device,))


def load_bench(path: str | Path) -> BenchSpec:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read bench file: {error.strerror}") from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None

    def fail(key: str, message: str) -> ConfigError:
        return ConfigError(f"{path}: {key}: {message}")

    def check_keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
        for key in table:
            if key not in allowed:
                raise fail(f"{where}.{key}" if where else key,
                           f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def typed(table: dict[str, Any], key: str, kind: type, where: str, default: Any = ...) -> Any:
        name = f"{where}.{key}" if where else key
        if key not in table:
            if default is ...:
                raise fail(name, "missing")
            return default
        value = table[key]
        if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
            expected = {int: "an integer", str: "a string", bool: "a boolean", list: "an array",
                        dict: "a table"}[kind]
            raise fail(name, f"expected {expected}, got {type(value).__name__} {value!r}")
        return value

    check_keys(doc, {"schema", "name", "devices"}, "")
    schema = typed(doc, "schema", int, "")
    if schema != BENCH_SCHEMA:
        raise fail("schema", f"unsupported bench schema {schema} (this hilbench reads {BENCH_SCHEMA})")
    devices_raw = typed(doc, "devices", list, "")
    if not devices_raw:
        raise fail("devices", "a bench needs at least one device")
    devices: list[DeviceSpec] = []
    for index, item in enumerate(devices_raw):
        where = f"devices[{index}]"
        if not isinstance(item, dict):
            raise fail(where, "expected a table ([[devices]])")
        check_keys(item, {"name", "profile", "driver", "emulated", "tcp", "serial", "emulator"}, where)
        profile_path = Path(typed(item, "profile", str, where))
        if not profile_path.is_absolute():
            profile_path = path.parent / profile_path
        profile = load_profile(profile_path)
        name = typed(item, "name", str, where, profile.name)
        driver = typed(item, "driver", str, where, "modbus")
        emulated = typed(item, "emulated", bool, where, False)

        tcp = None
        if "tcp" in item:
            table = typed(item, "tcp", dict, where)
            check_keys(table, {"host", "port"}, f"{where}.tcp")
            port = typed(table, "port", int, f"{where}.tcp")
            if not 1 <= port <= 65535:
                raise fail(f"{where}.tcp.port", f"must be 1..65535, got {port}")
            tcp = TcpEndpoint(host=typed(table, "host", str, f"{where}.tcp"), port=port)

        serial = None
        if "serial" in item:
            table = typed(item, "serial", dict, where)
            w = f"{where}.serial"
            check_keys(table, {"port", "baud", "data_bits", "parity", "stop_bits", "umockdev_dir"}, w)
            parity = typed(table, "parity", str, w, profile.serial.parity)
            if parity not in PARITIES:
                raise fail(f"{w}.parity", f"must be one of {', '.join(PARITIES)}, got '{parity}'")
            serial = SerialEndpoint(
                port=typed(table, "port", str, w),
                baud=typed(table, "baud", int, w, profile.serial.baud),
                data_bits=typed(table, "data_bits", int, w, profile.serial.data_bits),
                parity=parity,
                stop_bits=typed(table, "stop_bits", int, w, profile.serial.stop_bits),
                umockdev_dir=typed(table, "umockdev_dir", str, w, None),
            )

        emulator = None
        if "emulator" in item:
            table = typed(item, "emulator", dict, where)
            w = f"{where}.emulator"
            check_keys(table, {"defects", "serial", "tcp"}, w)
            defects = typed(table, "defects", list, w, [])
            for d_index, defect in enumerate(defects):
                if not isinstance(defect, str) or defect not in DEFECTS:
                    raise fail(f"{w}.defects[{d_index}]", f"unknown defect {defect!r} "
                               f"(known: {', '.join(DEFECTS)})")
            emulator = EmulatorSpec(defects=tuple(defects), serial=typed(table, "serial", bool, w, True),
                                    tcp=typed(table, "tcp", bool, w, True))
            emulated = True
            if tcp or serial:
                raise fail(where, "a device with [emulator] gets its endpoints from the emulator; "
                           "remove [tcp]/[serial]")
        elif tcp is None and serial is None:
            raise fail(where, "no way to reach the device: add [devices.tcp] and/or [devices.serial]")
        if driver not in driver_names():
            raise fail(f"{where}.driver", f"unknown driver '{driver}' (known: {', '.join(driver_names())})")
        if any(d.name == name for d in devices):
            raise fail(f"{where}.name", f"device name '{name}' used twice")
        devices.append(DeviceSpec(name=name, driver=driver, profile=profile, emulated=emulated,
                                  serial=serial, tcp=tcp, emulator=emulator))
    return BenchSpec(name=typed(doc, "name", str, "", path.stem), source=str(path),
                     sha256=hashlib.sha256(raw).hexdigest(), devices=tuple(devices))


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
