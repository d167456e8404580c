"""Capability protocols: what suites ask the bench for.

A suite says what it needs (`bench.find(ModbusDevice)`, the `dut` fixture), not which
driver class provides it; drivers declare the protocols they implement
(`Driver.implements`). SCPI instruments: ScpiInstrument (any IEEE 488.2 / SCPI device),
Dmm, ReferenceSource and PowerSupply (each also a ScpiInstrument today; the capability is
what the suite needs, so a non-SCPI source could implement ReferenceSource too). Meter
(instantaneous values, energy registers, clock, event log: over Modbus or IEC 62056-21),
PulseCounter (a meter's pulse output counted on the bench) and Transmitter (4-20 mA class,
NAMUR NE 43 status) are protocol-neutral: a driver per wire protocol implements them.
Units are in the names: volts, amps, degrees, watts, vars, hertz, watt-hours, milliamps;
all floats. Times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Literal, Protocol, TypedDict, runtime_checkable

from ._core import Iec62056Client, ModbusClient, Transport
from .profile import DeviceProfile


@runtime_checkable
class Device(Protocol):
    """What every bench device offers, whatever its kind."""

    name: str
    emulated: bool
    profile: DeviceProfile

    def endpoints(self) -> list[dict[str, Any]]: ...

    def take_exchanges(self) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


@runtime_checkable
class ModbusDevice(Device, Protocol):
    """Register and bit access over Modbus, on each interface the bench offers.

    Interfaces are named by framing: "rtu" (a serial line), "tcp" (Modbus TCP).
    """

    @property
    def interfaces(self) -> list[str]: ...

    def client(self, interface: str) -> ModbusClient:
        """The Modbus client on `interface`, opened on first use."""
        ...

    def transport(self, interface: str) -> Transport:
        """The raw transport behind `interface`, where raw bytes are the point."""
        ...


class Identity(TypedDict):
    """*IDN? fields (IEEE 488.2 4.1.3.6); "0" where the device does not provide one."""

    manufacturer: str
    model: str
    serial_number: str
    firmware: str


class AppliedOutput(TypedDict):
    """What a reference source reports it applies (read back from the device)."""

    voltage_v: float
    current_a: float
    phase_deg: float
    output_on: bool


@runtime_checkable
class ScpiInstrument(Device, Protocol):
    """An IEEE 488.2 / SCPI instrument. Every call drains the error queue (SYST:ERR?)
    afterwards and raises hilbench.ScpiError for what it finds; every exchange is journaled.
    """

    def identify(self) -> Identity:
        """*IDN?: manufacturer, model, serial_number, firmware."""
        ...

    def reset(self) -> None:
        """*RST then *CLS: the instrument's reset state, status and error queue cleared."""
        ...

    def errors(self) -> list[tuple[int, str]]:
        """Drains the error queue: [(code, message)], oldest first, returned as data."""
        ...

    def event_status(self) -> int:
        """*ESR? (0..255; reading clears it): bit 5 command, 4 execution, 3 device, 2 query
        error, 0 operation complete."""
        ...

    def query(self, message: str) -> str:
        """Escape hatch: any query, its response text (terminator removed)."""
        ...

    def command(self, message: str) -> None:
        """Escape hatch: any command (no response)."""
        ...


@runtime_checkable
class Dmm(ScpiInstrument, Protocol):
    """A digital multimeter taking DC readings."""

    def measure_dc_voltage(self) -> float:
        """One DC voltage reading, in volts."""
        ...

    def measure_dc_current(self) -> float:
        """One DC current reading, in amps."""
        ...


@runtime_checkable
class ReferenceSource(ScpiInstrument, Protocol):
    """Applies a voltage, a current and the phase angle between them (a meter test source)."""

    def apply(self, voltage_v: float, current_a: float, phase_deg: float) -> None:
        """Sets voltage (volts), current (amps) and phase angle (degrees, current against
        voltage); the output state is unchanged."""
        ...

    def output(self, on: bool) -> None:
        """Switches the output on or off."""
        ...

    def applied(self) -> AppliedOutput:
        """What the source reports it applies, read back from it."""
        ...


@runtime_checkable
class PowerSupply(ScpiInstrument, Protocol):
    """A DC power supply feeding the DUTs."""

    def output(self, on: bool) -> None:
        """Switches the output on or off."""
        ...

    def set_voltage(self, volts: float) -> None:
        """The output voltage set point, in volts."""
        ...

    def set_current_limit(self, amps: float) -> None:
        """The current limit, in amps."""
        ...

    def measured_voltage(self) -> float:
        """The voltage at the output terminals, in volts (MEAS:VOLT?)."""
        ...

    def measured_current(self) -> float:
        """The current into the load, in amps (MEAS:CURR?)."""
        ...


