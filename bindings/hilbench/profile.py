"""Device profiles: a device's identity, interfaces, register map and defect knobs as data.

The emulator is the only parser of the profile schemas (one per device kind,
devices/<kind>/profile.cpp):
load_profile builds its DeviceProfile from `hilbench-emulator --dump-profile`, which
applies every default and names file and key path in every error (ConfigError here).
The defect knobs come from the emulator too (`hilbench-emulator --list-defects`), see
known_defects(). tests/test_bench_files.py covers good and bad profiles.
"""

from __future__ import annotations

import functools
import hashlib
import json
import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._core import ConfigError
from .emulation import find_tool

REGISTER_TYPES = {"u16": 1, "i16": 1, "u32": 2, "i32": 2, "f32": 2}
REGISTER_TABLES = ("holding", "input")
PARITIES = ("none", "odd", "even", "mark", "space")
IDENTITY_KEYS = (
    "vendor",
    "product_code",
    "revision",
    "vendor_url",
    "product_name",
    "model",
    "serial_number",
)
# Modbus FC 43/14 object ids of the identity fields (0x80: first extended object).
IDENTITY_OBJECT_IDS = {
    "vendor": 0x00,
    "product_code": 0x01,
    "revision": 0x02,
    "vendor_url": 0x03,
    "product_name": 0x04,
    "model": 0x05,
    "serial_number": 0x80,
}
# Exit status of hilbench-emulator for an invalid profile or command line (devices/README.md).
_EMULATOR_EXIT_USAGE = 2
_EMULATOR_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Register:
    table: str
    address: int
    name: str
    type: str
    scale: float
    unit: str
    value: float
    writable: bool
    word_order: str = "big"  # of 32-bit values: "big" = high word at the lower address
    band: tuple[float, float] | None = None  # a live measurement's declared (min, max)
    # How a live value moves by itself on a powered, measuring device, between any two reads:
    # "counter" never decreases (energy, clock seconds), "measurement" goes either way (a
    # measured quantity with its noise, a sub-second clock); None: only when written.
    free_running: str | None = None

    @property
    def words(self) -> int:
        return REGISTER_TYPES[self.type]

    @property
    def live(self) -> bool:
        """A live measurement (judged within its band) rather than a static value (exact)."""
        return self.band is not None

    @property
    def counter(self) -> bool:
        """Free-running and never decreasing: a later read is never below an earlier one."""
        return self.free_running == "counter"

    def raw_words(self) -> list[int]:
        """The register words, in address order, the device must hold for `value`."""
        raw_value = self.value * self.scale
        if self.type == "f32":
            packed = struct.pack(">f", raw_value)
        else:
            raw = int(round(raw_value))
            packed = struct.pack(_STRUCT_FORMATS[self.type], raw)
        words = [int.from_bytes(packed[i:i + 2], "big") for i in range(0, len(packed), 2)]
        return words[::-1] if self.word_order == "little" else words

    def decode(self, words: list[int]) -> float:
        """The engineering value of register words read in address order (type, word order
        and scaling as declared)."""
        if len(words) != self.words:
            raise ValueError(f"{self.name}: {len(words)} words, a {self.type} has {self.words}")
        ordered = words[::-1] if self.word_order == "little" else words
        packed = b"".join(w.to_bytes(2, "big") for w in ordered)
        raw = struct.unpack(">f" if self.type == "f32" else _STRUCT_FORMATS[self.type], packed)[0]
        return float(raw) / self.scale

    def resolution(self) -> float:
        """One count of the raw value in engineering units (the tolerance of an exact match
        after scaling; f32 values compare to single precision instead)."""
        return 1.0 / self.scale


_STRUCT_FORMATS = {"u16": ">H", "i16": ">h", "u32": ">I", "i32": ">i"}


@dataclass(frozen=True)
class Bit:
    table: str  # "coil" | "discrete_input"
    address: int
    name: str
    value: bool
    writable: bool


@dataclass(frozen=True)
class SerialSettings:
    baud: int = 9600
    data_bits: int = 8
    parity: str = "none"
    stop_bits: int = 1


@dataclass(frozen=True)
class DeviceProfile:
    """Any device kind's profile. What every kind has: path, sha256, kind, name,
    description, identity (the kind's identity fields: the meter's Modbus objects, a SCPI
    instrument's *IDN? fields manufacturer/model/serial_number/firmware), defects, and
    `data`: the kind-specific tables of the dump as plain dicts (e.g. a DMM's "reading", a
    source's "limits", a power supply's "limits" and "load"; units are in the key names).
    The Modbus fields (unit, serial, limits, registers, bits) are filled for the meter
    kind; other kinds keep their defaults (a SCPI instrument's serial is None in `data`)."""

    path: Path
    sha256: str
    kind: str
    name: str
    description: str
    identity: dict[str, str]
    unit: int = 0
    serial: SerialSettings = field(default_factory=SerialSettings)
    max_read_registers: int = 0
    max_read_bits: int = 0
    registers: tuple[Register, ...] = ()
    bits: tuple[Bit, ...] = ()
    defects: dict[str, bool] = field(default_factory=dict)
    has_serial: bool = True  # False: the profile declares no serial interface
    data: dict[str, Any] = field(default_factory=dict)

    def registers_in(self, table: str) -> list[Register]:
        return sorted((r for r in self.registers if r.table == table), key=lambda r: r.address)

    def mapped_addresses(self, table: str) -> set[int]:
        return {r.address + i for r in self.registers if r.table == table for i in range(r.words)}

    def first_unmapped_address(self, table: str) -> int:
        """Lowest address above the map that the device does not serve."""
        mapped = self.mapped_addresses(table)
        address = max(mapped, default=-1) + 1
        if address > 0xFFFF:
            raise ConfigError(f"{self.path}: the {table} table maps every address")
        return address

    def bits_in(self, table: str) -> list[Bit]:
        return sorted((b for b in self.bits if b.table == table), key=lambda b: b.address)

    @property
    def has_optical(self) -> bool:
        """True when the profile declares an optical port (a meter's [iec62056] table)."""
        return isinstance(self.data.get("iec62056"), dict)

    def identity_objects(self) -> dict[int, str]:
        return {IDENTITY_OBJECT_IDS[k]: v for k, v in self.identity.items()}


