"""SCPI drivers: any IEEE 488.2 / SCPI instrument over a raw TCP socket (port 5025 style),
USBTMC (a `usb` resource: hilbench.UsbtmcTransport frames the messages) or a serial line (a
`serial` resource: LF-terminated messages, the port's settings from the profile's [serial]).

Registered names (pyproject.toml, "hilbench.drivers") say which SCPI command set a driver
speaks, not whose instrument it is, because SCPI-99 instrument classes are what real
instruments share:
- "scpi"         ScpiDriver: common commands, error queue, query/command escape hatches
- "scpi-dmm"     ScpiDmmDriver: MEAS:VOLT:DC?, MEAS:CURR:DC?  (Dmm)
- "scpi-source"  ScpiSourceDriver: SOUR:VOLT, SOUR:CURR, SOUR:PHAS, OUTP  (ReferenceSource)
- "scpi-psu"     ScpiPsuDriver: VOLT, CURR (limit), OUTP, MEAS:VOLT?, MEAS:CURR?  (PowerSupply)
A lab whose instrument speaks a dialect subclasses one and overrides the command strings.

The protocol logic (terminators, error drain after every command, *IDN? parsing, ScpiError)
is the C++ client (hilbench.ScpiClient); these classes only map capabilities to commands.
The client only needs a transport, so the same drivers run over TCP, USBTMC and serial; with
several resources the first kind in `binds` that the device has is used ("tcp", "usb", then
"serial").
"""

from __future__ import annotations

from typing import Any, ClassVar

from .._core import ConfigError, ProtocolError, ScpiClient
from ..protocols import (AppliedOutput, Dmm, Identity, PowerSupply, PulseCounter, ReferenceSource,
                         ScpiInstrument)
from . import Driver


class ScpiDriver(Driver):
    """Any SCPI instrument on a `tcp`, `usb` (USBTMC) or `serial` resource."""

    binds: ClassVar[tuple[str, ...]] = ("tcp", "usb", "serial")
    implements: ClassVar[tuple[type, ...]] = (ScpiInstrument,)

    _client: ScpiClient | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client = None

    @property
    def client(self) -> ScpiClient:
        """The SCPI client, connected on first use."""
        if self._client is None:
            kinds = [kind for kind in self.binds if kind in self.resources]
            if not kinds:
                raise ConfigError(f"{self.name}: no resource this driver can use "
                                  f"(it binds: {', '.join(self.binds)})")
            self._client = ScpiClient(self.open_transport(kinds[0]), timeout=self.timeout)
        return self._client

    # ---- ScpiInstrument ------------------------------------------------------------------
    def identify(self) -> Identity:
        raw = self.client.identify()
        return Identity(manufacturer=raw["manufacturer"], model=raw["model"],
                        serial_number=raw["serial_number"], firmware=raw["firmware"])

    def reset(self) -> None:
        self.client.reset()
        self.client.clear_status()

    def errors(self) -> list[tuple[int, str]]:
        return self.client.errors()

    def event_status(self) -> int:
        return self.client.event_status_register()

    def query(self, message: str) -> str:
        return self.client.query(message)

    def command(self, message: str) -> None:
        self.client.command(message)

    # ---- evidence and lifetime ----------------------------------------------------------------
    def _drain_exchanges(self) -> list[dict[str, Any]]:
        return self._client.take_exchanges() if self._client is not None else []

    def _forget(self, kind: str) -> list[dict[str, Any]]:
        exchanges = self._drain_exchanges()
        self._client = None
        return exchanges

    def _query_bool(self, message: str) -> bool:
        value = self.client.query_integer(message)
        if value not in (0, 1):
            raise ProtocolError(f"{self.name}: {message} answered {value}, expected 0 or 1")
        return value == 1


class ScpiDmmDriver(ScpiDriver):
    implements: ClassVar[tuple[type, ...]] = (Dmm,)

    def measure_dc_voltage(self) -> float:
        """One DC voltage reading, volts (MEAS:VOLT:DC?)."""
        return self.client.query_number("MEAS:VOLT:DC?")

    def measure_dc_current(self) -> float:
        """One DC current reading, amps (MEAS:CURR:DC?)."""
        return self.client.query_number("MEAS:CURR:DC?")


class ScpiSourceDriver(ScpiDriver):
    """A reference source; its pulse input counts a meter's pulse output (PulseCounter:
    SENS:PULS:COUN?, SENS:PULS:RES) and it reports the reference energy it applied since the
    last reset (SENS:ENER?, watt-hours)."""

    implements: ClassVar[tuple[type, ...]] = (ReferenceSource, PulseCounter)

    def apply(self, voltage_v: float, current_a: float, phase_deg: float) -> None:
        """Voltage (volts), current (amps), phase angle (degrees); one command each, so an
        error names the setting that was refused."""
        self.client.command(f"SOUR:VOLT {voltage_v:.9G}")
        self.client.command(f"SOUR:CURR {current_a:.9G}")
        self.client.command(f"SOUR:PHAS {phase_deg:.9G}")

    def output(self, on: bool) -> None:
        self.client.command("OUTP ON" if on else "OUTP OFF")

    def applied(self) -> AppliedOutput:
        return AppliedOutput(voltage_v=self.client.query_number("SOUR:VOLT?"),
                             current_a=self.client.query_number("SOUR:CURR?"),
                             phase_deg=self.client.query_number("SOUR:PHAS?"),
                             output_on=self._query_bool("OUTP?"))

    def pulse_count(self) -> int:
        return self.client.query_integer("SENS:PULS:COUN?")

    def reset_pulse_count(self) -> None:
        """Pulse count and reference energy both start from zero."""
        self.client.command("SENS:PULS:RES")

    def reference_energy_wh(self) -> float:
        """Watt-hours the source applied since the last reset (SENS:ENER?)."""
        return self.client.query_number("SENS:ENER?")

    def pulses_and_reference_energy(self) -> tuple[int, float]:
        """Pulse count and reference energy at one instant (one program message)."""
        pulses, energy = self.client.query("SENS:PULS:COUN?;:SENS:ENER?").split(";")
        return int(pulses), float(energy)


class ScpiPsuDriver(ScpiDriver):
    implements: ClassVar[tuple[type, ...]] = (PowerSupply,)

    def output(self, on: bool) -> None:
        self.client.command("OUTP ON" if on else "OUTP OFF")

    def output_state(self) -> bool:
        """What the supply says its output is (OUTP?)."""
        return self._query_bool("OUTP?")

    def set_voltage(self, volts: float) -> None:
        self.client.command(f"VOLT {volts:.9G}")

    def set_current_limit(self, amps: float) -> None:
        self.client.command(f"CURR {amps:.9G}")

    def measured_voltage(self) -> float:
        """Volts at the output terminals (MEAS:VOLT?)."""
        return self.client.query_number("MEAS:VOLT?")

    def measured_current(self) -> float:
        """Amps into the load (MEAS:CURR?)."""
        return self.client.query_number("MEAS:CURR?")
