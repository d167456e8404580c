"""*IDN? and MEAS:VOLT:DC? round trips per second over USBTMC from Python: hilbench's
ScpiClient over UsbtmcTransport (libusb) beside PyVISA + pyvisa-py (pyusb over libusb),
against the same emulated DMM presented through umockdev (hilbench-emulator --usb), in one
run. Run under the umockdev preload (the figures in docs/benchmarks.md came from):

    LD_PRELOAD=$(python -c 'import hilbench.emulation as e; print(" ".join(e.preload_libraries()))') \\
    HILBENCH_NO_REEXEC=1 .venv/bin/python benchmarks/bench_usbtmc.py --n 500 --runs 5

ScpiClient drains SYST:ERR? after every query (as the harness always does), so one hilbench
query is two USBTMC round trips; the table also shows a bare ScpiClient with check_errors
off, which does what PyVISA does (one round trip per query).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Callable

from hilbench import ScpiClient, UsbtmcTransport, UsbTransport
from hilbench.bench import embedded_profile_dir
from hilbench.emulation import start_emulator, use_umockdev_dir

DMM = embedded_profile_dir() / "dmm6-reference.toml"
SERIAL = "DMM6-2026-000042"
RESOURCE = f"USB0::0x1209::0x0001::{SERIAL}::INSTR"


def rate(call: Callable[[], object], n: int, runs: int) -> tuple[float, float]:
    """(median queries/s over `runs`, median per-query latency in µs)."""
    for _ in range(min(50, n)):
        call()
    rates, latencies = [], []
    for _ in range(runs):
        started = time.perf_counter()
        for _ in range(n):
            t0 = time.perf_counter()
            call()
            latencies.append(time.perf_counter() - t0)
        rates.append(n / (time.perf_counter() - started))
    return statistics.median(rates), statistics.median(latencies) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--max-transfer", type=int, nargs="+", default=[65536, 4096, 1012],
                        help="UsbtmcTransport read sizes to compare (check_errors off)")
    args = parser.parse_args()
    emulator = start_emulator(DMM, serial=False, usb=True, log_path=Path("/tmp/bench-usbtmc.log"))
    rows = []
    try:
        use_umockdev_dir(emulator.ready["usb"]["umockdev_dir"])
        # The harness's way (error queue drained), then PyVISA's (one round trip per query)
        # at each REQUEST_DEV_DEP_MSG_IN size: umockdev copies the whole URB buffer each way.
        variants = [(True, 65536)] + [(False, size) for size in args.max_transfer]
        for check_errors, max_transfer in variants:
            transport = UsbtmcTransport(UsbTransport(serial=SERIAL), max_transfer=max_transfer)
            client = ScpiClient(transport, timeout=2.0, check_errors=check_errors)
            label = "hilbench ScpiClient" + ("" if check_errors else " (check_errors off)") + \
                f", max_transfer {max_transfer}"
            for query in ("*IDN?", "MEAS:VOLT:DC?"):
                rows.append((label, query, *rate(lambda q=query: (client.query(q),
                                                                  client.take_exchanges()),
                                                 args.n, args.runs)))
            del client, transport
        import pyvisa  # noqa: PLC0415  (optional: only for the comparison)
        manager = pyvisa.ResourceManager("@py")
        instrument = manager.open_resource(RESOURCE, timeout=2000)
        for query in ("*IDN?", "MEAS:VOLT:DC?"):
            rows.append(("PyVISA + pyvisa-py", query,
                         *rate(lambda q=query: instrument.query(q), args.n, args.runs)))
        instrument.close()
        manager.close()
    finally:
        emulator.stop()
    print("| client | query | queries/s | p50 µs |\n|---|---|---|---|")
    for label, query, per_second, p50 in rows:
        print(f"| {label} | `{query}` | {per_second:,.0f} | {p50:,.0f} |")


if __name__ == "__main__":
    main()