class PhaseValues(TypedDict):
    """Instantaneous values of one phase (L1, L2, L3), as the meter reports them."""

    voltage_v: float
    current_a: float
    active_power_w: float
    reactive_power_var: float
    power_factor: float


class InstantaneousValues(TypedDict):
    """One consistent read of a meter's instantaneous values."""

    phases: list[PhaseValues]  # L1 first; a single-phase meter has one
    frequency_hz: float


class EnergyRegisters(TypedDict):
    """A meter's cumulative energy registers (OBIS 1.8.0, 2.8.0, 3.8.0, 4.8.0)."""

    active_import_wh: float
    active_export_wh: float
    reactive_import_varh: float
    reactive_export_varh: float


class MeterEvent(TypedDict):
    """One entry of a meter's event log, oldest first in a log."""

    sequence: int  # the meter's own running number
    timestamp: datetime  # by the meter's clock, UTC
    code: int  # the meter's event code
    description: str  # from the profile's event table; "" when the code is unknown


@runtime_checkable
class Meter(Device, Protocol):
    """An electricity meter, whichever wire protocol reaches it."""

    def instantaneous(self) -> InstantaneousValues:
        """V, A, W, var and PF per phase, and the frequency."""
        ...

    def energy(self) -> EnergyRegisters:
        """The cumulative energy registers, in watt-hours / var-hours."""
        ...

    def active_import_wh(self) -> float:
        """The active-import register alone, in watt-hours: one read where the protocol allows
        it, so a counting gate opened on the register's step is timed by that read only."""
        ...

    def read_clock(self) -> datetime:
        """The meter's clock, UTC."""
        ...

    def set_clock(self, when: datetime) -> None:
        """Sets the meter's clock (where the protocol allows it; else DeviceError)."""
        ...

    def event_log(self) -> list[MeterEvent]:
        """The meter's event log (power up/down, clock set, ...), oldest first."""
        ...

    @property
    def meter_constant_imp_per_kwh(self) -> float:
        """The pulse output's constant (impulses per kWh) the meter declares."""
        ...


@runtime_checkable
class Iec62056Device(Device, Protocol):
    """A device's optical (D0) interface spoken to in IEC 62056-21 protocol mode C. Every
    session is journaled (protocol "iec62056-21"); the line returns to 300 7E1 after each."""

    @property
    def client(self) -> Iec62056Client:
        """The mode C client, where the protocol itself is the point."""
        ...

    def transport(self) -> Transport:
        """The raw transport (a serial port; chunk capture for timing)."""
        ...

    def identify(self) -> dict[str, Any]:
        """Sign-on and identification: {raw, manufacturer, baud_character, max_baud,
        reaction_20ms, identifier}."""
        ...

    def readout(self) -> dict[str, Any]:
        """A whole data readout session: {identification, baud, data_sets: [{address,
        values: [{value, unit}]}], message: the raw bytes STX .. BCC}. BCC checked."""
        ...

    def programming(self, password: str | None = None) -> AbstractContextManager[Iec62056Client]:
        """A programming session (P1 with `password`, default the profile's), ended with B0."""
        ...


@runtime_checkable
class PulseCounter(Device, Protocol):
    """Counts a meter's pulse output on the bench (a reference standard's pulse input)."""

    def pulse_count(self) -> int:
        """Pulses counted since the counter was last reset."""
        ...

    def reset_pulse_count(self) -> None:
        """Starts counting from zero."""
        ...


Ne43Band = Literal["measurement", "failure_low", "failure_high", "undefined_low", "undefined_high"]


class TransmitterReading(TypedDict):
    """One read of a 4-20 mA class transmitter."""

    process_value: float  # in `unit`
    unit: str  # e.g. "bar", "degC"
    loop_current_ma: float
    status: Ne43Band  # the band the transmitter says it signals (NAMUR NE 43)


@runtime_checkable
class Transmitter(Device, Protocol):
    """A pressure/temperature transmitter with a 4-20 mA loop, whichever protocol reaches it."""

    def reading(self) -> TransmitterReading:
        """Process value, loop current and NE 43 status, in one consistent read."""
        ...
