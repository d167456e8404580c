"""A bench brought to life: emulators started, endpoints resolved, drivers bound.

Used by the pytest plugin (one LiveBench per session) and by `hilbench emulate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ._core import ConfigError
from .bench import BenchSpec, DeviceSpec, SerialEndpoint, TcpEndpoint, driver_for
from .emulation import ChildProcess, start_emulator


@dataclass
class _Slot:
    spec: DeviceSpec
    driver: Any
    emulator: ChildProcess | None = None
    restarts: int = 0


class LiveBench:
    def __init__(self, spec: BenchSpec, log_dir: Path, timeout: float = 1.0,
                 on_event: Callable[[str, dict[str, Any]], object] | None = None) -> None:
        self.spec = spec
        self.log_dir = log_dir
        self.timeout = timeout
        self._on_event: Callable[[str, dict[str, Any]], object] = on_event or (lambda kind, data: None)
        self._slots: dict[str, _Slot] = {}

    def start(self) -> None:
        try:
            for device in self.spec.devices:
                self._slots[device.name] = self._bring_up(device)
        except BaseException:
            self.stop()
            raise

    def _bring_up(self, device: DeviceSpec) -> _Slot:
        emulator = None
        serial, tcp = device.serial, device.tcp
        if device.emulator is not None:
            emulator = start_emulator(device.profile.path, device.emulator.defects,
                                      serial=device.emulator.serial, tcp=device.emulator.tcp,
                                      log_path=self.log_dir / f"emulator-{device.name}.log")
            serial, tcp = _endpoints_from_ready(device, emulator.ready)
            self._on_event("emulator_started", {"dut": device.name, "pid": emulator.pid,
                                                "defects": list(device.emulator.defects),
                                                "ready": emulator.ready})
        driver = driver_for(device.driver)(device, serial, tcp, timeout=self.timeout)
        return _Slot(spec=device, driver=driver, emulator=emulator)

    @property
    def names(self) -> list[str]:
        return list(self._slots)

    def device(self, name: str) -> Any:
        try:
            return self._slots[name].driver
        except KeyError:
            raise ConfigError(f"no device '{name}' on bench '{self.spec.name}' "
                              f"(devices: {', '.join(self._slots)})") from None

    def devices(self) -> list[Any]:
        return [slot.driver for slot in self._slots.values()]

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
        fresh = self._bring_up(slot.spec)
        fresh.restarts = slot.restarts + 1
        fresh.driver._retired_exchanges.extend(pending)
        self._slots[name] = fresh
        self._on_event("emulator_restarted", {"dut": name, "previous_exit_status": exit_status,
                                              "restarts": fresh.restarts})
        return True

    def stop(self) -> None:
        for slot in self._slots.values():
            slot.driver.close()
            if slot.emulator is not None:
                slot.emulator.stop()
        self._slots.clear()


def _endpoints_from_ready(device: DeviceSpec, ready: dict[str, Any]
                          ) -> tuple[SerialEndpoint | None, TcpEndpoint | None]:
    tcp = None
    if ready.get("tcp"):
        tcp = TcpEndpoint(host=str(ready["tcp"]["host"]), port=int(ready["tcp"]["port"]))
    serial = None
    if ready.get("serial"):
        s = ready["serial"]
        p = device.profile.serial
        serial = SerialEndpoint(port=str(s["device_path"]), baud=int(s.get("baud", p.baud)),
                                data_bits=int(s.get("data_bits", p.data_bits)),
                                parity=str(s.get("parity", p.parity)),
                                stop_bits=int(s.get("stop_bits", p.stop_bits)),
                                umockdev_dir=str(s["umockdev_dir"]))
    return serial, tcp
