"""Modbus TCP FC3 (10 holding registers) transactions per second, back to back, from Python:
hilbench's binding vs pymodbus's sync client, against the same hilbench emulator, in one run.

Placement is controlled and reported (../shared/reference/perf-anchors.md: a cross-core
wake-up costs ~60 us here, so unpinned figures are noise): every pair is measured with
client and emulator on one core, and on two different cores. Figures are medians over
--runs runs of --n transactions after a warm-up; ratios are hilbench / pymodbus in the
same placement.

    .venv/bin/python benchmarks/bench_modbus_tcp.py [--n 20000] [--runs 7] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from importlib.metadata import version
from typing import Callable

from hilbench import ModbusClient, TcpTransport
from hilbench.bench import embedded_profile_dir
from hilbench.emulation import ChildProcess, find_tool

REGISTERS = 10


def start_emulator(core: int) -> ChildProcess:
    argv = ["taskset", "-c", str(core), find_tool("hilbench-emulator"),
            "--profile", str(embedded_profile_dir() / "em1-meter.toml"),
            "--tcp-host", "127.0.0.1", "--tcp-port", "0", "--no-serial"]
    child = ChildProcess(argv, "hilbench-emulator")
    child.start()
    return child


def hilbench_reader(port: int) -> Callable[[], None]:
    client = ModbusClient(TcpTransport("127.0.0.1", port), framing="tcp", unit=1, timeout=1.0)

    def read() -> None:
        client.read_holding_registers(0, REGISTERS)
        client.take_exchanges()  # what the plugin does: keep the recorder from growing

    return read


def pymodbus_reader(port: int) -> Callable[[], None]:
    from pymodbus.client import ModbusTcpClient

    client = ModbusTcpClient("127.0.0.1", port=port, timeout=1.0)
    if not client.connect():
        raise RuntimeError("pymodbus could not connect")

    def read() -> None:
        result = client.read_holding_registers(0, count=REGISTERS, device_id=1)
        if result.isError():
            raise RuntimeError(f"pymodbus read failed: {result}")

    return read


def measure(read: Callable[[], None], n: int) -> dict[str, float]:
    for _ in range(min(1000, n)):
        read()
    latencies = []
    clock = time.perf_counter_ns
    start = clock()
    for _ in range(n):
        t0 = clock()
        read()
        latencies.append(clock() - t0)
    elapsed = (clock() - start) / 1e9
    latencies.sort()
    return {"tx_per_s": n / elapsed, "p50_us": latencies[len(latencies) // 2] / 1e3,
            "p99_us": latencies[int(len(latencies) * 0.99)] / 1e3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0))
    placements = {"one core": (cores[0], cores[0])}
    if len(cores) > 1:
        placements["two cores"] = (cores[0], cores[1])

    results = []
    for placement, (client_core, server_core) in placements.items():
        os.sched_setaffinity(0, {client_core})
        emulator = start_emulator(server_core)
        try:
            port = int(emulator.ready["tcp"]["port"])
            for name, factory in (("hilbench", hilbench_reader), ("pymodbus", pymodbus_reader)):
                read = factory(port)
                runs = [measure(read, args.n) for _ in range(args.runs)]
                results.append({
                    "client": name, "placement": placement,
                    "tx_per_s": statistics.median(r["tx_per_s"] for r in runs),
                    "p50_us": statistics.median(r["p50_us"] for r in runs),
                    "p99_us": statistics.median(r["p99_us"] for r in runs),
                })
        finally:
            emulator.stop()
    os.sched_setaffinity(0, set(cores))

    print(f"# Modbus TCP FC3 x{REGISTERS} registers, Python client -> hilbench-emulator; "
          f"n={args.n}, median of {args.runs} runs; {platform.machine()}, {os.cpu_count()} cpus; "
          f"hilbench {version('hilbench')}, pymodbus {version('pymodbus')}")
    print("| client | placement | tx/s | p50 us | p99 us | ratio to pymodbus |")
    print("|---|---|---|---|---|---|")
    for row in results:
        peer = next(r for r in results if r["client"] == "pymodbus" and r["placement"] == row["placement"])
        print(f"| {row['client']} | {row['placement']} | {row['tx_per_s']:,.0f} | {row['p50_us']:.1f} | "
              f"{row['p99_us']:.1f} | {row['tx_per_s'] / peer['tx_per_s']:.2f}x |")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
