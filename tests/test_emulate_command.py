"""`hilbench emulate [BENCH]`: the emulated bench in the foreground, one ready line saying where
every device is, until Ctrl-C; nothing left behind."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from hilbench import ModbusClient, TcpTransport
from hilbench.bench import embedded_profile_dir
from hilbench.emulation import child_environment

EM1 = embedded_profile_dir() / "em1-meter.toml"


def read_line(stream, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    buffer = b""
    while b"\n" not in buffer:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no ready line within {timeout} s: {buffer[-500:]!r}"
        if select.select([stream], [], [], remaining)[0]:
            chunk = os.read(stream.fileno(), 65536)
            assert chunk, f"exited before the ready line: {buffer[-500:]!r}"
            buffer += chunk
    return buffer.split(b"\n", 1)[0].decode()


def test_emulate_a_bench_file_prints_every_endpoint_and_stops_cleanly(tmp_path: Path) -> None:
    bench = tmp_path / "bench.toml"
    bench.write_text(f"""schema = 1
name = "two meters"
[[devices]]
name = "meter-a"
profile = "{EM1}"
[devices.emulator]
[[devices]]
name = "meter-b"
profile = "{EM1}"
[devices.emulator]
serial = false
""")
    process = subprocess.Popen([sys.executable, "-m", "hilbench.cli", "emulate", str(bench)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=child_environment())
    try:
        ready = json.loads(read_line(process.stdout, timeout=30))
        assert ready["event"] == "ready" and ready["bench"] == "two meters"
        devices = {d["name"]: d for d in ready["devices"]}
        kinds_a = {e["kind"]: e for e in devices["meter-a"]["endpoints"]}
        assert set(kinds_a) == {"serial", "tcp", "optical"}  # optical: the IEC 62056-21 port
        assert kinds_a["serial"]["settings"]["usb_serial"] == "HB-meter-a"
        assert kinds_a["optical"]["settings"]["usb_serial"] == "HB-meter-a-optical"
        assert kinds_a["optical"]["settings"]["baud"] == 300
        kinds_b = {e["kind"]: e for e in devices["meter-b"]["endpoints"]}
        assert set(kinds_b) == {"tcp", "optical"}  # serial = false: no RTU port
        assert ready["umockdev_dir"] and Path(ready["umockdev_dir"]).is_dir()
        # A lab's own program reaches the emulated meter at the printed address.
        host, port = kinds_b["tcp"]["address"].rsplit(":", 1)
        client = ModbusClient(TcpTransport(host, int(port)), framing="tcp", unit=1)
        assert client.read_input_registers(0, 1) == [2301]
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr.decode()[-2000:]
    assert "serial /dev/ttyUSB" in stderr.decode() and "(adapter HB-meter-a)" in stderr.decode()
    assert not Path(ready["umockdev_dir"]).exists()  # the presenter removed its testbed
