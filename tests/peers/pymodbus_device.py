#!/usr/bin/env python3
"""Independent Modbus peer device built on pymodbus (3.16) — no hilbench code involved.

Serves one device profile (the hilbench profile TOML schema, parsed here on its own with
tomllib) over Modbus TCP and/or Modbus RTU on a serial port (e.g. a pty slave):

    python tests/peers/pymodbus_device.py --profile FILE [--tcp-port PORT] [--serial-port PATH]

At least one of --tcp-port / --serial-port is required; TCP binds 127.0.0.1 (port 0 picks an
ephemeral port). When both are given, the two interfaces serve the same register memory.
When serving, exactly one JSON line is printed to stdout:

    {"event": "ready", "pid": N, "tcp": {"host": "127.0.0.1", "port": P} | null,
     "serial": {"path": "/dev/pts/N"} | null}

Logs go to stderr. The peer exits cleanly (status 0) when stdin reaches EOF or on
SIGTERM/SIGINT. A bad profile exits with status 2 and a message naming the key.

Device behaviour is pymodbus's own; the profile only configures it (register map via
SimData/SimDevice, unit id, identity via ModbusDeviceIdentification, serial settings).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import struct
import sys
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOG = logging.getLogger("pymodbus-peer")

# --------------------------------------------------------------------------------------------
# Profile (the hilbench device-profile schema, read independently and just as strictly)
# --------------------------------------------------------------------------------------------

REGISTER_TYPES = {"u16": 1, "i16": 1, "u32": 2, "i32": 2, "f32": 2}
PARITIES = {"none": "N", "odd": "O", "even": "E", "mark": "M", "space": "S"}
DEFECTS = ("illegal_address_returns_data", "illegal_function_silent", "illegal_value_accepted",
           "bad_crc_answered", "device_id_wrong_revision", "tcp_register_skew")
# Modbus FC 43/14 object ids (0x80: first extended object)
IDENTITY_OBJECTS = {"vendor": 0x00, "product_code": 0x01, "revision": 0x02, "vendor_url": 0x03,
                    "product_name": 0x04, "model": 0x05, "serial_number": 0x80}


class ProfileError(Exception):
    """A profile that cannot be served; the message names file and key."""


@dataclass
class Register:
    table: str
    address: int
    name: str
    type: str
    words: list[int]
    writable: bool


@dataclass
class Bit:
    address: int
    name: str
    value: bool
    writable: bool


@dataclass
class Profile:
    name: str
    unit: int
    identity: dict[str, str]
    baud: int = 9600
    data_bits: int = 8
    parity: str = "none"
    stop_bits: int = 1
    registers: list[Register] = field(default_factory=list)
    coils: list[Bit] = field(default_factory=list)
    discrete_inputs: list[Bit] = field(default_factory=list)


def raw_words(kind: str, value: float, scale: float) -> list[int]:
    """Register words for an engineering value: raw = value*scale (rounded for integer types),
    packed big-endian, 32-bit values high word first."""
    raw = value * scale
    if kind == "f32":
        packed = struct.pack(">f", raw)
    else:
        packed = struct.pack({"u16": ">H", "i16": ">h", "u32": ">I", "i32": ">i"}[kind],
                             int(round(raw)))
    return [int.from_bytes(packed[i:i + 2], "big") for i in range(0, len(packed), 2)]


class _Doc:
    _NAMES = {int: "integer", float: "number", str: "string", bool: "boolean"}

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, message: str) -> ProfileError:
        return ProfileError(f"{self.path}: {key}: {message}")

    def keys(self, table: dict[str, Any], allowed: set[str], where: str) -> None:
        for key in table:
            if key not in allowed:
                name = f"{where}.{key}" if where else key
                raise self.fail(name, f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def table(self, doc: dict[str, Any], key: str, required: bool) -> dict[str, Any]:
        value = doc.get(key)
        if value is None:
            if required:
                raise self.fail(key, "missing table")
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a table, got {type(value).__name__}")
        return value

    def array(self, doc: dict[str, Any], key: str) -> list[dict[str, Any]]:
        items = doc.get(key, [])
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise self.fail(key, f"expected an array of tables ([[{key}]])")
        return items

    def get(self, table: dict[str, Any], key: str, kinds: tuple[type, ...], where: str,
            default: Any = ...) -> Any:
        name = f"{where}.{key}" if where else key
        if key not in table:
            if default is ...:
                raise self.fail(name, "missing")
            return default
        value = table[key]
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            expected = " or ".join(self._NAMES.get(k, k.__name__) for k in kinds)
            raise self.fail(name, f"expected {expected}, got {type(value).__name__}")
        return value


def load_profile(path: Path) -> Profile:
    d = _Doc(path)
    try:
        doc = tomllib.loads(path.read_bytes().decode("utf-8"))
    except OSError as error:
        raise ProfileError(f"{path}: cannot read profile: {error.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ProfileError(f"{path}: not valid TOML: {error}") from None

    d.keys(doc, {"schema", "device", "identity", "serial", "limits", "registers", "coils",
                 "discrete_inputs", "defects"}, "")
    if (schema := d.get(doc, "schema", (int,), "")) != 1:
        raise d.fail("schema", f"unsupported profile schema {schema} (this peer reads 1)")

    device = d.table(doc, "device", True)
    d.keys(device, {"kind", "name", "description", "unit"}, "device")
    d.get(device, "kind", (str,), "device")
    d.get(device, "description", (str,), "device", "")
    name = d.get(device, "name", (str,), "device")
    unit = d.get(device, "unit", (int,), "device")
    if not 1 <= unit <= 247:
        raise d.fail("device.unit", f"must be 1..247, got {unit}")

    ident = d.table(doc, "identity", True)
    d.keys(ident, set(IDENTITY_OBJECTS), "identity")
    identity = {k: d.get(ident, k, (str,), "identity") for k in IDENTITY_OBJECTS if k in ident}
    for key in ("vendor", "product_code", "revision"):
        if key not in identity:
            raise d.fail(f"identity.{key}", "missing (FC 43/14 basic objects are mandatory)")

    serial = d.table(doc, "serial", False)
    d.keys(serial, {"baud", "data_bits", "parity", "stop_bits"}, "serial")
    profile = Profile(
        name=name, unit=unit, identity=identity,
        baud=d.get(serial, "baud", (int,), "serial", 9600),
        data_bits=d.get(serial, "data_bits", (int,), "serial", 8),
        parity=d.get(serial, "parity", (str,), "serial", "none"),
        stop_bits=d.get(serial, "stop_bits", (int,), "serial", 1),
    )
    if profile.parity not in PARITIES:
        raise d.fail("serial.parity", f"must be one of {', '.join(PARITIES)}, got '{profile.parity}'")
    if profile.baud <= 0:
        raise d.fail("serial.baud", "must be > 0")
    if profile.data_bits not in (5, 6, 7, 8):
        raise d.fail("serial.data_bits", "must be 5..8")
    if profile.stop_bits not in (1, 2):
        raise d.fail("serial.stop_bits", "must be 1 or 2")

    limits = d.table(doc, "limits", False)
    d.keys(limits, {"max_read_registers", "max_read_bits"}, "limits")
    if not 1 <= d.get(limits, "max_read_registers", (int,), "limits", 125) <= 125:
        raise d.fail("limits.max_read_registers", "must be 1..125")
    if not 1 <= d.get(limits, "max_read_bits", (int,), "limits", 2000) <= 2000:
        raise d.fail("limits.max_read_bits", "must be 1..2000")

    taken: dict[tuple[str, int], str] = {}
    for index, item in enumerate(d.array(doc, "registers")):
        where = f"registers[{index}]"
        d.keys(item, {"table", "address", "name", "type", "scale", "unit", "value", "writable"}, where)
        table = d.get(item, "table", (str,), where)
        if table not in ("holding", "input"):
            raise d.fail(f"{where}.table", f"must be 'holding' or 'input', got '{table}'")
        kind = d.get(item, "type", (str,), where)
        if kind not in REGISTER_TYPES:
            raise d.fail(f"{where}.type", f"must be one of {', '.join(REGISTER_TYPES)}, got '{kind}'")
        address = d.get(item, "address", (int,), where)
        if not 0 <= address <= 0xFFFF - (REGISTER_TYPES[kind] - 1):
            raise d.fail(f"{where}.address", f"out of range 0..65535: {address}")
        scale = float(d.get(item, "scale", (int, float), where, 1))
        if not scale > 0:
            raise d.fail(f"{where}.scale", "must be > 0")
        value = float(d.get(item, "value", (int, float), where))
        d.get(item, "unit", (str,), where, "1")
        reg_name = d.get(item, "name", (str,), where)
        writable = d.get(item, "writable", (bool,), where, False)
        try:
            words = raw_words(kind, value, scale)
        except (struct.error, OverflowError, ValueError):
            raise d.fail(f"{where}.value", f"{value} x scale {scale} does not fit {kind}") from None
        for offset in range(len(words)):
            slot = (table, address + offset)
            if slot in taken:
                raise d.fail(f"{where}.address",
                             f"{table} register {address + offset} already used by '{taken[slot]}'")
            taken[slot] = reg_name
        profile.registers.append(Register(table, address, reg_name, kind, words, writable))

    for key, out in (("coils", profile.coils), ("discrete_inputs", profile.discrete_inputs)):
        seen: set[int] = set()
        allowed = {"address", "name", "value", "writable"} if key == "coils" else {"address", "name", "value"}
        for index, item in enumerate(d.array(doc, key)):
            where = f"{key}[{index}]"
            d.keys(item, allowed, where)
            address = d.get(item, "address", (int,), where)
            if not 0 <= address <= 0xFFFF:
                raise d.fail(f"{where}.address", f"out of range 0..65535: {address}")
            if address in seen:
                raise d.fail(f"{where}.address", f"{key} {address} defined twice")
            seen.add(address)
            out.append(Bit(address, d.get(item, "name", (str,), where),
                           d.get(item, "value", (bool,), where),
                           d.get(item, "writable", (bool,), where, False)))

    defects = d.table(doc, "defects", False)
    d.keys(defects, set(DEFECTS), "defects")
    for knob in DEFECTS:
        if d.get(defects, knob, (bool,), "defects", False):
            raise d.fail(f"defects.{knob}", "the pymodbus peer has no defect knobs; "
                                            "leave [defects] out or set every knob to false")
    return profile


# --------------------------------------------------------------------------------------------
# pymodbus configuration
# --------------------------------------------------------------------------------------------

# Function codes per bit table, as pymodbus's SimRuntime maps them.
_BIT_FUNCTIONS = {"coils": (1, 5, 15), "discrete_inputs": (2,)}


def build_device(profile: Profile):
    """The profile as a pymodbus SimDevice with four separate (non-shared) tables.

    Registers: every mapped word is a SimData entry; pymodbus marks the holes between them
    (and the address after the last one) as invalid, so reads of unmapped registers answer
    exception 02. Non-writable registers are readonly (a write answers exception 02).
    """
    from pymodbus.constants import ExcCodes
    from pymodbus.simulator import DataType, SimData, SimDevice

    def register_block(table: str) -> list[SimData]:
        regs = sorted((r for r in profile.registers if r.table == table), key=lambda r: r.address)
        if not regs:  # an empty table: a single invalid cell (every read answers 02)
            return [SimData(address=0, count=1, datatype=DataType.INVALID)]
        return [SimData(address=r.address, values=list(r.words), datatype=DataType.REGISTERS,
                        readonly=not r.writable) for r in regs]

    def bit_block(bits: list[Bit]) -> list[SimData]:
        if not bits:  # placeholder; the action below rejects every access to this table
            return [SimData(address=0, values=[False], datatype=DataType.BITS)]
        return [SimData(address=b.address, values=[b.value], datatype=DataType.BITS)
                for b in sorted(bits, key=lambda b: b.address)]

    empty_functions = {fc for key, fcs in _BIT_FUNCTIONS.items()
                       if not getattr(profile, key) for fc in fcs}
    for coil in profile.coils:
        if not coil.writable:
            LOG.warning("coil %d '%s' is declared read-only; pymodbus bit tables have no "
                        "readonly flag, so writes to it succeed", coil.address, coil.name)

    action = None
    if empty_functions:
        async def action(function_code, _start, _address, _count, _registers, _values):
            return ExcCodes.ILLEGAL_ADDRESS if function_code in empty_functions else None

    return SimDevice(
        id=profile.unit,
        simdata=(bit_block(profile.coils), bit_block(profile.discrete_inputs),
                 register_block("holding"), register_block("input")),
        action=action,
    )


def build_identity(profile: Profile):
    from pymodbus import ModbusDeviceIdentification

    return ModbusDeviceIdentification(
        info={IDENTITY_OBJECTS[key]: text for key, text in profile.identity.items()})


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------

def _watch_stdin(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """Blocking reader thread: stdin at EOF (the parent went away) stops the peer."""
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    LOG.info("stdin reached EOF: shutting down")
    loop.call_soon_threadsafe(stop.set)


async def serve(profile: Profile, tcp_port: int | None, serial_path: str | None) -> int:
    from pymodbus.server import ModbusSerialServer, ModbusTcpServer

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    device, identity = build_device(profile), build_identity(profile)
    servers = []
    ready: dict[str, Any] = {"event": "ready", "pid": os.getpid(), "tcp": None, "serial": None}
    try:
        if tcp_port is not None:
            tcp = ModbusTcpServer(device, identity=identity, address=("127.0.0.1", tcp_port))
            await tcp.serve_forever(background=True)
            servers.append(tcp)
            port = tcp.transport.sockets[0].getsockname()[1]
            ready["tcp"] = {"host": "127.0.0.1", "port": port}
            LOG.info("Modbus TCP on 127.0.0.1:%d, unit %d", port, profile.unit)
        if serial_path is not None:
            rtu = ModbusSerialServer(
                device, identity=identity, port=serial_path, baudrate=profile.baud,
                bytesize=profile.data_bits, parity=PARITIES[profile.parity],
                stopbits=profile.stop_bits, broadcast_enable=True)
            if servers:  # one device behind both interfaces: share the register memory
                rtu.context = servers[0].context
            await rtu.serve_forever(background=True)
            servers.append(rtu)
            ready["serial"] = {"path": serial_path}
            LOG.info("Modbus RTU on %s (%d %d%s%d), unit %d", serial_path, profile.baud,
                     profile.data_bits, PARITIES[profile.parity], profile.stop_bits, profile.unit)
    except (RuntimeError, OSError) as error:
        LOG.error("cannot serve: %s", error)
        for server in servers:
            await server.shutdown()
        return 1

    threading.Thread(target=_watch_stdin, args=(loop, stop), name="stdin-eof", daemon=True).start()
    sys.stdout.write(json.dumps(ready) + "\n")
    sys.stdout.flush()
    await stop.wait()
    for server in servers:
        await server.shutdown()
    LOG.info("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Independent pymodbus Modbus peer device "
                                                 "serving a hilbench device profile.")
    parser.add_argument("--profile", required=True, type=Path, help="device profile TOML")
    parser.add_argument("--tcp-port", type=int, help="Modbus TCP port on 127.0.0.1 (0: ephemeral)")
    parser.add_argument("--serial-port", help="serial device for Modbus RTU (e.g. a pty slave)")
    parser.add_argument("--log-level", default="INFO", type=str.upper,
                        choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="stderr log level")
    args = parser.parse_args(argv)
    if args.tcp_port is None and args.serial_port is None:
        parser.error("give --tcp-port and/or --serial-port")
    if args.tcp_port is not None and not 0 <= args.tcp_port <= 65535:
        parser.error("--tcp-port must be 0..65535")

    logging.basicConfig(stream=sys.stderr, level=args.log_level,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        profile = load_profile(args.profile)
    except ProfileError as error:
        print(f"pymodbus_device: bad profile: {error}", file=sys.stderr)
        return 2
    return asyncio.run(serve(profile, args.tcp_port, args.serial_port))


if __name__ == "__main__":
    sys.exit(main())
