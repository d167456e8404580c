"""The timing half of issue 11 end to end: the histogram binding; suites/timing passing on
the default bench and each timing knob failing exactly its test; the clock checks in a wired
world (shortened window, and the evidence says so); and the must-show: the emulator's
injected 2.000 ms response delay recovered by the harness's latency measurement from chunk
timestamps on loopback TCP and on an emulated serial port (docs/timing.md)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest

from hilbench import LatencyHistogram, rtu_limits_ns
from hilbench.bench import embedded_profile_dir, load_bench
from hilbench.live import LiveBench
from hilbench.protocols import ModbusDevice
from hilbench.timing import timed

from hilbench_testing import run_pytest
from test_world import wired_bench

PROFILES = embedded_profile_dir()
INJECTED_DELAY_US = 2000
READS = 200


def test_histogram_binding_round_trips_and_merges() -> None:
    a, b = LatencyHistogram(), LatencyHistogram()
    for ns in range(1_000_000, 3_000_000, 1000):
        (a if ns % 2000 else b).record_ns(ns)
    data = a.to_json()
    assert data["schema"] == "hilbench.latency-histogram/1" and data["unit"] == "ns"
    assert LatencyHistogram.from_json(json.loads(json.dumps(data))).to_json() == data
    a.merge(b)
    assert a.count == 2000 and a.min_ns == 1_000_000 and a.max_ns == 2_999_000
    assert abs(a.quantile_ns(0.5) - 2_000_000) <= 2_000_000 / 256
    with pytest.raises(ValueError):
        a.record_ns(-1)
    assert rtu_limits_ns(38400, 11 / 38400) == (750_000, 1_750_000)


def journal(evidence: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (evidence / "journal.jsonl").read_text().splitlines()]


def failed_tests(stdout: str) -> set[str]:
    return {line.split("::")[-1].split(" ")[0].split("[")[0]
            for line in stdout.splitlines() if line.startswith(("FAILED", "ERROR"))}


def test_timing_suite_passes_on_the_default_bench(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    result = run_pytest(["suites/timing", "-rA", "--evidence-dir", str(evidence)])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    observations = [r["data"] for r in journal(evidence) if r["type"] == "observation"]
    plots = [o["value"] for o in observations if o["name"].startswith("latency histogram")]
    assert {p["what"] for p in plots} >= {"modbus rtu", "modbus tcp"}
    assert all(p["to_first_byte"]["count"] > 0 for p in plots)


TIMING_KNOBS = {
    "rtu_reply_gap": {"test_rtu_answer_has_no_gap_above_t15"},
    "rtu_reply_without_silence": {"test_rtu_answer_follows_t35_of_silence"},
    "slow_response": {"test_answers_within_the_declared_response_time"},
    "iec_reaction_too_fast": {"test_sign_on_answered_no_sooner_than_the_reaction_time"},
}


@pytest.mark.parametrize("knob", sorted(TIMING_KNOBS))
def test_timing_knob_fails_exactly_its_test(tmp_path: Path, knob: str) -> None:
    result = run_pytest(["suites/timing", "-rA", "--defect", knob,
                         "--evidence-dir", str(tmp_path / "evidence")])
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    assert failed_tests(result.stdout) == TIMING_KNOBS[knob], result.stdout[-3000:]


@pytest.mark.parametrize("knob, broken", [
    (None, set()),
    ("clock_drift_excessive", {"test_clock_drift_within_the_limit"}),
    ("clock_set_slips_an_hour", {"test_clock_set_reads_back"}),
])
def test_clock_checks_in_a_wired_world(tmp_path: Path, knob: str | None,
                                       broken: set[str]) -> None:
    bench = wired_bench(tmp_path, (knob,) if knob else ())
    evidence = tmp_path / "evidence"
    result = run_pytest(["suites/timing/test_clock.py", "-rA", "--bench", str(bench),
                         "--metrology-short", "--evidence-dir", str(evidence)])
    assert failed_tests(result.stdout) == broken, result.stdout[-3000:] + result.stderr[-2000:]
    observations = [r["data"] for r in journal(evidence) if r["type"] == "observation"]
    window = next(o for o in observations if o["name"] == "clock drift window (s)")
    assert window["value"] == 3.0 and "SHORTENED" in window["detail"]
    offsets = next(o["value"] for o in observations if o["name"].startswith("clock offset"))
    assert offsets["plot"] == "clock-offset" and len(offsets["readings"]) == 11


# ---- must-show: the injected delay recovered ------------------------------------------------

def delay_bench(tmp_path: Path, delay_us: int, serial: bool) -> Path:
    profile = (PROFILES / "em1-meter.toml").read_text()
    assert "response_delay_us = 0 " in profile
    path = tmp_path / f"em1-delay-{delay_us}.toml"
    path.write_text(profile.replace("response_delay_us = 0 ", f"response_delay_us = {delay_us} "))
    bench = tmp_path / f"bench-{delay_us}-{'rtu' if serial else 'tcp'}.toml"
    bench.write_text(f'''schema = 1
name = "delay"
[[devices]]
profile = "{path}"
driver = "modbus"
[devices.emulator]
serial = {"true" if serial else "false"}
''')
    return bench


def median_latency(tmp_path: Path, delay_us: int, interface: str) -> dict[str, float]:
    """Median request end -> first answer byte over READS reads (ns), and on RTU the median
    line silence before the answer (ns), on a fresh bench with the given injected delay."""
    live = LiveBench(load_bench(delay_bench(tmp_path, delay_us, interface == "rtu")),
                     tmp_path / f"logs-{delay_us}-{interface}", timeout=1.0)
    live.start()
    try:
        meter = live.find(ModbusDevice)
        client, transport = meter.client(interface), meter.transport(interface)
        client.read_holding_registers(0, 1)  # warm-up: connection open, caches hot
        result = timed(transport, lambda: client.read_holding_registers(0, 1), READS,
                       transport.character_time)
        out = {"to_first_ns": statistics.median(e["to_first_ns"] for e in result.exchanges)}
        if interface == "rtu":
            settings = transport.serial_line_settings()
            _, t35 = rtu_limits_ns(settings["baud"], transport.character_time)
            out["silence_minus_t35_ns"] = statistics.median(
                e["silence_before_response_ns"] - t35 for e in result.exchanges)
        return out
    finally:
        live.stop()


@pytest.mark.exclusive
def test_injected_delay_recovered_on_loopback_tcp(tmp_path: Path) -> None:
    """Median request end -> first byte with the delay, minus the delay: the error includes
    the emulator's own answer time (tens of us). The run without the delay is printed beside
    it, not subtracted: on one core the emulator can answer before the harness's write()
    returns, so its tx timestamp (write completed) hides the base latency (docs/timing.md)."""
    base = median_latency(tmp_path, 0, "tcp")["to_first_ns"]
    delayed = median_latency(tmp_path, INJECTED_DELAY_US, "tcp")["to_first_ns"]
    error_us = delayed / 1000 - INJECTED_DELAY_US
    print(f"tcp: base {base / 1000:.1f} us, delayed {delayed / 1000:.1f} us, "
          f"median error {error_us:.1f} us")
    assert abs(error_us) < 50


# On the serial path several wake-ups (the presenter relaying both ways, the emulator's t3.5
# timer, the reader) sit between the harness's timestamps and the emulator's clock: at load
# ~8 on 2 vCPUs the recovered delay came out -2, -23, -168 us from 2000 us in three runs
# (docs/timing.md). 50 us is met in most runs but not reliably here, so the honest bound
# asserted is 250 us; the run prints the figure.
SERIAL_BOUND_US = 250


@pytest.mark.exclusive
def test_injected_delay_recovered_on_an_emulated_serial_port(tmp_path: Path,
                                                             in_preload: None) -> None:
    """On the serial line the line model (docs/timing.md) gives the silence before the
    answer; minus t3.5 that is the delay plus the relay's and emulator's wake-ups, which the
    run without delay measures and the difference of medians cancels."""
    base = median_latency(tmp_path, 0, "rtu")
    delayed = median_latency(tmp_path, INJECTED_DELAY_US, "rtu")
    recovered_us = (delayed["silence_minus_t35_ns"] - base["silence_minus_t35_ns"]) / 1000
    print(f"rtu: silence - t3.5 base {base['silence_minus_t35_ns'] / 1000:.1f} us, delayed "
          f"{delayed['silence_minus_t35_ns'] / 1000:.1f} us, recovered {recovered_us:.1f} us; "
          f"to first byte {base['to_first_ns'] / 1000:.0f} -> {delayed['to_first_ns'] / 1000:.0f} us")
    assert abs(recovered_us - INJECTED_DELAY_US) < SERIAL_BOUND_US
