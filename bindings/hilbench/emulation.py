"""Processes of the emulated bench: hilbench-emulator and hilbench-present-port.

Each child is started with a pipe on its stdin and stops when that pipe closes, so no
emulator outlives the session that started it, even if that session is killed. Children
announce readiness with one JSON line on stdout; we wait for that event with a deadline
(never a sleep). Children get an environment without the umockdev preload: they own
testbeds, they must not live inside one.
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
from typing import Any, BinaryIO, Sequence

from ._core import ConfigError, DeviceTimeout, HarnessError

PRELOAD_NAME = "libumockdev-preload.so.0"
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


def preload_active() -> bool:
    return PRELOAD_NAME in os.environ.get("LD_PRELOAD", "")


def reexec_under_preload(argv: Sequence[str]) -> None:
    """Replaces this process by `argv` run under libumockdev-preload, once: emulated serial
    ports can be opened only from inside it. Returns (does nothing) if the preload is already
    active, HILBENCH_NO_REEXEC is set, or the library is missing — then opening an emulated
    port fails with a message saying what is missing."""
    library = preload_library()
    if preload_active() or os.environ.get("HILBENCH_NO_REEXEC") or library is None:
        return
    env = dict(os.environ)
    env["LD_PRELOAD"] = (env.get("LD_PRELOAD", "") + " " + library).strip()
    env["HILBENCH_NO_REEXEC"] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(argv[0], list(argv), env)


def child_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("UMOCKDEV_DIR", None)
    preload = [p for p in env.get("LD_PRELOAD", "").split() if PRELOAD_NAME not in p]
    if preload:
        env["LD_PRELOAD"] = " ".join(preload)
    else:
        env.pop("LD_PRELOAD", None)
    return env


def use_umockdev_dir(directory: str) -> None:
    """Points this process's umockdev preload at a testbed (read on every call)."""
    if not preload_active():
        raise ConfigError("emulated serial ports need this process to run under "
                          f"LD_PRELOAD={PRELOAD_NAME} (the hilbench pytest plugin re-executes "
                          "pytest that way; run other programs with umockdev-wrapper)")
    os.environ["UMOCKDEV_DIR"] = directory


class ChildProcess:
    """A child that prints one JSON `ready` line, then serves until its stdin closes."""

    def __init__(self, argv: Sequence[str], name: str, log_path: Path | None = None) -> None:
        self.argv = list(argv)
        self.name = name
        self.log_path = log_path
        self.ready: dict[str, Any] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._log: BinaryIO | None = None

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

    def _read_line(self, timeout: float) -> str:
        assert self._process is not None and self._process.stdout is not None
        deadline = time.monotonic() + timeout
        stdout = self._process.stdout
        buffer = b""
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                raise DeviceTimeout(f"{self.name}: not ready within {timeout:.1f} s{self._log_hint()}")
            readable, _, _ = select.select([stdout], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(stdout.fileno(), 4096)
            if not chunk:
                code = self._process.wait()
                self._close_log()
                raise HarnessError(f"{self.name}: exited with status {code} before it was ready"
                                   f"{self._log_hint()}")
            buffer += chunk
        return buffer.split(b"\n", 1)[0].decode("utf-8", "replace")

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


def start_emulator(profile: Path, defects: Sequence[str] = (), serial: bool = True, tcp: bool = True,
                   log_path: Path | None = None, timeout: float = 10.0) -> ChildProcess:
    argv = [find_tool("hilbench-emulator"), "--profile", str(profile)]
    argv += ["--tcp-host", "127.0.0.1", "--tcp-port", "0"] if tcp else ["--no-tcp"]
    if not serial:
        argv.append("--no-serial")
    for defect in defects:
        argv += ["--defect", defect]
    child = ChildProcess(argv, f"hilbench-emulator[{profile.name}]", log_path)
    child.start(timeout)
    return child


def present_port(tty: str = "ttyUSB0", log_path: Path | None = None, timeout: float = 10.0) -> ChildProcess:
    """Presents a umockdev serial port bridged to a fresh pty (ready['peer_path']) that a
    third-party simulator (e.g. a pymodbus serial server) can open."""
    child = ChildProcess([find_tool("hilbench-present-port"), "--tty", tty], f"hilbench-present-port[{tty}]",
                         log_path)
    child.start(timeout)
    return child
