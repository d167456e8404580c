"""Iec62056MeterDriver: an electricity meter through its optical (D0) interface, IEC 62056-21
protocol mode C (`driver = "iec62056-meter"`, resource `[devices.optical]`).

It implements Meter as far as mode C allows, from the data readout: instantaneous values and
energy registers by their standard OBIS codes, the clock from 0.9.1 (time) and 0.9.2 (date),
set_clock in programming mode with the profile's password. What mode C does not carry (an
event log) raises Iec62056Unsupported, never invented data; quantities the meter's readout
does not hold read as NaN. Iec62056Device gives suites the protocol itself: readout() with the
raw message, identification, a programming session.

A Modbus meter with an optical port keeps driver "modbus": that driver hands the optical
resource to an Iec62056MeterDriver companion (Driver.facet), so one bench device offers both.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, ClassVar, Iterator

from .._core import HarnessError, Iec62056Client, Transport
from ..protocols import EnergyRegisters, Iec62056Device, InstantaneousValues, Meter, MeterEvent, PhaseValues
from . import Driver

# Standard OBIS value groups C.D.E of the quantities Meter reports (IEC 62056-61, as used in
# mode C readouts): per phase L1, L2, L3.
PHASE_OBIS = {
    "voltage_v": ("32.7.0", "52.7.0", "72.7.0"),
    "current_a": ("31.7.0", "51.7.0", "71.7.0"),
    "active_power_w": ("21.7.0", "41.7.0", "61.7.0"),
    "reactive_power_var": ("23.7.0", "43.7.0", "63.7.0"),
    "power_factor": ("33.7.0", "53.7.0", "73.7.0"),
}
FREQUENCY_OBIS = "14.7.0"
ENERGY_OBIS = {"active_import_wh": "1.8.0", "active_export_wh": "2.8.0",
               "reactive_import_varh": "3.8.0", "reactive_export_varh": "4.8.0"}
CLOCK_TIME_OBIS, CLOCK_DATE_OBIS = "0.9.1", "0.9.2"
METER_CONSTANT_OBIS = "0.3.0"
# Unit prefixes a readout may use, to the base unit Meter reports.
_SCALE = {"kWh": 1000.0, "Wh": 1.0, "kvarh": 1000.0, "varh": 1.0, "kW": 1000.0, "W": 1.0,
          "kvar": 1000.0, "var": 1.0, "V": 1.0, "kV": 1000.0, "A": 1.0, "Hz": 1.0, "": 1.0}


class Iec62056Unsupported(HarnessError):
    """What the caller asked for does not exist in IEC 62056-21 mode C (e.g. an event log)."""


def parse_clock(time_text: str, date_text: str) -> datetime:
    """0.9.1 and 0.9.2 values ("hh:mm:ss" or "hhmmss"; "YY-MM-DD" or "YYMMDD") as UTC."""
    digits_time = time_text.replace(":", "")
    digits_date = date_text.replace("-", "")
    if len(digits_time) != 6 or len(digits_date) != 6 or not (digits_time + digits_date).isdigit():
        raise ValueError(f"clock {time_text!r} {date_text!r} is not hh:mm:ss and YY-MM-DD")
    return datetime(2000 + int(digits_date[0:2]), int(digits_date[2:4]), int(digits_date[4:6]),
                    int(digits_time[0:2]), int(digits_time[2:4]), int(digits_time[4:6]),
                    tzinfo=timezone.utc)


def values_by_address(readout: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """{address: (value, unit)} of a readout's first value per data set."""
    out: dict[str, tuple[str, str]] = {}
    for data_set in readout["data_sets"]:
        if data_set["values"] and data_set["address"] not in out:
            first = data_set["values"][0]
            out[data_set["address"]] = (first["value"], first["unit"])
    return out


def number(values: dict[str, tuple[str, str]], address: str) -> float:
    """The value at `address` in the base unit (kWh -> Wh, ...); NaN when absent."""
    if address not in values:
        return math.nan
    text, unit = values[address]
    return float(text) * _SCALE.get(unit, 1.0)


