"""Processes of the emulated bench: hilbench-presenter, hilbench-emulator and
hilbench-present-port.

One hilbench-presenter hosts every emulated serial port of a bench (one umockdev testbed,
one UART model per port); each emulator attaches to its port with --serial-socket, so an
emulator can die and be restarted while the harness keeps the port open. Each child is
started with a pipe on its stdin and stops when that pipe closes, so none outlives the
session that started it, even if that session is killed. Children announce readiness with
one JSON line on stdout; we wait for that event with a deadline (never a sleep). Children
get an environment without the preloads: they own testbeds, they must not live inside one.

The harness process reaches emulated ports under two preloads: umockdev's, and the termios
shim (libhilbench-termios-shim.so, installed next to the executables), which routes glibc's
termios calls through ioctl() so the port's UART model keeps parity and data bits.
"""

from __future__ import annotations

import glob
import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, BinaryIO, Callable, Mapping, Sequence

from ._core import ConfigError, DeviceTimeout, HarnessError

PRELOAD_NAME = "libumockdev-preload.so.0"
SHIM_NAME = "libhilbench-termios-shim.so"
_PRELOAD_SEARCH = ("/usr/lib/*/libumockdev-preload.so.0", "/usr/lib/libumockdev-preload.so.0",
                   "/usr/lib64/libumockdev-preload.so.0")


def find_tool(name: str) -> str:
    """Path of one of our executables: $HILBENCH_<NAME>, next to this Python, or on PATH."""
    override = os.environ.get("HILBENCH_" + name.upper().replace("-", "_").removeprefix("HILBENCH_"))
    if override:
        return override
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(name)
    if found:
        return found
    raise ConfigError(f"{name}: executable not found (install hilbench with pip, or set "
                      f"HILBENCH_{name.upper().replace('-', '_').removeprefix('HILBENCH_')})")


def preload_library() -> str | None:
    for pattern in _PRELOAD_SEARCH:
        matches = sorted(glob.glob(pattern))
        if matches:
            return matches[0]
    return None


def shim_library() -> str | None:
    """The termios shim: $HILBENCH_TERMIOS_SHIM, next to this Python's executables (where pip
    installs it), or next to hilbench-presenter on PATH."""
    override = os.environ.get("HILBENCH_TERMIOS_SHIM")
    if override:
        return override
    candidates = [Path(sys.executable).parent / SHIM_NAME]
    presenter = shutil.which("hilbench-presenter")
    if presenter:
        candidates.append(Path(presenter).resolve().parent / SHIM_NAME)
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    return None


def preload_libraries() -> list[str] | None:
    """What the harness process needs in LD_PRELOAD for emulated ports, or None if missing."""
    umockdev, shim = preload_library(), shim_library()
    if umockdev is None or shim is None:
        return None
    return [umockdev, shim]


def preload_active() -> bool:
    """True when both the umockdev preload and the termios shim are loaded."""
    preload = os.environ.get("LD_PRELOAD", "")
    return PRELOAD_NAME in preload and SHIM_NAME in preload


def reexec_under_preload(argv: Sequence[str]) -> None:
    """Replaces this process by `argv` run under libumockdev-preload and the termios shim,
    once: emulated serial ports can be opened only from inside them. Returns (does nothing)
    if they are already active, HILBENCH_NO_REEXEC is set, or a library is missing — then
    opening an emulated port fails with a message saying what is missing."""
    libraries = preload_libraries()
    if preload_active() or os.environ.get("HILBENCH_NO_REEXEC") or libraries is None:
        return
    env = dict(os.environ)
    present = env.get("LD_PRELOAD", "").split()
    env["LD_PRELOAD"] = " ".join(present + [lib for lib in libraries if lib not in present])
    env["HILBENCH_NO_REEXEC"] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(argv[0], list(argv), env)


def child_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("UMOCKDEV_DIR", None)
    preload = [p for p in env.get("LD_PRELOAD", "").split()
               if PRELOAD_NAME not in p and SHIM_NAME not in p]
    if preload:
        env["LD_PRELOAD"] = " ".join(preload)
    else:
        env.pop("LD_PRELOAD", None)
    return env


def use_umockdev_dir(directory: str) -> None:
    """Points this process's umockdev preload at a testbed (read on every call)."""
    if not preload_active():
        raise ConfigError("emulated serial ports need this process to run under "
                          f"LD_PRELOAD='{PRELOAD_NAME} {SHIM_NAME}' (the hilbench pytest plugin "
                          "re-executes pytest that way; `hilbench emulate` prints the line for "
                          "other programs)")
    os.environ["UMOCKDEV_DIR"] = directory


