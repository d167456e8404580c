"""Device profiles: a device's identity, interfaces, register map and defect knobs as data.

The emulator (devices/emulator/profile.cpp) parses the same TOML schema in C++;
tests/test_profiles.py checks both parsers agree (`hilbench-emulator --dump-profile`).
Parsing is strict: an unknown key or a wrong type is a ConfigError naming file and key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._core import ConfigError
from .strict_toml import StrictReader, read_toml

REGISTER_TYPES = {"u16": 1, "i16": 1, "u32": 2, "i32": 2, "f32": 2}
REGISTER_TABLES = ("holding", "input")
PARITIES = ("none", "odd", "even", "mark", "space")
DEFECTS = (
    "illegal_address_returns_data",
    "illegal_function_silent",
    "illegal_value_accepted",
    "bad_crc_answered",
    "device_id_wrong_revision",
    "tcp_register_skew",
)
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

    @property
    def words(self) -> int:
        return REGISTER_TYPES[self.type]

    def raw_words(self) -> list[int]:
        """The register words the device must hold for `value` (big-endian word order)."""
        import struct

        raw_value = self.value * self.scale
        if self.type == "f32":
            packed = struct.pack(">f", raw_value)
        else:
            raw = int(round(raw_value))
            fmt = {"u16": ">H", "i16": ">h", "u32": ">I", "i32": ">i"}[self.type]
            packed = struct.pack(fmt, raw)
        return [int.from_bytes(packed[i:i + 2], "big") for i in range(0, len(packed), 2)]


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
    path: Path
    sha256: str
    kind: str
    name: str
    description: str
    unit: int
    identity: dict[str, str]
    serial: SerialSettings
    max_read_registers: int
    max_read_bits: int
    registers: tuple[Register, ...]
    bits: tuple[Bit, ...]
    defects: dict[str, bool] = field(default_factory=dict)

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

    def identity_objects(self) -> dict[int, str]:
        return {IDENTITY_OBJECT_IDS[k]: v for k, v in self.identity.items()}


def load_profile(path: str | Path) -> DeviceProfile:
    path = Path(path)
    raw, doc = read_toml(path, "profile")
    r = StrictReader(path)
    r.check_keys(doc, {"schema", "device", "identity", "serial", "limits", "registers", "coils",
                       "discrete_inputs", "defects"}, "")
    schema = r.get(doc, "schema", int, "")
    if schema != 1:
        raise r.fail("schema", f"unsupported profile schema {schema} (this hilbench reads 1)")

    device = r.table(doc, "device", "device")
    r.check_keys(device, {"kind", "name", "description", "unit"}, "device")
    unit = r.get(device, "unit", int, "device")
    if not 1 <= unit <= 247:
        raise r.fail("device.unit", f"must be 1..247, got {unit}")

    identity_table = r.table(doc, "identity", "identity")
    r.check_keys(identity_table, set(IDENTITY_KEYS), "identity")
    identity = {key: r.get(identity_table, key, str, "identity") for key in IDENTITY_KEYS
                if key in identity_table}
    for key in ("vendor", "product_code", "revision"):  # the mandatory "basic" objects
        if key not in identity:
            raise r.fail(f"identity.{key}", "missing (FC 43/14 basic objects are mandatory)")

    serial_table = r.table(doc, "serial", "serial", required=False)
    r.check_keys(serial_table, {"baud", "data_bits", "parity", "stop_bits"}, "serial")
    serial = SerialSettings(
        baud=r.get(serial_table, "baud", int, "serial", 9600),
        data_bits=r.get(serial_table, "data_bits", int, "serial", 8),
        parity=r.get(serial_table, "parity", str, "serial", "none"),
        stop_bits=r.get(serial_table, "stop_bits", int, "serial", 1),
    )
    if serial.parity not in PARITIES:
        raise r.fail("serial.parity", f"must be one of {', '.join(PARITIES)}, got '{serial.parity}'")
    if serial.data_bits not in (5, 6, 7, 8) or serial.stop_bits not in (1, 2) or serial.baud <= 0:
        raise r.fail("serial", "data_bits must be 5..8, stop_bits 1 or 2, baud > 0")

    limits = r.table(doc, "limits", "limits", required=False)
    r.check_keys(limits, {"max_read_registers", "max_read_bits"}, "limits")
    max_regs = r.get(limits, "max_read_registers", int, "limits", 125)
    max_bits = r.get(limits, "max_read_bits", int, "limits", 2000)
    if not 1 <= max_regs <= 125 or not 1 <= max_bits <= 2000:
        raise r.fail("limits", "max_read_registers must be 1..125 and max_read_bits 1..2000")

    registers = tuple(_registers(r, doc))
    bits = tuple(_bits(r, doc, "coils", "coil") + _bits(r, doc, "discrete_inputs", "discrete_input"))

    defects_table = r.table(doc, "defects", "defects", required=False)
    r.check_keys(defects_table, set(DEFECTS), "defects")
    defects = {name: r.get(defects_table, name, bool, "defects", False) for name in DEFECTS}

    return DeviceProfile(
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
        kind=r.get(device, "kind", str, "device"),
        name=r.get(device, "name", str, "device"),
        description=r.get(device, "description", str, "device", ""),
        unit=unit,
        identity=identity,
        serial=serial,
        max_read_registers=max_regs,
        max_read_bits=max_bits,
        registers=registers,
        bits=bits,
        defects=defects,
    )


def _array_of_tables(r: StrictReader, doc: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = doc.get(key, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise r.fail(key, "expected an array of tables ([[%s]])" % key)
    return items


def _registers(r: StrictReader, doc: dict[str, Any]) -> list[Register]:
    out: list[Register] = []
    taken: dict[tuple[str, int], str] = {}
    for index, item in enumerate(_array_of_tables(r, doc, "registers")):
        where = f"registers[{index}]"
        r.check_keys(item, {"table", "address", "name", "type", "scale", "unit", "value", "writable"}, where)
        table = r.get(item, "table", str, where)
        if table not in REGISTER_TABLES:
            raise r.fail(f"{where}.table", f"must be 'holding' or 'input', got '{table}'")
        kind = r.get(item, "type", str, where)
        if kind not in REGISTER_TYPES:
            raise r.fail(f"{where}.type", f"must be one of {', '.join(REGISTER_TYPES)}, got '{kind}'")
        address = r.get(item, "address", int, where)
        if not 0 <= address <= 0xFFFF - (REGISTER_TYPES[kind] - 1):
            raise r.fail(f"{where}.address", f"out of range 0..65535: {address}")
        scale = float(r.get(item, "scale", (int, float), where, 1))
        if scale <= 0:
            raise r.fail(f"{where}.scale", "must be > 0")
        register = Register(
            table=table, address=address, name=r.get(item, "name", str, where), type=kind,
            scale=scale, unit=r.get(item, "unit", str, where, "1"),
            value=float(r.get(item, "value", (int, float), where)),
            writable=r.get(item, "writable", bool, where, False),
        )
        try:
            register.raw_words()
        except Exception:  # struct.error / OverflowError: value does not fit the type
            raise r.fail(f"{where}.value", f"{register.value} x scale {scale} does not fit {kind}") from None
        for offset in range(register.words):
            slot = (table, address + offset)
            if slot in taken:
                raise r.fail(f"{where}.address",
                             f"{table} register {address + offset} already used by '{taken[slot]}'")
            taken[slot] = register.name
        out.append(register)
    return out


def _bits(r: StrictReader, doc: dict[str, Any], key: str, table: str) -> list[Bit]:
    out: list[Bit] = []
    taken: set[int] = set()
    for index, item in enumerate(_array_of_tables(r, doc, key)):
        where = f"{key}[{index}]"
        allowed = {"address", "name", "value", "writable"} if table == "coil" else {"address", "name", "value"}
        r.check_keys(item, allowed, where)
        address = r.get(item, "address", int, where)
        if not 0 <= address <= 0xFFFF:
            raise r.fail(f"{where}.address", f"out of range 0..65535: {address}")
        if address in taken:
            raise r.fail(f"{where}.address", f"{table} {address} defined twice")
        taken.add(address)
        out.append(Bit(table=table, address=address, name=r.get(item, "name", str, where),
                       value=r.get(item, "value", bool, where),
                       writable=r.get(item, "writable", bool, where, False)))
    return out