def _run_emulator(arguments: list[str], what: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run([find_tool("hilbench-emulator"), *arguments], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=_EMULATOR_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ConfigError(f"{what}: cannot run hilbench-emulator: {error}") from None


def _emulator_error(result: subprocess.CompletedProcess[str]) -> str:
    """The emulator's one-line message, without its program prefix."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    message = lines[-1] if lines else f"hilbench-emulator exited with status {result.returncode}"
    for prefix in ("hilbench-emulator: invalid profile: ", "hilbench-emulator: "):
        if message.startswith(prefix):
            return message[len(prefix):]
    return message


@functools.cache
def _defect_catalog() -> dict[str, dict[str, str]]:
    result = _run_emulator(["--list-defects"], "defect knobs")
    if result.returncode != 0:
        raise ConfigError(f"hilbench-emulator --list-defects: {_emulator_error(result)}")
    kinds = json.loads(result.stdout)["kinds"]
    return {kind: {knob["name"]: knob["description"] for knob in knobs}
            for kind, knobs in kinds.items()}


def known_defects(kind: str = "meter") -> dict[str, str]:
    """Defect knobs of one device kind, name -> description, as the emulator lists them
    (`hilbench-emulator --list-defects`; run once per process)."""
    catalog = _defect_catalog()
    if kind not in catalog:
        raise ConfigError(f"unknown device kind '{kind}' (known: {', '.join(sorted(catalog))})")
    return dict(catalog[kind])


def load_profile(path: str | Path) -> DeviceProfile:
    """Parses a profile through the emulator; ConfigError names the file and the key."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read profile: {error.strerror}") from None
    result = _run_emulator(["--profile", str(path), "--dump-profile"], str(path))
    if result.returncode == _EMULATOR_EXIT_USAGE:
        raise ConfigError(_emulator_error(result))
    if result.returncode != 0:
        raise ConfigError(f"{path}: hilbench-emulator --dump-profile failed: "
                          f"{_emulator_error(result)}")
    return _profile_from_dump(path, hashlib.sha256(raw).hexdigest(), json.loads(result.stdout))


# Keys of a dump every kind has; the rest is the kind's own data (DeviceProfile.data).
_COMMON_DUMP_KEYS = ("schema", "device", "identity", "defects")


def _profile_from_dump(path: Path, sha256: str, dump: dict[str, Any]) -> DeviceProfile:
    device = dump["device"]
    if "registers" not in dump:  # not a Modbus device: identity, kind data, defects
        return DeviceProfile(
            path=path, sha256=sha256, kind=device["kind"], name=device["name"],
            description=device["description"],
            identity={key: str(value) for key, value in dump["identity"].items() if value != ""},
            defects=dict(dump["defects"]), has_serial=dump.get("serial") is not None,
            serial=SerialSettings(**dump["serial"]) if dump.get("serial") else SerialSettings(),
            data={key: value for key, value in dump.items() if key not in _COMMON_DUMP_KEYS})
    # "" marks an optional identity object the device does not have.
    identity = {key: value for key, value in dump["identity"].items() if value != ""}
    # null: the profile declares no serial interface; keep the dataclass's defaults then.
    serial = SerialSettings(**dump["serial"]) if dump["serial"] is not None else SerialSettings()
    registers = tuple(
        Register(table=r["table"], address=r["address"], name=r["name"], type=r["type"],
                 scale=float(r["scale"]), unit=r["unit"], value=float(r["value"]),
                 writable=r["writable"], word_order=r.get("word_order", "big"),
                 band=(float(r["band"]["min"]), float(r["band"]["max"]))
                 if r.get("band") else None, free_running=r.get("free_running"))
        for r in dump["registers"])
    bits = tuple(
        [Bit(table="coil", address=b["address"], name=b["name"], value=b["value"],
             writable=b["writable"]) for b in dump["coils"]]
        + [Bit(table="discrete_input", address=b["address"], name=b["name"], value=b["value"],
               writable=False) for b in dump["discrete_inputs"]])
    return DeviceProfile(
        path=path,
        sha256=sha256,
        kind=device["kind"],
        name=device["name"],
        description=device["description"],
        unit=device["unit"],
        identity=identity,
        serial=serial,
        max_read_registers=dump["limits"]["max_read_registers"],
        max_read_bits=dump["limits"]["max_read_bits"],
        registers=registers,
        bits=bits,
        defects=dict(dump["defects"]),
        has_serial=dump["serial"] is not None,
        data={key: value for key, value in dump.items() if key not in _COMMON_DUMP_KEYS},
    )