class ChildProcess:
    """A child that prints one JSON `ready` line, then serves until its stdin closes."""

    def __init__(self, argv: Sequence[str], name: str, log_path: Path | None = None) -> None:
        self.argv = list(argv)
        self.name = name
        self.log_path = log_path
        self.ready: dict[str, Any] = {}
        # Children started for this one (a private presenter): stopped after it.
        self.companions: list[ChildProcess] = []
        self._process: subprocess.Popen[bytes] | None = None
        self._log: BinaryIO | None = None
        self._stdout_buffer = b""  # bytes after the last line read (control replies)

    def start(self, timeout: float = 10.0) -> dict[str, Any]:
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "ab")
        self._process = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._log if self._log else subprocess.DEVNULL,
            env=child_environment(), close_fds=True)
        line = self._read_line(timeout)
        try:
            ready = json.loads(line)
        except json.JSONDecodeError:
            self.stop()
            raise HarnessError(f"{self.name}: bad ready line: {line[:200]!r}") from None
        if not isinstance(ready, dict) or ready.get("event") != "ready":
            self.stop()
            raise HarnessError(f"{self.name}: expected a ready event, got {line[:200]!r}")
        self.ready = ready
        return ready

    def control(self, request: dict[str, Any], timeout: float = 5.0,
                notices: Mapping[str, Callable[[dict[str, Any]], None]] | None = None
                ) -> dict[str, Any]:
        """Sends one control request (devices/README.md, "Control channel") and returns the
        child's reply. Raises HarnessError when the child refuses it or is gone, DeviceTimeout
        when no reply comes within `timeout` s (the child is then left running).
        `notices`: lines the child writes of its own accord before the reply (hilbench-proxy's
        "fault_applied"), by event name, each handed to its callback and skipped."""
        process = self._process
        if process is None or process.stdin is None or process.poll() is not None:
            raise HarnessError(f"{self.name}: not running; cannot send {request}")
        try:
            process.stdin.write(json.dumps(request).encode() + b"\n")
            process.stdin.flush()
        except OSError as error:
            raise HarnessError(f"{self.name}: cannot send a control request: {error}") from None
        deadline = time.monotonic() + timeout
        while True:
            line = self._read_line(max(0.0, deadline - time.monotonic()),
                                   what=f"no reply to {request}", stop_on_timeout=False)
            try:
                reply = json.loads(line)
            except json.JSONDecodeError:
                raise HarnessError(f"{self.name}: bad control reply: {line[:200]!r}") from None
            notice = notices.get(reply.get("event", "")) if notices and isinstance(reply, dict) \
                else None
            if notice is None:
                break
            notice(reply)
        if not isinstance(reply, dict) or reply.get("event") == "error":
            message = reply.get("message") if isinstance(reply, dict) else line[:200]
            raise HarnessError(f"{self.name}: refused {request}: {message}")
        return reply

    def _read_line(self, timeout: float, what: str = "not ready",
                   stop_on_timeout: bool = True) -> str:
        assert self._process is not None and self._process.stdout is not None
        deadline = time.monotonic() + timeout
        stdout = self._process.stdout
        buffer = self._stdout_buffer
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._stdout_buffer = buffer
                if stop_on_timeout:
                    self.stop()
                raise DeviceTimeout(f"{self.name}: {what} within {timeout:.1f} s{self._log_hint()}")
            readable, _, _ = select.select([stdout], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(stdout.fileno(), 4096)
            if not chunk:
                code = self._process.wait()
                self._close_log()
                raise HarnessError(f"{self.name}: exited with status {code} ({what})"
                                   f"{self._log_hint()}")
            buffer += chunk
        line, self._stdout_buffer = buffer.split(b"\n", 1)
        return line.decode("utf-8", "replace")

    def _log_hint(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        tail = self.log_path.read_text(errors="replace").strip().splitlines()[-3:]
        return f" (log {self.log_path}: {' | '.join(tail)})" if tail else f" (log {self.log_path})"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash would (fault tests)."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def stop(self, timeout: float = 5.0) -> int | None:
        try:
            return self._stop(timeout)
        finally:
            for companion in self.companions:
                companion.stop(timeout)

    def _stop(self, timeout: float) -> int | None:
        process = self._process
        if process is None:
            return None
        if process.poll() is None and process.stdin is not None:
            try:
                process.stdin.close()  # the child's signal to leave
            except OSError:
                pass
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.terminate()
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if process.stdout is not None:
            process.stdout.close()
        self._close_log()
        return process.returncode

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def start_presenter(ports: Sequence[tuple[str, str, str]], paced: bool = True,
                    log_path: Path | None = None, timeout: float = 10.0) -> ChildProcess:
    """Starts hilbench-presenter with one emulated USB-serial adapter per (tty, adapter
    serial, product). Its ready line: {"umockdev_dir", "pacing": "paced"|"unpaced",
    "ports": [{"tty", "device_path", "adapter_serial", "socket", ...}]} (devices/README.md)."""
    argv = [find_tool("hilbench-presenter")]
    for tty, serial, product in ports:
        argv += ["--port", f"{tty}:{serial}:{product}"]
    if not paced:
        argv.append("--unpaced")
    child = ChildProcess(argv, "hilbench-presenter", log_path)
    child.start(timeout)
    return child


def adapter_serial(device_name: str) -> str:
    """The USB serial number the presenter gives a device's adapter: HB-<name>, safe chars."""
    return "HB-" + "".join(c if c.isalnum() or c in "-_." else "_" for c in device_name)


def optical_adapter_serial(device_name: str) -> str:
    """The adapter serial of a meter's emulated optical probe: HB-<name>-optical."""
    return adapter_serial(device_name) + "-optical"


def port_of(presenter: ChildProcess, serial: str) -> dict[str, Any]:
    """A presenter port by its adapter serial number (as a bench finds hardware)."""
    for port in presenter.ready.get("ports", []):
        if port.get("adapter_serial") == serial:
            return dict(port)
    raise ConfigError(f"the presenter has no port with adapter serial {serial!r}")


def start_emulator(profile: Path, defects: Sequence[str] = (), serial: bool = True, tcp: bool = True,
                   log_path: Path | None = None, timeout: float = 10.0,
                   presenter: ChildProcess | None = None, port_serial: str | None = None,
                   paced: bool = True, optical_serial: str | None = None,
                   usb: bool = False, world: Path | None = None,
                   wires: Mapping[str, str] | None = None) -> ChildProcess:
    """Starts hilbench-emulator. Its serial side attaches to the presenter port whose adapter
    serial is `port_serial`; without a presenter, a private one (`paced`) is started and
    stopped with the emulator. ready["serial"] then also carries the port as the harness
    opens it: device_path, umockdev_dir, adapter_serial and the presenter's pacing. With
    `optical_serial`, a meter's optical port (IEC 62056-21) attaches to that presenter port
    (--optical-socket) and ready["optical"] is completed the same way. With `usb` (SCPI kinds)
    the instrument also appears as a USBTMC device in a umockdev testbed of its own:
    ready["usb"] (umockdev_dir, vid, pid, serial, resource, ...).
    `world` is the bench's world directory and `wires` what the device is wired to there
    (role -> device name: power, terminals, pulse_input; devices/README.md, "The world")."""
    argv = [find_tool("hilbench-emulator"), "--profile", str(profile)]
    if usb:
        argv.append("--usb")
    if world is not None:
        argv += ["--world", str(world)]
        for role, device in (wires or {}).items():
            argv += ["--wire", f"{role}={device}"]
    argv += ["--tcp-host", "127.0.0.1", "--tcp-port", "0"] if tcp else ["--no-tcp"]
    for defect in defects:
        argv += ["--defect", defect]
    own_presenter = None
    port: dict[str, Any] | None = None
    optical_port: dict[str, Any] | None = None
    if (serial or optical_serial) and presenter is None:
        port_serial = port_serial or adapter_serial(profile.stem)
        wanted = [(port_serial, f"hilbench emulated {profile.stem} port")] if serial else []
        if optical_serial:
            wanted.append((optical_serial, f"hilbench emulated {profile.stem} optical probe"))
        presenter_log = log_path.with_name(log_path.stem + "-presenter.log") if log_path else None
        own_presenter = presenter = start_presenter(
            [(f"ttyUSB{i}", s, product) for i, (s, product) in enumerate(wanted)], paced=paced,
            log_path=presenter_log, timeout=timeout)
    if not serial:
        argv.append("--no-serial")
    else:
        assert presenter is not None
        port = port_of(presenter, port_serial or presenter.ready["ports"][0]["adapter_serial"])
        argv += ["--serial-socket", port["socket"]]
    if optical_serial:
        assert presenter is not None
        optical_port = port_of(presenter, optical_serial)
        argv += ["--optical-socket", optical_port["socket"]]
    child = ChildProcess(argv, f"hilbench-emulator[{profile.name}]", log_path)
    if own_presenter is not None:
        child.companions.append(own_presenter)
    try:
        child.start(timeout)
    except BaseException:
        child.stop()
        raise
    for kind, presented in (("serial", port), ("optical", optical_port)):
        if presented is not None and isinstance(child.ready.get(kind), dict):
            assert presenter is not None
            child.ready[kind].update(
                umockdev_dir=presenter.ready["umockdev_dir"], device_path=presented["device_path"],
                adapter_serial=presented["adapter_serial"], pacing=presenter.ready["pacing"])
    return child


def present_port(tty: str = "ttyUSB0", log_path: Path | None = None, timeout: float = 10.0) -> ChildProcess:
    """Presents a umockdev serial port bridged to a fresh pty (ready['peer_path']) that a
    third-party simulator (e.g. a pymodbus serial server) can open."""
    child = ChildProcess([find_tool("hilbench-present-port"), "--tty", tty], f"hilbench-present-port[{tty}]",
                         log_path)
    child.start(timeout)
    return child
