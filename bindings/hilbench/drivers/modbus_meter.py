"""ModbusMeterDriver ("modbus-meter"): an electricity meter over Modbus RTU/TCP, as the Meter
capability protocol. Everything a ModbusDriver offers, plus instantaneous values, energy
registers, clock and event log read from the registers the profile's `[meter]` table names
(devices/meter/metrology.hpp; `DeviceProfile.data["meter"]`), so any meter whose profile maps
its registers works, not only the emulated EM-1.

Register conventions it relies on (the profile declares them):
- per phase: voltage, current, active_power, reactive_power, power_factor (L1 first);
  frequency; energies active_import/active_export/reactive_import/reactive_export in their
  register's unit ("kWh"/"kvarh" are scaled to Wh/varh).
- clock: u32 seconds since 1970 UTC (writable holding register; FC16 sets it); clock_ms: u16.
- event log: event_count, then event_<n>_sequence, event_<n>_code, event_<n>_time (u32 s).
Every read goes through the ModbusClient, so it is journaled like any exchange; the
interface used is `interface` (default: the first the bench connects, RTU before TCP).
"""

from __future__ import annotations

import struct
from datetime import datetime, timezone
from typing import Any, ClassVar

from .._core import ConfigError
from ..profile import Register
from ..protocols import EnergyRegisters, InstantaneousValues, Meter, MeterEvent, ModbusDevice, PhaseValues
from .modbus import ModbusDriver


