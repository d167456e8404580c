"""Transmitter drivers: a 4-20 mA class pressure/temperature transmitter (NAMUR NE 43
status) over the protocol its serial port speaks. Both implement hilbench.protocols.Transmitter:
- "modbus-transmitter"  ModbusTransmitterDriver: Modbus RTU, input registers 0-1 process
  value f32, 2-3 loop current f32 (mA), 4 status word (bit 0 failure, bit 1 failure
  signalled upscale); one FC04 read of all five is one consistent reading.
- "ascii-transmitter"   AsciiTransmitterDriver: the line-based ASCII protocol (PV?, MA?,
  ST?, ID?; devices/transmitter/server.hpp), over hilbench.line_client.LineClient.
The register map and commands are those of the emulated TT-100/PT-10 (devices/transmitter);
a lab's transmitter with another map subclasses and overrides the addresses or commands.

`status` is the band the transmitter *says* it signals (from its status word or ST?), not
the band of its loop current: suites compare the two with hilbench.ne43.classify_loop_current.
Both drivers also offer simulate_input() and simulate_sensor_fault() (the emulated devices'
simulation registers/commands), so a suite can step the process and inject a sensor fault.
"""

from __future__ import annotations

import math
import struct
from typing import Any, ClassVar

from .._core import ConfigError, ModbusClient, ProtocolError
from ..line_client import LineClient
from ..protocols import Ne43Band, Transmitter, TransmitterReading
from . import Driver

STATUS_FAILURE = 0x0001
STATUS_FAILURE_HIGH = 0x0002


def _f32(high: int, low: int) -> float:
    return float(struct.unpack(">f", struct.pack(">HH", high, low))[0])


def _f32_words(value: float) -> list[int]:
    high, low = struct.unpack(">HH", struct.pack(">f", value))
    return [high, low]


class _SerialTransmitter(Driver):
    binds: ClassVar[tuple[str, ...]] = ("serial",)
    implements: ClassVar[tuple[type, ...]] = (Transmitter,)

    @property
    def unit(self) -> str:
        """The process value's unit as the profile declares it (e.g. "degC", "bar")."""
        return str(self.profile.data.get("range", {}).get("unit", ""))

    def _serial(self) -> Any:
        if "serial" not in self.resources:
            raise ConfigError(f"{self.name}: no serial resource on this bench")
        return self.open_transport("serial")


class ModbusTransmitterDriver(_SerialTransmitter):
    _client: ModbusClient | None = None

    def capabilities(self) -> set[str]:
        return {"transmitter", "modbus", "modbus-rtu"} if "serial" in self.resources else set()

    @property
    def client(self) -> ModbusClient:
        if self._client is None:
            unit = int(self.profile.data.get("interface", {}).get("unit", 1))
            self._client = ModbusClient(self._serial(), framing="rtu", unit=unit,
                                        timeout=self.timeout)
        return self._client

    def reading(self) -> TransmitterReading:
        words = self.client.read_input_registers(0, 5)
        status_word = words[4]
        status: Ne43Band = "measurement"
        if status_word & STATUS_FAILURE:
            status = "failure_high" if status_word & STATUS_FAILURE_HIGH else "failure_low"
        return TransmitterReading(process_value=_f32(words[0], words[1]), unit=self.unit,
                                  loop_current_ma=_f32(words[2], words[3]), status=status)

    def simulate_input(self, value: float) -> None:
        """Sets the simulated process input (holding registers 0-1, f32, in `unit`)."""
        self.client.write_multiple_registers(0, _f32_words(value))

    def simulate_sensor_fault(self, fault: bool) -> None:
        """Sets the simulated sensor fault (holding register 2)."""
        self.client.write_single_register(2, 1 if fault else 0)

    def _drain_exchanges(self) -> list[dict[str, Any]]:
        return self._client.take_exchanges() if self._client is not None else []

    def _forget(self, kind: str) -> list[dict[str, Any]]:
        exchanges = self._drain_exchanges()
        self._client = None
        return exchanges


class AsciiTransmitterDriver(_SerialTransmitter):
    _client: LineClient | None = None

    def capabilities(self) -> set[str]:
        return {"transmitter", "ascii-transmitter"} if "serial" in self.resources else set()

    @property
    def client(self) -> LineClient:
        if self._client is None:
            self._client = LineClient(self._serial(), timeout=self.timeout)
        return self._client

    def _answer(self, command: str, prefix: str) -> str:
        answer = self.client.query(command)
        if not answer.startswith(prefix + " "):
            raise ProtocolError(f"{self.name}: {command} answered {answer!r}, expected "
                                f"'{prefix} ...'")
        return answer[len(prefix) + 1:]

    def read_identity(self) -> dict[str, str]:
        """ID? -> manufacturer, model, serial_number, firmware."""
        fields = self._answer("ID?", "ID").split(",")
        if len(fields) != 4:
            raise ProtocolError(f"{self.name}: ID? answered {len(fields)} fields, expected 4")
        return dict(zip(("manufacturer", "model", "serial_number", "firmware"), fields))

    def reading(self) -> TransmitterReading:
        """PV?, MA?, ST?: three exchanges in a row (the protocol has no combined read)."""
        pv_text = self._answer("PV?", "PV").split(" ")
        if len(pv_text) != 2:
            raise ProtocolError(f"{self.name}: PV? answered {' '.join(pv_text)!r}, "
                                "expected '<value> <unit>'")
        try:
            process_value = math.nan if pv_text[0] == "NAN" else float(pv_text[0])
            loop_current = float(self._answer("MA?", "MA"))
        except ValueError as error:
            raise ProtocolError(f"{self.name}: not a number: {error}") from None
        status_text = self._answer("ST?", "ST")
        bands: dict[str, Ne43Band] = {"OK": "measurement", "FAIL LOW": "failure_low",
                                      "FAIL HIGH": "failure_high"}
        if status_text not in bands:
            raise ProtocolError(f"{self.name}: ST? answered {status_text!r}")
        return TransmitterReading(process_value=process_value, unit=pv_text[1],
                                  loop_current_ma=loop_current, status=bands[status_text])

    def simulate_input(self, value: float) -> None:
        self._expect_ok(f"SIM PV {value:.9g}")

    def simulate_sensor_fault(self, fault: bool) -> None:
        self._expect_ok("SIM FAULT ON" if fault else "SIM FAULT OFF")

    def _expect_ok(self, command: str) -> None:
        answer = self.client.query(command)
        if answer != "OK":
            raise ProtocolError(f"{self.name}: {command} answered {answer!r}, expected 'OK'")

    def _drain_exchanges(self) -> list[dict[str, Any]]:
        return self._client.take_exchanges() if self._client is not None else []

    def _forget(self, kind: str) -> list[dict[str, Any]]:
        exchanges = self._drain_exchanges()
        self._client = None
        return exchanges
