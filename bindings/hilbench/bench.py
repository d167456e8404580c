"""Bench files: which devices are on the bench, what they are, how to reach them.

A bench is data (a TOML file, or the embedded emulated bench). Each device names a profile,
a driver (registry "hilbench.drivers") and one table per resource kind it is reached by
(registry "hilbench.resources"), so a new device kind or endpoint kind plugs in without
editing this file. Parsing is strict: errors name the file and the key.

    schema = 1
    name = "lab-3"
    [[devices]]
    name = "meter-a"                       # optional, default: the profile's device.name
    profile = "profiles/em1-meter.toml"    # relative to this file
    driver = "modbus"                      # optional, default "modbus"
    emulated = false                       # true: a simulator, not certification evidence
    role = "dut"                           # optional: the device under test (`dut` fixture)
    powered_by = "psu2"                    # optional: the supply feeding it (another device)
    terminals = "rs3"                      # optional: the source driving its meter terminals
    [devices.tcp]                          # resource kind "tcp"
    host = "192.0.2.10"
    port = 502
    [devices.serial]                       # resource kind "serial"
    port = "/dev/ttyUSB0"                  # baud/data_bits/parity/stop_bits default to the profile
    umockdev_dir = "/tmp/umockdev.X"       # optional: port presented by a umockdev testbed
    [devices.optical]                      # resource kind "optical": an optical probe
    port = "/dev/ttyUSB1"                  # (IEC 62056-21 mode C; defaults 300 7E1)
    [devices.emulator]                     # optional: the plugin starts hilbench-emulator
    defects = ["illegal_address_returns_data"]
    serial = true
    tcp = true
    optical = true                         # the profile's [iec62056] port, if it has one
    [devices.calibration]                  # reference instruments: every report warns
    certificate = "DAkkS-12345-2026"       # when a run's date is after `due`
    due = 2027-03-31                       # a TOML date
    laboratory = "Cal Lab GmbH"            # optional
    issued = 2026-03-31                    # optional
"""

from __future__ import annotations

import hashlib
from datetime import date
from importlib import resources as package_files
from pathlib import Path
from typing import Any

from ._core import ConfigError
from .drivers import DRIVERS
from .profile import DeviceProfile, known_defects, load_profile
from .resources import RESOURCE_KINDS, Resource
from .spec import BenchSpec, Calibration, DeviceSpec, EmulatorSpec
from .strict_toml import StrictReader, read_toml

BENCH_SCHEMA = 1
DEVICE_KEYS = {"name", "profile", "driver", "emulated", "emulator", "calibration", "role",
               "powered_by", "terminals"}
ROLES = ("dut",)
# Wiring keys: which profile kinds may be named there (the world's owners of that quantity).
WIRING_KINDS = {"powered_by": ("psu",), "terminals": ("source",)}


def embedded_profile_dir() -> Path:
    """Profiles shipped with hilbench: installed into the package by CMake (wheel), or read
    from devices/profiles when running from a source tree / editable install."""
    installed = Path(str(package_files.files("hilbench") / "profiles"))
    if installed.is_dir():
        return installed
    source_tree = Path(__file__).resolve().parents[2] / "devices" / "profiles"
    if source_tree.is_dir():
        return source_tree
    raise ConfigError(f"embedded device profiles not found (looked in {installed} and {source_tree})")


# The embedded emulated bench: (profile file, driver, wiring and role) of each device, DUT
# first (reports list devices in bench order). The power supply feeds the DUT meter, the
# reference source drives its terminals and counts its pulses (devices/README.md, "The
# world"); the supply feeds the transmitter too; the reference DMM stands beside them.
EMBEDDED_DEVICES: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("em1-meter.toml", "modbus-meter", {"role": "dut", "powered_by": "psu2", "terminals": "rs3"}),
    ("pt100-transmitter.toml", "modbus-transmitter", {"powered_by": "psu2"}),
    ("rs3-reference-source.toml", "scpi-source", {}),
    ("dmm6-reference.toml", "scpi-dmm", {}),
    ("psu2-power-supply.toml", "scpi-psu", {}),
)


