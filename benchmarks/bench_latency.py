"""Latency measurement accuracy: the emulated EM-1 holds every Modbus answer back by a known
delay (profile [timing] response_delay_us); how well is it recovered, and what does the
measurement cost? hilbench's chunk timestamps (C++, CLOCK_MONOTONIC at each read/write) beside
the same measurement made in Python with time.perf_counter_ns() around socket / pyserial
calls, on loopback TCP and on an emulated serial port (umockdev + hilbench-presenter), in one
run. Run under the umockdev preload (the figures in docs/benchmarks.md came from):

    LD_PRELOAD=$(.venv/bin/python -c 'import hilbench.emulation as e; print(" ".join(e.preload_libraries()))') \\
    HILBENCH_NO_REEXEC=1 .venv/bin/python benchmarks/bench_latency.py --n 300 --delay-us 2000

Reported per method: median and p99 of request end -> first answer byte, its error against
the ground truth (TCP: the delay; RTU: request on the wire + t3.5 + delay + first character,
the line model of docs/timing.md), and the error of the delay recovered as the difference
of medians with and without the delay. "overhead" is the harness's cost of capturing
timestamps: per-transaction time with capture on minus off.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from hilbench import encode_rtu, encode_tcp, rtu_limits_ns
from hilbench.bench import embedded_profile_dir, load_bench
from hilbench.emulation import use_umockdev_dir
from hilbench.live import LiveBench
from hilbench.protocols import ModbusDevice
from hilbench.timing import timed

PROFILE = embedded_profile_dir() / "em1-meter.toml"


def bench(tmp: Path, delay_us: int, serial: bool) -> LiveBench:
    profile = tmp / f"em1-{delay_us}.toml"
    profile.write_text(PROFILE.read_text().replace("response_delay_us = 0 ",
                                                   f"response_delay_us = {delay_us} "))
    spec = tmp / f"bench-{delay_us}-{serial}.toml"
    spec.write_text(f'schema = 1\nname = "latency"\n[[devices]]\nprofile = "{profile}"\n'
                    f'driver = "modbus"\n[devices.emulator]\nserial = {str(serial).lower()}\n')
    live = LiveBench(load_bench(spec), tmp / f"logs-{delay_us}-{serial}", timeout=1.0)
    live.start()
    return live


def summary(values_ns: list[int], truth_ns: float) -> dict[str, float]:
    values = sorted(values_ns)
    return {"median_us": statistics.median(values) / 1000,
            "p99_us": values[int(0.99 * (len(values) - 1))] / 1000,
            "median_error_us": (statistics.median(values) - truth_ns) / 1000}


def harness(meter: Any, interface: str, n: int) -> tuple[list[int], float]:
    """(request end -> first byte per exchange from chunk timestamps, overhead per
    transaction in us: capture on minus off)."""
    client, transport = meter.client(interface), meter.transport(interface)
    read = lambda: client.read_holding_registers(0, 1)  # noqa: E731
    for _ in range(20):
        read()
    started = time.perf_counter_ns()
    for _ in range(n):
        read()
    off = (time.perf_counter_ns() - started) / n
    started = time.perf_counter_ns()
    result = timed(transport, read, n, transport.character_time)
    on = (time.perf_counter_ns() - started) / n
    client.take_exchanges()
    return [e["to_first_ns"] for e in result.exchanges], (on - off) / 1000


def python_tcp(port: int, n: int) -> list[int]:
    """perf_counter_ns() after sendall() returns -> after the first recv() returns."""
    request = encode_tcp(1, 1, 3, bytes([0, 0, 0, 1]))
    out = []
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(n + 20):
            sock.sendall(request)
            t0 = time.perf_counter_ns()
            data = sock.recv(256)
            t1 = time.perf_counter_ns()
            while len(data) < 11:
                data += sock.recv(256)
            if i >= 20:
                out.append(t1 - t0)
    return out


def python_serial(device: str, settings: dict[str, Any], n: int) -> list[int]:
    """pyserial: perf_counter_ns() after write() returns -> after read(1) returns."""
    import serial  # pyserial (pymodbus[serial] brings it)

    frame = encode_rtu(1, 3, bytes([0, 0, 0, 1]))
    parity = {"none": serial.PARITY_NONE, "even": serial.PARITY_EVEN,
              "odd": serial.PARITY_ODD}[settings["parity"]]
    out = []
    with serial.Serial(device, settings["baud"], bytesize=settings["data_bits"], parity=parity,
                       stopbits=settings["stop_bits"], timeout=1.0) as port:
        for i in range(n + 20):
            port.write(frame)
            t0 = time.perf_counter_ns()
            first = port.read(1)
            t1 = time.perf_counter_ns()
            port.read(6)  # 01 03 02 hi lo crc crc
            if not first:
                raise RuntimeError("pyserial: no answer")
            if i >= 20:
                out.append(t1 - t0)
            time.sleep(0.005)  # a master's inter-frame t3.5 before the next request
    return out


def measure(tmp: Path, delay_us: int, n: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    live = bench(tmp, delay_us, serial=True)
    try:
        meter = live.find(ModbusDevice)
        tcp_ns, tcp_overhead = harness(meter, "tcp", n)
        rtu_ns, rtu_overhead = harness(meter, "rtu", n)
        transport = meter.transport("rtu")
        settings = transport.serial_line_settings()
        tc = transport.character_time * 1e9
        _, t35 = rtu_limits_ns(settings["baud"], transport.character_time)
        device = transport.name.split(":", 1)[1]
        tcp_port = int(meter.transport("tcp").name.rsplit(":", 1)[1])
        results["tcp"] = {"harness": (tcp_ns, tcp_overhead), "python": python_tcp(tcp_port, n)}
        rtu_truth = 8 * tc + t35 + delay_us * 1000 + tc
        results["rtu"] = {"harness": (rtu_ns, rtu_overhead), "truth_ns": rtu_truth,
                          "settings": settings, "device": device}
    finally:
        live.stop()
    live = bench(tmp, delay_us, serial=True)  # pyserial alone on the port
    try:
        meter = live.find(ModbusDevice)
        resource = meter.resources[meter._resource_kind("rtu")]  # type: ignore[attr-defined]
        use_umockdev_dir(resource.umockdev_dir)  # this bench's testbed, as connect() does
        results["rtu"]["python"] = python_serial(results["rtu"]["device"],
                                                 results["rtu"]["settings"], n)
    finally:
        live.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--delay-us", type=int, default=2000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        delayed = measure(Path(tmp), args.delay_us, args.n)
        base = measure(Path(tmp), 0, args.n)
    rows = []
    for link in ("tcp", "rtu"):
        for method in ("harness", "python"):
            with_delay = delayed[link][method]
            without = base[link][method]
            values = with_delay[0] if method == "harness" else with_delay
            values0 = without[0] if method == "harness" else without
            truth = args.delay_us * 1000 if link == "tcp" else delayed[link]["truth_ns"]
            row = {"link": link, "method": method, **summary(values, truth),
                   "recovered_delay_error_us":
                       (statistics.median(values) - statistics.median(values0)) / 1000
                       - args.delay_us,
                   "overhead_us": with_delay[1] if method == "harness" else None}
            rows.append(row)
    print(f"{'link':4} {'method':8} {'median us':>10} {'p99 us':>9} {'err us':>8} "
          f"{'Δ-delay err us':>15} {'overhead us':>12}")
    for r in rows:
        overhead = f"{r['overhead_us']:.2f}" if r["overhead_us"] is not None else "-"
        print(f"{r['link']:4} {r['method']:8} {r['median_us']:10.1f} {r['p99_us']:9.1f} "
              f"{r['median_error_us']:8.1f} {r['recovered_delay_error_us']:15.1f} {overhead:>12}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