class ModbusMeterDriver(ModbusDriver):
    implements: ClassVar[tuple[type, ...]] = (ModbusDevice, Meter)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.interface: str | None = None  # None: the first interface the bench connects

    # ---- the profile's [meter] table -------------------------------------------------------
    @property
    def _meter(self) -> dict[str, Any]:
        meter = self.profile.data.get("meter")
        if not isinstance(meter, dict):
            raise ConfigError(f"{self.name}: the profile {self.profile.path} has no [meter] table "
                              "naming the meter's registers")
        return meter

    def _register(self, name: str) -> Register:
        for register in self.profile.registers:
            if register.name == name:
                return register
        raise ConfigError(f"{self.name}: the profile declares no register {name!r}")

    def _named(self, quantity: str) -> str | None:
        value = self._meter["registers"].get(quantity)
        return value if isinstance(value, str) else None

    def _read(self, register: Register) -> float:
        client = self.client(self.interface or self.interfaces[0])
        read = client.read_input_registers if register.table == "input" else \
            client.read_holding_registers
        return register.decode(list(read(register.address, register.words)))

    def _read_named(self, quantity: str, default: float = 0.0) -> float:
        name = self._named(quantity)
        return self._read(self._register(name)) if name else default

    # ---- Meter -----------------------------------------------------------------------------
    @property
    def meter_constant_imp_per_kwh(self) -> float:
        return float(self._meter["constant_imp_per_kwh"])

    def instantaneous(self) -> InstantaneousValues:
        phases_by_quantity: dict[str, list[str]] = {
            q: v for q, v in self._meter["registers"].items() if isinstance(v, list)}
        count = max((len(v) for v in phases_by_quantity.values()), default=0)
        phases: list[PhaseValues] = []
        for index in range(count):
            def value(quantity: str) -> float:
                names = phases_by_quantity.get(quantity, [])
                return self._read(self._register(names[index])) if index < len(names) else 0.0
            phases.append(PhaseValues(voltage_v=value("voltage"), current_a=value("current"),
                                      active_power_w=value("active_power"),
                                      reactive_power_var=value("reactive_power"),
                                      power_factor=value("power_factor")))
        return InstantaneousValues(phases=phases, frequency_hz=self._read_named("frequency"))

    def _energy(self, quantity: str) -> float:
        name = self._named(quantity)
        if name is None:
            return 0.0
        register = self._register(name)
        value = self._read(register)
        return value * 1000.0 if register.unit[:1] in ("k", "K") else value

    def energy(self) -> EnergyRegisters:
        return EnergyRegisters(active_import_wh=self._energy("active_import"),
                               active_export_wh=self._energy("active_export"),
                               reactive_import_varh=self._energy("reactive_import"),
                               reactive_export_varh=self._energy("reactive_export"))

    def active_import_wh(self) -> float:
        return self._energy("active_import")

    def _clock_registers(self) -> tuple[Register, Register | None]:
        name = self._named("clock")
        if name is None:
            raise ConfigError(f"{self.name}: the profile's [meter] names no clock register")
        ms = self._named("clock_ms")
        return self._register(name), self._register(ms) if ms else None

    def read_clock(self) -> datetime:
        """Seconds and milliseconds in one read when they are adjacent (one consistent
        instant), else one after the other."""
        seconds_reg, ms_reg = self._clock_registers()
        client = self.client(self.interface or self.interfaces[0])
        if ms_reg is not None and ms_reg.table == seconds_reg.table and \
                ms_reg.address == seconds_reg.address + seconds_reg.words:
            read = client.read_holding_registers if seconds_reg.table == "holding" else \
                client.read_input_registers
            words = list(read(seconds_reg.address, seconds_reg.words + ms_reg.words))
            seconds = seconds_reg.decode(words[:seconds_reg.words])
            millis = ms_reg.decode(words[seconds_reg.words:])
        else:
            seconds = self._read(seconds_reg)
            millis = self._read(ms_reg) if ms_reg is not None else 0.0
        return datetime.fromtimestamp(seconds + millis / 1000.0, tz=timezone.utc)

    def set_clock(self, when: datetime) -> None:
        """Writes the whole seconds (FC16); the meter's milliseconds restart at 0."""
        if when.tzinfo is None:
            raise ValueError("set_clock needs a timezone-aware datetime")
        seconds_reg, _ = self._clock_registers()
        raw = int(when.timestamp()) * int(seconds_reg.scale)
        words = list(struct.unpack(">HH", struct.pack(">I", raw & 0xFFFFFFFF)))
        if seconds_reg.word_order == "little":
            words.reverse()
        self.client(self.interface or self.interfaces[0]).write_multiple_registers(
            seconds_reg.address, words)

    def event_log(self) -> list[MeterEvent]:
        entries = int(self._meter.get("event_log_entries", 0))
        if entries == 0:
            return []
        descriptions: dict[str, str] = self._meter.get("events", {})
        count = min(int(self._read(self._register("event_count"))), entries)
        if count == 0:
            return []
        names = [f"event_{n}_{part}" for n in range(1, count + 1)
                 for part in ("sequence", "code", "time")]
        registers = [self._register(name) for name in names]
        values = self._read_block(registers)
        events: list[MeterEvent] = []
        for n in range(count):
            sequence, code, seconds = values[3 * n:3 * n + 3]
            events.append(MeterEvent(sequence=int(sequence),
                                     timestamp=datetime.fromtimestamp(seconds, tz=timezone.utc),
                                     code=int(code), description=descriptions.get(str(int(code)), "")))
        return events

    def _read_block(self, registers: list[Register]) -> list[float]:
        """The values of `registers`, in one read when they are contiguous in one table (one
        consistent snapshot, one exchange), else one read each."""
        first = registers[0]
        contiguous = all(r.table == first.table for r in registers) and all(
            b.address == a.address + a.words for a, b in zip(registers, registers[1:]))
        total = sum(r.words for r in registers)
        if not contiguous or total > 125:
            return [self._read(r) for r in registers]
        client = self.client(self.interface or self.interfaces[0])
        read = client.read_input_registers if first.table == "input" else             client.read_holding_registers
        words = list(read(first.address, total))
        values, offset = [], 0
        for register in registers:
            values.append(register.decode(words[offset:offset + register.words]))
            offset += register.words
        return values