def embedded_bench(defects: tuple[str, ...] = ()) -> BenchSpec:
    """The default bench, one physical world: the EM-1 meter (the DUT; Modbus RTU 8E1 on an
    emulated serial port, Modbus TCP on loopback, its optical port) powered by the PSU-2 and
    driven by the RS-3 reference source, a TT-100 transmitter (Modbus RTU, on the same
    supply) and the DMM-6
    reference DMM. `defects` are knobs: "DEVICE:KNOB", or a bare KNOB of the DUT (or of the
    one device whose kind has it)."""
    profiles = [(load_profile(embedded_profile_dir() / file), driver, wiring)
                for file, driver, wiring in EMBEDDED_DEVICES]
    wanted = _route_defects(defects, [(profile, wiring.get("role")) for profile, _, wiring
                                      in profiles])
    devices = tuple(
        DeviceSpec(name=profile.name, driver=driver, profile=profile, emulated=True,
                   emulator=EmulatorSpec(defects=wanted.get(profile.name, ())),
                   role=wiring.get("role"), powered_by=wiring.get("powered_by"),
                   terminals=wiring.get("terminals"))
        for profile, driver, wiring in profiles)
    return BenchSpec(name="embedded-emulated", source="embedded", sha256=None, devices=devices)


def _route_defects(defects: tuple[str, ...], devices: list[tuple[DeviceProfile, str | None]]
                   ) -> dict[str, tuple[str, ...]]:
    """Device name -> its knobs. "DEVICE:KNOB" names the device; a bare knob goes to the DUT
    when its kind has it, else to the one device whose kind has it (several: name one)."""
    routed: dict[str, list[str]] = {}
    names = [profile.name for profile, _ in devices]
    for defect in defects:
        device, _, knob = defect.rpartition(":")
        if device:
            match = [profile for profile, _ in devices if profile.name == device]
            if not match:
                raise ConfigError(f"--defect {defect}: no device '{device}' on the embedded "
                                  f"bench (devices: {', '.join(names)})")
        else:
            duts = [profile for profile, role in devices
                    if role == "dut" and knob in known_defects(profile.kind)]
            match = duts or [profile for profile, _ in devices
                             if knob in known_defects(profile.kind)]
            if len(match) > 1:
                raise ConfigError(f"--defect {knob}: several devices have this knob "
                                  f"({', '.join(p.name for p in match)}); name one as DEVICE:{knob}")
        known = {k for profile in match for k in known_defects(profile.kind)}
        if not match or knob not in known:
            every = sorted({f"{profile.name}:{k}" for profile, _ in devices
                            for k in known_defects(profile.kind)})
            raise ConfigError(f"--defect: unknown defect '{defect}' (known: {', '.join(every)})")
        routed.setdefault(match[0].name, []).append(knob)
    return {name: tuple(knobs) for name, knobs in routed.items()}


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
    _check_wiring(r, devices)
    return BenchSpec(name=r.get(doc, "name", str, "", path.stem), source=str(path),
                     sha256=hashlib.sha256(raw).hexdigest(), devices=tuple(devices))


