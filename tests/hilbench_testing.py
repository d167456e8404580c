"""Helpers and fixtures for hilbench's own Python tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import pytest

from hilbench.emulation import ChildProcess, child_environment

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT / "tests" / "peers"


def run_pytest(args: list[str], cwd: Path = ROOT, timeout: float = 600,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Runs pytest in a child process (a whole hilbench session, as a lab would)."""
    env = dict(env) if env is not None else child_environment()
    env.pop("HILBENCH_NO_REEXEC", None)
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=timeout)


def load_report(evidence_dir: Path, market: str) -> dict:
    return json.loads((evidence_dir / "reports" / f"report-{market}.json").read_text())


@pytest.fixture
def pymodbus_peer() -> Iterator[callable]:
    """Starts tests/peers/pymodbus_device.py; yields a starter, stops every peer after the test."""
    started: list[ChildProcess] = []

    def start(*args: str, profile: Path = PEERS / "pymodbus-meter.toml") -> ChildProcess:
        child = ChildProcess([sys.executable, str(PEERS / "pymodbus_device.py"), "--profile", str(profile),
                              *args], "pymodbus-peer")
        child.start(timeout=20)
        started.append(child)
        return child

    yield start
    for child in started:
        child.stop()


class SilentServer:
    """A loopback TCP server that accepts and reads but never answers (a dead device)."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.connections.append(connection)

    def close(self) -> None:
        self.socket.close()
        for connection in self.connections:
            connection.close()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


@pytest.fixture
def in_preload() -> None:
    if "libumockdev-preload" not in os.environ.get("LD_PRELOAD", ""):
        pytest.fail("this test needs the umockdev preload (the hilbench plugin re-executes pytest "
                    "under it; HILBENCH_NO_REEXEC was set without it)")


def requirement_statuses(report: dict) -> dict[str, str]:
    """Requirement ID -> status ("passed", "failed", "not tested", "inconclusive") of a report."""
    return {r["id"]: r["status"] for r in report["requirements"]}


class DroppingProxy:
    """A loopback TCP relay in front of a device that drops every connection on request, as a
    rebooting meter or gateway does. A connection to `control_port` drops them all and
    answers b"dropped" once they are (so a test can wait for the event, not sleep)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.control = socket.create_server(("127.0.0.1", 0))
        self.control_port = self.control.getsockname()[1]
        self.connections: list[socket.socket] = []
        self.accepted = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()
        threading.Thread(target=self._serve_control, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            with self._lock:
                self.connections += [client, upstream]
                self.accepted += 1
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(4096):
                sink.sendall(data)
        except OSError:
            pass

    def drop(self) -> None:
        with self._lock:
            for connection in self.connections:
                try:  # shutdown first: it acts at once, even while a pump thread is in recv
                    connection.shutdown(socket.SHUT_RDWR)
                    connection.close()
                except OSError:
                    pass
            self.connections.clear()

    def _serve_control(self) -> None:
        while True:
            try:
                connection, _ = self.control.accept()
            except OSError:
                return
            self.drop()
            connection.sendall(b"dropped")
            connection.close()

    def close(self) -> None:
        self.listener.close()
        self.control.close()
        self.drop()


def wired_meter_bench(path: Path, meter_profile: Path, meter_defects: tuple[str, ...] = (),
                      serial: bool = False, name: str = "world") -> Path:
    """Writes a bench file with a meter (the DUT, `meter_profile`) powered by the PSU-2 and with
    its terminals on the RS-3, all emulated (the meter's RTU face only with `serial`)."""
    from hilbench.bench import embedded_profile_dir

    profiles = embedded_profile_dir()
    knobs = ", ".join(f'"{d}"' for d in meter_defects)
    path.write_text(f'''schema = 1
name = "{name}"
[[devices]]
profile = "{meter_profile}"
driver = "modbus-meter"
role = "dut"
powered_by = "psu2"
terminals = "rs3"
[devices.emulator]
defects = [{knobs}]
serial = {"true" if serial else "false"}
[[devices]]
profile = "{profiles / 'psu2-power-supply.toml'}"
driver = "scpi-psu"
[devices.emulator]
serial = false
[[devices]]
profile = "{profiles / 'rs3-reference-source.toml'}"
driver = "scpi-source"
[devices.emulator]
serial = false
''')
    return path