class Iec62056MeterDriver(Driver):
    binds: ClassVar[tuple[str, ...]] = ("optical",)
    implements: ClassVar[tuple[type, ...]] = (Meter, Iec62056Device)

    _client: Iec62056Client | None = None
    max_baud: int = 19200  # the highest rate the harness proposes (use_max_baud)

    # ---- the protocol -----------------------------------------------------------------------
    @property
    def client(self) -> Iec62056Client:
        """The mode C client on the optical port, opened on first use."""
        if self._client is None:
            # No device address: the request /?! reaches whichever meter faces the probe.
            self._client = Iec62056Client(self.transport(), max_baud=self.max_baud,
                                          reaction_time_max=max(1.5, self.timeout))
        return self._client

    def use_max_baud(self, baud: int) -> None:
        """Sessions from now on propose at most `baud` (300: no baud switch at all)."""
        if baud == self.max_baud:
            return
        if self._client is not None:
            self._retired_exchanges.extend(self._client.take_exchanges())
            self._client = None
        self.max_baud = baud

    def transport(self) -> Transport:
        return self.open_transport("optical")

    def _settings(self) -> dict[str, Any]:
        settings = self.profile.data.get("iec62056")
        return settings if isinstance(settings, dict) else {}

    def capabilities(self) -> set[str]:
        return {"iec62056-21"} if "optical" in self.resources else set()

    def identify(self) -> dict[str, Any]:
        return self.client.identify()

    def readout(self) -> dict[str, Any]:
        return self.client.readout()

    @contextmanager
    def programming(self, password: str | None = None) -> Iterator[Iec62056Client]:
        """A programming session (P1 with `password`, default the profile's), always ended
        with B0."""
        if password is None:
            password = str(self._settings().get("password", ""))
        self.client.open_programming(password)
        try:
            yield self.client
        finally:
            if self.client.programming:
                self.client.end_programming()

    # ---- Meter --------------------------------------------------------------------------------
    def instantaneous(self) -> InstantaneousValues:
        values = values_by_address(self.readout())
        phases: list[PhaseValues] = []
        for index in range(3):
            if PHASE_OBIS["voltage_v"][index] not in values:
                continue
            phase: PhaseValues = {
                "voltage_v": number(values, PHASE_OBIS["voltage_v"][index]),
                "current_a": number(values, PHASE_OBIS["current_a"][index]),
                "active_power_w": number(values, PHASE_OBIS["active_power_w"][index]),
                "reactive_power_var": number(values, PHASE_OBIS["reactive_power_var"][index]),
                "power_factor": number(values, PHASE_OBIS["power_factor"][index]),
            }
            phases.append(phase)
        return {"phases": phases, "frequency_hz": number(values, FREQUENCY_OBIS)}

    def energy(self) -> EnergyRegisters:
        values = values_by_address(self.readout())
        return {"active_import_wh": number(values, ENERGY_OBIS["active_import_wh"]),
                "active_export_wh": number(values, ENERGY_OBIS["active_export_wh"]),
                "reactive_import_varh": number(values, ENERGY_OBIS["reactive_import_varh"]),
                "reactive_export_varh": number(values, ENERGY_OBIS["reactive_export_varh"])}

    def active_import_wh(self) -> float:
        """Mode C has no single-register read: one whole data readout."""
        return number(values_by_address(self.readout()), ENERGY_OBIS["active_import_wh"])

    def read_clock(self) -> datetime:
        values = values_by_address(self.readout())
        if CLOCK_TIME_OBIS not in values or CLOCK_DATE_OBIS not in values:
            raise Iec62056Unsupported(f"{self.name}: the readout holds no clock "
                                      f"({CLOCK_TIME_OBIS} and {CLOCK_DATE_OBIS})")
        return parse_clock(values[CLOCK_TIME_OBIS][0], values[CLOCK_DATE_OBIS][0])

    def set_clock(self, when: datetime) -> None:
        """W1 0.9.2 and 0.9.1 in programming mode (the profile's password)."""
        when = when.astimezone(timezone.utc)
        with self.programming() as client:
            client.write_register(CLOCK_DATE_OBIS, when.strftime("%y-%m-%d"))
            client.write_register(CLOCK_TIME_OBIS, when.strftime("%H:%M:%S"))

    def event_log(self) -> list[MeterEvent]:
        raise Iec62056Unsupported(f"{self.name}: IEC 62056-21 mode C has no event log "
                                  "(read it over Modbus or DLMS/COSEM)")

    @property
    def meter_constant_imp_per_kwh(self) -> float:
        return number(values_by_address(self.readout()), METER_CONSTANT_OBIS)

    # ---- evidence -----------------------------------------------------------------------------
    def _drain_exchanges(self) -> list[dict[str, Any]]:
        return self._client.take_exchanges() if self._client is not None else []

    def _forget(self, kind: str) -> list[dict[str, Any]]:
        client, self._client = self._client, None
        return client.take_exchanges() if client is not None else []
