"""A bench brought to life: emulators started, resources resolved, drivers bound.

Used by the pytest plugin (one LiveBench per session) and by `hilbench emulate`. The live
bench owns the one TransportFactory its drivers open transports through, and the one
hilbench-presenter that hosts every emulated serial port of the bench (started first, when
any emulated device has a serial side; each emulator attaches to its port, found by the
adapter serial number HB-<device name>). The presenter outlives the emulators: a dead
emulator is restarted (ensure_alive) and reattaches while the other ports stay untouched.

The live bench also owns the bench's world (devices/README.md, "The world"): a directory
every emulator gets as --world, with --wire ROLE=DEVICE from the bench's wiring (powered_by,
terminals), where each device publishes its physical quantities (a supply's output, a
source's applied V/I/phase, a meter's pulse count) and reads those it is wired to. The world
outlives every emulator: a killed one leaves its last state, the others carry on. Devices
others are wired to start first, so a DUT finds its supply already on.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

from ._core import ConfigError, DeviceTimeout, TransportError
from .drivers import DRIVERS, Driver
from .emulation import (ChildProcess, adapter_serial, optical_adapter_serial, start_emulator,
                        start_presenter)
from .profile import known_defects
from .resources import RESOURCE_KINDS, Resource
from .spec import BenchSpec, DeviceSpec
from .transports import TransportFactory

P = TypeVar("P")


@dataclass
class _Slot:
    spec: DeviceSpec
    driver: Driver
    emulator: ChildProcess | None = None
    restarts: int = 0
    # The knobs on now: the bench file's, then as switched through the control channel (a
    # restarted emulator comes back with these).
    defects: list[str] = field(default_factory=list)


class LiveBench:
    def __init__(self, spec: BenchSpec, log_dir: Path, timeout: float = 1.0,
                 on_event: Callable[[str, dict[str, Any]], object] | None = None,
                 transports: TransportFactory | None = None, paced: bool = True) -> None:
        self.spec = spec
        self.paced = paced
        self.presenter: ChildProcess | None = None
        self.log_dir = log_dir
        self.timeout = timeout
        self._on_event: Callable[[str, dict[str, Any]], object] = on_event or (lambda kind, data: None)
        self.transports = transports or TransportFactory(connect_timeout=timeout)
        self.transports.on_event = self._on_event  # losses and reconnections are journaled
        self._slots: dict[str, _Slot] = {}
        self.world: Path | None = None

    def start(self) -> None:
        try:
            # A world only where the bench declares wiring: a bench without it keeps every
            # emulator standing alone (static registers), as before the world existed.
            if any(d.emulator is not None for d in self.spec.devices) and \
                    any(d.powered_by or d.terminals for d in self.spec.devices):
                self.world = Path(tempfile.mkdtemp(prefix="hilbench-world."))
                self._on_event("world_created", {"path": str(self.world)})
            self._start_presenter()
            for device in self.spec.start_order():
                defects = list(device.emulator.defects) if device.emulator else []
                self._slots[device.name] = self._bring_up(device, defects)
            self._slots = {d.name: self._slots[d.name] for d in self.spec.devices}  # bench order
        except BaseException:
            self.stop()
            raise

    def _serial_devices(self) -> list[DeviceSpec]:
        return [d for d in self.spec.devices
                if d.emulator is not None and d.emulator.serial and d.profile.has_serial]

    def _optical_devices(self) -> list[DeviceSpec]:
        return [d for d in self.spec.devices
                if d.emulator is not None and d.emulator.optical and d.profile.has_optical]

    def _start_presenter(self) -> None:
        devices = self._serial_devices()
        optical = self._optical_devices()
        if not devices and not optical:
            return
        wanted = [(adapter_serial(d.name), f"hilbench emulated {d.name} port") for d in devices]
        wanted += [(optical_adapter_serial(d.name), f"hilbench emulated {d.name} optical probe")
                   for d in optical]
        ports = [(f"ttyUSB{i}", serial, product) for i, (serial, product) in enumerate(wanted)]
        self.presenter = start_presenter(ports, paced=self.paced,
                                         log_path=self.log_dir / "presenter.log")
        self._on_event("presenter_started", {"pid": self.presenter.pid,
                                             "ready": self.presenter.ready})

    def _bring_up(self, device: DeviceSpec, defects: list[str]) -> _Slot:
        emulator = None
        resources = dict(device.resources)
        if device.emulator is not None:
            serial = device.emulator.serial and device.profile.has_serial
            optical = device.emulator.optical and device.profile.has_optical
            emulator = start_emulator(device.profile.path, defects,
                                      serial=serial, tcp=device.emulator.tcp,
                                      usb=device.emulator.usb,
                                      log_path=self.log_dir / f"emulator-{device.name}.log",
                                      presenter=self.presenter if serial or optical else None,
                                      port_serial=adapter_serial(device.name),
                                      optical_serial=(optical_adapter_serial(device.name)
                                                      if optical else None),
                                      world=self.world, wires=self.spec.wires(device))
            resources = resources_from_ready(device, emulator.ready)
            self._on_event("emulator_started", {"dut": device.name, "pid": emulator.pid,
                                                "defects": list(defects),
                                                "wires": self.spec.wires(device),
                                                "ready": emulator.ready})
        driver = DRIVERS.get(device.driver)(device, resources, self.transports, timeout=self.timeout)
        return _Slot(spec=device, driver=driver, emulator=emulator, defects=list(defects))

    @property
    def names(self) -> list[str]:
        return list(self._slots)

    def device(self, name: str) -> Driver:
        try:
            return self._slots[name].driver
        except KeyError:
            raise ConfigError(f"no device '{name}' on bench '{self.spec.name}' "
                              f"(devices: {', '.join(self._slots)})") from None

    def devices(self) -> list[Driver]:
        return [slot.driver for slot in self._slots.values()]

    def find(self, protocol: type[P], name: str | None = None) -> P:
        """The one device that implements `protocol` (or the device `name`, checked to)."""
        if name is not None:
            facet = self.device(name).facet(protocol)
            if facet is None:
                raise ConfigError(f"device '{name}' (driver {self.device(name).spec.driver}) "
                                  f"does not implement {protocol.__name__}")
            return facet  # type: ignore[return-value]
        matches = [f for d in self.devices() if (f := d.facet(protocol)) is not None]
        if len(matches) != 1:
            raise ConfigError(f"bench '{self.spec.name}' has {len(matches)} devices implementing "
                              f"{protocol.__name__} ({', '.join(d.name for d in matches) or 'none'})"
                              "; name one: bench.find(protocol, name)")
        return matches[0]  # type: ignore[return-value]

    def emulator(self, name: str) -> ChildProcess | None:
        return self._slots[name].emulator

    def ensure_alive(self, name: str) -> bool:
        """Restarts a dead emulator (a test killed it, or it crashed); True if it did.
        Real devices are never restarted behind the lab's back."""
        slot = self._slots[name]
        if slot.emulator is None or slot.emulator.alive():
            return False
        old = slot.driver
        pending = old.take_exchanges()
        old.close()
        exit_status = slot.emulator.stop()
        fresh = self._bring_up(slot.spec, slot.defects)
        fresh.restarts = slot.restarts + 1
        fresh.driver.adopt_exchanges(pending)
        self._slots[name] = fresh
        self._on_event("emulator_restarted", {"dut": name, "previous_exit_status": exit_status,
                                              "restarts": fresh.restarts})
        return True

    def set_defect(self, name: str, knob: str, on: bool = True) -> list[str]:
        """Switches a defect knob of the emulated device `name` while it runs, through its
        emulator's control channel (devices/README.md); journaled as `defect_switched`. Returns
        the knobs now on. Applies from the device's next request (meter, transmitter); the
        SCPI instruments' knobs are fixed at start and refused. Raises ConfigError for a real
        device or an unknown knob, HarnessError when the emulator refuses or does not answer
        within the bench timeout (at least 2 s)."""
        slot = self._slots.get(name)
        if slot is None:
            self.device(name)  # raises the ConfigError that names the bench's devices
            raise AssertionError("unreachable")
        if slot.emulator is None:
            raise ConfigError(f"device '{name}' is not emulated: a real device has no defect knobs")
        known = known_defects(slot.spec.profile.kind)
        if knob not in known:
            raise ConfigError(f"device '{name}' ({slot.spec.profile.kind}) has no defect knob "
                              f"'{knob}'; its knobs: {', '.join(known)}")
        reply = slot.emulator.control({"op": "set_defect", "name": knob, "on": on},
                                      timeout=max(self.timeout, 2.0))
        slot.defects = [str(d) for d in reply.get("defects", [])]
        self._on_event("defect_switched", {"dut": name, "defect": knob, "on": on,
                                           "active": list(slot.defects)})
        return list(slot.defects)

    @contextmanager
    def defect(self, name: str, knob: str) -> Iterator[None]:
        """`with bench.defect("em1", "slow_response"):` the knob is on inside the block and
        switched back off after it (if the emulator still runs)."""
        self.set_defect(name, knob, True)
        try:
            yield
        finally:
            slot = self._slots.get(name)
            if slot is not None and slot.emulator is not None and slot.emulator.alive():
                self.set_defect(name, knob, False)

    def heal(self) -> None:
        """Before a test: every device drops transports whose connection was lost, so their
        next exchange reconnects (journaled through the factory)."""
        for slot in self._slots.values():
            slot.driver.heal()

    def stop(self) -> None:
        for slot in self._slots.values():
            slot.driver.close()
            if slot.emulator is not None:
                slot.emulator.stop()
        self._slots.clear()
        if self.presenter is not None:  # last: the harness's ports close before it goes
            self.presenter.stop()
            self.presenter = None
        if self.world is not None:
            shutil.rmtree(self.world, ignore_errors=True)
            self.world = None


def resources_from_ready(device: DeviceSpec, ready: dict[str, Any]) -> dict[str, Resource]:
    """The resources an emulator announced in its ready line: one entry per resource kind."""
    resources: dict[str, Resource] = {}
    for kind in RESOURCE_KINDS.names():
        announced = ready.get(kind)
        if isinstance(announced, dict):
            resources[kind] = RESOURCE_KINDS.get(kind).from_ready(announced, device.profile)
    return resources


def until(condition: Callable[[], Any], within: float, what: str,
          bench: LiveBench | None = None) -> Any:
    """Polls `condition` (each call a device exchange with its own deadline) until it returns
    something truthy, and returns that; AssertionError naming `what` after `within` seconds.
    A device that does not answer yet counts as not yet. A rebooted device resets connections
    from before its power cut, as a real one does: with `bench`, lost transports are healed
    (reconnected on the next exchange), as between tests; without, a lost link is raised."""
    deadline = time.monotonic() + within
    while True:
        try:
            result = condition()
        except DeviceTimeout:
            result = None
        except TransportError:
            if bench is None:
                raise
            bench.heal()
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
