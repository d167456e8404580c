"""The bench as data: which devices, which driver each, how each is reached.

Plain frozen dataclasses, built by hilbench.bench (from a bench file or the embedded bench)
and read by drivers and the live bench. Nothing here opens anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Mapping

from .profile import DeviceProfile
from .resources import Resource


@dataclass(frozen=True)
class EmulatorSpec:
    """The plugin starts hilbench-emulator for this device; endpoints come from its ready line."""

    defects: tuple[str, ...] = ()
    serial: bool = True
    tcp: bool = True
    optical: bool = True  # a meter profile's [iec62056] port, on its own presenter port
    usb: bool = False  # SCPI kinds: also (or, with tcp = false, only) a USBTMC device


@dataclass(frozen=True)
class Calibration:
    """A reference instrument's calibration, from its certificate (ISO/IEC 17025 §6.4/6.5:
    measurements are traceable only while the calibration is valid)."""

    certificate: str
    due: date  # the run's date must not be after it
    laboratory: str = ""
    issued: date | None = None

    def overdue_on(self, day: date) -> bool:
        return day > self.due

    def as_record(self) -> dict[str, str | None]:
        return {"certificate": self.certificate, "due": self.due.isoformat(),
                "laboratory": self.laboratory,
                "issued": self.issued.isoformat() if self.issued else None}


@dataclass(frozen=True)
class DeviceSpec:
    name: str
    driver: str
    profile: DeviceProfile
    emulated: bool
    resources: Mapping[str, Resource] = field(default_factory=dict)  # kind -> resource
    emulator: EmulatorSpec | None = None
    calibration: Calibration | None = None
    # Wiring (the bench's physical connections; emulators share them through the world):
    powered_by: str | None = None  # the device (a power supply) whose output feeds this one
    terminals: str | None = None  # the device (a reference source) driving its meter terminals
    role: str | None = None  # "dut": the device under test the `dut` fixture gives


@dataclass(frozen=True)
class BenchSpec:
    name: str
    source: str  # "embedded" or the bench file path
    sha256: str | None
    devices: tuple[DeviceSpec, ...] = field(default_factory=tuple)

    @property
    def emulated(self) -> bool:
        return any(d.emulated for d in self.devices)

    def device(self, name: str) -> DeviceSpec | None:
        return next((d for d in self.devices if d.name == name), None)

    def wires(self, device: DeviceSpec) -> dict[str, str]:
        """What `device` is wired to, by role: power (its supply), terminals (the source
        driving them), pulse_input (for a source: the meter whose terminals it drives; the
        first one if several)."""
        wires: dict[str, str] = {}
        if device.powered_by:
            wires["power"] = device.powered_by
        if device.terminals:
            wires["terminals"] = device.terminals
        meter = next((d for d in self.devices if d.terminals == device.name), None)
        if meter is not None:
            wires["pulse_input"] = meter.name
        return wires

    def start_order(self) -> list[DeviceSpec]:
        """Devices others are wired to (supplies, sources) first, so a DUT starts powered."""
        feeding = {d.powered_by for d in self.devices} | {d.terminals for d in self.devices}
        return sorted(self.devices, key=lambda d: 0 if d.name in feeding else 1)

    def dut(self) -> DeviceSpec | None:
        """The device with role "dut"; else the only device, if there is one."""
        duts = [d for d in self.devices if d.role == "dut"]
        if duts:
            return duts[0]
        return self.devices[0] if len(self.devices) == 1 else None

    def needs_umockdev(self) -> bool:
        return any((d.emulator is not None and d.emulator.serial and d.profile.has_serial)
                   or (d.emulator is not None and d.emulator.optical and d.profile.has_optical)
                   or any(r.needs_umockdev() for r in d.resources.values())
                   for d in self.devices)
