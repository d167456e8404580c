"""hilbench-proxy beside socat: what a man in the middle costs, with no fault plan applied.

One echo server (a threaded Python socket server in a process of its own, so the client's
GIL is not its GIL), reached three ways in the same run:
  (a) directly;
  (b) through `socat TCP-LISTEN:P,fork,reuseaddr,nodelay TCP:127.0.0.1:ECHO,nodelay`;
  (c) through hilbench-proxy (no plan: the relay's fast path).

    .venv/bin/python benchmarks/bench_proxy.py --n 5000 --runs 5

Round trips: one connection, 200-byte request, wait for the 200-byte echo, back to back;
`--warmup` untimed first, then `--n` timed, `--runs` times; p50/p99 are per round trip,
the median over the runs. "added" is the path's p50 minus the direct p50 of the same run.
Throughput: `--mib` MiB sent by one thread while the main thread reads the echo, one
connection; MB/s (10^6 bytes) of the echoed stream, median over the runs.
Prints a markdown table and the ratio hilbench/socat of the added p50 (target <= 1.5).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from typing import Callable

from hilbench.faults import FaultProxy

REQUEST_BYTES = 200
IO_TIMEOUT_S = 30.0
ECHO_SERVER = r'''
import socket, sys, threading
listener = socket.create_server(("127.0.0.1", 0), backlog=64)
def echo(c):
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with c:
        while data := c.recv(262144):
            c.sendall(data)
def accept():
    while True:
        c, _ = listener.accept()
        threading.Thread(target=echo, args=(c,), daemon=True).start()
threading.Thread(target=accept, daemon=True).start()
print(listener.getsockname()[1], flush=True)
sys.stdin.read()  # the lifeline: the benchmark's end closes it
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)  # a startup poll of a third-party program, not a measurement


def connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT_S)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def round_trips(port: int, n: int, warmup: int) -> list[float]:
    """µs per round trip."""
    message = os.urandom(REQUEST_BYTES)
    out: list[float] = []
    with connect(port) as s:
        recv_into = s.recv_into
        buffer = bytearray(REQUEST_BYTES)
        view = memoryview(buffer)
        for i in range(warmup + n):
            start = time.perf_counter_ns()
            s.sendall(message)
            got = 0
            while got < REQUEST_BYTES:
                k = recv_into(view[got:])
                if k == 0:
                    raise ConnectionError("closed")
                got += k
            if i >= warmup:
                out.append((time.perf_counter_ns() - start) / 1000)
        if bytes(buffer) != message:
            raise AssertionError("echo differs")
    return out


def throughput(port: int, mib: int) -> float:
    """MB/s of `mib` MiB sent and echoed on one connection."""
    total = mib * 1024 * 1024
    block = os.urandom(256 * 1024)
    with connect(port) as s:
        def send() -> None:
            for _ in range(total // len(block)):
                s.sendall(block)
        sender = threading.Thread(target=send)
        start = time.perf_counter()
        sender.start()
        buffer = bytearray(1024 * 1024)
        got = 0
        while got < total:
            k = s.recv_into(buffer)
            if k == 0:
                raise ConnectionError("closed")
            got += k
        elapsed = time.perf_counter() - start
        sender.join()
    return total / elapsed / 1e6


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mib", type=int, default=64)
    args = parser.parse_args()
    socat_path = shutil.which("socat")
    if socat_path is None:
        print("socat not found (Debian: apt-get install socat; ci/lib.sh lists it)",
              file=sys.stderr)
        return 2

    echo = subprocess.Popen([sys.executable, "-c", ECHO_SERVER], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert echo.stdout is not None and echo.stdin is not None
    echo_port = int(echo.stdout.readline())
    socat_port = free_port()
    socat = subprocess.Popen(
        [socat_path, f"TCP-LISTEN:{socat_port},bind=127.0.0.1,fork,reuseaddr,nodelay",
         f"TCP:127.0.0.1:{echo_port},nodelay"], stdin=subprocess.DEVNULL)
    proxy = FaultProxy("127.0.0.1", echo_port, name="bench").start()
    try:
        wait_listening(socat_port)
        paths: dict[str, int] = {"direct": echo_port, "socat": socat_port,
                                 "hilbench-proxy": proxy.address[1]}
        p50: dict[str, list[float]] = {name: [] for name in paths}
        p99: dict[str, list[float]] = {name: [] for name in paths}
        added: dict[str, list[float]] = {name: [] for name in paths}
        rate: dict[str, list[float]] = {name: [] for name in paths}
        for run in range(args.runs):
            for name, port in paths.items():  # interleaved: drifts in load hit all three
                times = round_trips(port, args.n, args.warmup)
                p50[name].append(statistics.median(times))
                p99[name].append(percentile(times, 0.99))
                rate[name].append(throughput(port, args.mib))
            for name in paths:
                added[name].append(p50[name][-1] - p50["direct"][-1])
            print(f"run {run + 1}/{args.runs}: " + ", ".join(
                f"{name} p50 {p50[name][-1]:.1f} µs" for name in paths), file=sys.stderr)
        stats = proxy.stats()
    finally:
        proxy.stop()
        socat.terminate()
        socat.wait(10)
        echo.stdin.close()
        echo.wait(10)

    med: Callable[[list[float]], float] = statistics.median
    print(f"\n{time.strftime('%Y-%m-%d')}, {platform.machine()}, nproc {os.cpu_count()}, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (at the end), "
          f"Python {platform.python_version()}, {subprocess.run([socat_path, '-V'], text=True, capture_output=True).stdout.splitlines()[1].strip()}")
    print(f"round trips: {REQUEST_BYTES} B, {args.n} after {args.warmup} warm-up, median of "
          f"{args.runs} runs; throughput: {args.mib} MiB echoed on one connection\n")
    print("| path | p50 µs | p99 µs | added p50 µs | MB/s |")
    print("|---|---|---|---|---|")
    for name in paths:
        extra = "" if name == "direct" else f"{med(added[name]):.1f}"
        print(f"| {name} | {med(p50[name]):.1f} | {med(p99[name]):.1f} | {extra} | "
              f"{med(rate[name]):.0f} |")
    ratio = med(added["hilbench-proxy"]) / med(added["socat"])
    print(f"\nadded p50, hilbench-proxy / socat: {ratio:.2f} (target <= 1.5)")
    print(f"hilbench-proxy at the end: {stats['threads']} thread(s), {stats['fds']} fds, "
          f"{stats['accepted']} connections accepted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