def _device(r: StrictReader, path: Path, item: dict[str, Any], where: str,
            earlier: list[DeviceSpec]) -> DeviceSpec:
    kinds = RESOURCE_KINDS.names()
    r.check_keys(item, DEVICE_KEYS | set(kinds), where)
    profile_path = Path(r.get(item, "profile", str, where))
    if not profile_path.is_absolute():
        profile_path = path.parent / profile_path
    try:
        profile = load_profile(profile_path)
    except ConfigError as error:  # names the profile; say which bench entry pointed at it
        raise r.fail(f"{where}.profile", str(error)) from None
    name = r.get(item, "name", str, where, profile.name)
    driver_name = r.get(item, "driver", str, where, "modbus")
    emulated = r.get(item, "emulated", bool, where, False)
    try:
        driver = DRIVERS.get(driver_name)
    except ConfigError as error:
        raise r.fail(f"{where}.driver", str(error)) from None

    resources: dict[str, Resource] = {}
    for kind in kinds:
        if kind in item:
            w = f"{where}.{kind}"
            resources[kind] = RESOURCE_KINDS.get(kind).from_bench(r, r.table(item, kind, w), w,
                                                                  profile)

    emulator = None
    if "emulator" in item:
        emulator = _emulator(r, item, f"{where}.emulator", profile.kind)
        emulated = True
        if resources:
            raise r.fail(where, "a device with [emulator] gets its endpoints from the emulator; "
                         f"remove [{'], ['.join(resources)}]")
    elif not resources:
        raise r.fail(where, "no way to reach the device: add a table for one of the resource "
                     f"kinds its driver '{driver_name}' binds ({', '.join(driver.binds)})")
    unusable = [kind for kind in resources if kind not in driver.binds]
    if unusable:
        raise r.fail(f"{where}.{unusable[0]}", f"driver '{driver_name}' cannot use a "
                     f"'{unusable[0]}' resource (it binds: {', '.join(driver.binds)})")
    if any(d.name == name for d in earlier):
        raise r.fail(f"{where}.name", f"device name '{name}' used twice")
    calibration = _calibration(r, item, f"{where}.calibration") if "calibration" in item else None
    role = r.get(item, "role", str, where, None)
    if role is not None and role not in ROLES:
        raise r.fail(f"{where}.role", f"unknown role {role!r} (known: {', '.join(ROLES)})")
    return DeviceSpec(name=name, driver=driver_name, profile=profile, emulated=emulated,
                      resources=resources, emulator=emulator, calibration=calibration,
                      role=role, powered_by=r.get(item, "powered_by", str, where, None),
                      terminals=r.get(item, "terminals", str, where, None))


def _check_wiring(r: StrictReader, devices: list[DeviceSpec]) -> None:
    """Wiring names another device of the bench, of a kind that owns that quantity; one DUT."""
    names = {d.name: d for d in devices}
    for index, device in enumerate(devices):
        for key, kinds in WIRING_KINDS.items():
            target_name = getattr(device, key)
            if target_name is None:
                continue
            where = f"devices[{index}].{key}"
            target = names.get(target_name)
            if target is None or target is device:
                raise r.fail(where, f"expected the name of another device of this bench, got "
                             f"{target_name!r} (devices: {', '.join(names)})")
            if target.profile.kind not in kinds:
                raise r.fail(where, f"device {target_name!r} is a {target.profile.kind}; "
                             f"{key} expects a {' or '.join(kinds)}")
    duts = [i for i, d in enumerate(devices) if d.role == "dut"]
    if len(duts) > 1:
        raise r.fail(f"devices[{duts[1]}].role", "a bench has one device with role \"dut\"")


def _calibration(r: StrictReader, item: dict[str, Any], where: str) -> Calibration:
    table = r.table(item, "calibration", where)
    r.check_keys(table, {"certificate", "due", "laboratory", "issued"}, where)
    calibration = Calibration(certificate=r.get(table, "certificate", str, where),
                              due=r.get(table, "due", date, where),
                              laboratory=r.get(table, "laboratory", str, where, ""),
                              issued=r.get(table, "issued", date, where, None))
    if calibration.issued is not None and calibration.issued > calibration.due:
        raise r.fail(f"{where}.issued", f"{calibration.issued} is after the due date "
                     f"{calibration.due}")
    return calibration


def _emulator(r: StrictReader, item: dict[str, Any], where: str, kind: str) -> EmulatorSpec:
    table = r.table(item, "emulator", where)
    r.check_keys(table, {"defects", "serial", "tcp", "optical", "usb"}, where)
    known = known_defects(kind)
    defects = r.get(table, "defects", list, where, [])
    for index, defect in enumerate(defects):
        if not isinstance(defect, str) or defect not in known:
            raise r.fail(f"{where}.defects[{index}]", f"unknown defect {defect!r} "
                         f"(known: {', '.join(known)})")
    return EmulatorSpec(defects=tuple(defects), serial=r.get(table, "serial", bool, where, True),
                        tcp=r.get(table, "tcp", bool, where, True),
                        optical=r.get(table, "optical", bool, where, True),
                        usb=r.get(table, "usb", bool, where, False))
