"""The emulators' control channel (devices/README.md, "Control channel"): a defect knob switched
while the device runs takes effect at the next request and is journaled; requests the device
cannot serve get a clear refusal and the device goes on serving. Real endpoints: each emulator
is its own process, reached over loopback TCP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from hilbench import ConfigError, DeviceTimeout, HarnessError
from hilbench.bench import embedded_profile_dir, load_bench
from hilbench.emulation import ChildProcess, start_emulator
from hilbench.live import LiveBench
from hilbench.protocols import ModbusDevice

PROFILES = embedded_profile_dir()
UNSUPPORTED_FUNCTION = 0x41  # user-defined range: the EM-1 answers it with exception 01


def meter_bench(tmp_path: Path, events: list[tuple[str, dict[str, object]]]) -> LiveBench:
    path = tmp_path / "bench.toml"
    path.write_text(f"""schema = 1
name = "control-bench"
[[devices]]
name = "em1"
profile = "{PROFILES / 'em1-meter.toml'}"
[devices.emulator]
serial = false
optical = false
[[devices]]
name = "dmm6"
profile = "{PROFILES / 'dmm6-reference.toml'}"
[devices.emulator]
serial = false
""")
    live = LiveBench(load_bench(path), tmp_path / "logs", timeout=0.5,
                     on_event=lambda kind, data: events.append((kind, data)))
    live.start()
    return live


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[LiveBench, list[tuple[str, dict[str, object]]]]]:
    events: list[tuple[str, dict[str, object]]] = []
    bench = meter_bench(tmp_path, events)
    try:
        yield bench, events
    finally:
        bench.stop()


def ask_unsupported(bench: LiveBench) -> tuple[int, bytes]:
    """The meter's answer (function, data) to a function it does not implement."""
    meter = bench.device("em1")
    assert isinstance(meter, ModbusDevice)
    function, data = meter.client("tcp").transact(UNSUPPORTED_FUNCTION, b"")
    return int(function), bytes(data)


def test_a_knob_switched_at_run_time_applies_at_the_next_request_and_back(live) -> None:
    bench, events = live
    exception_01 = (UNSUPPORTED_FUNCTION | 0x80, b"\x01")
    assert ask_unsupported(bench) == exception_01
    with bench.defect("em1", "illegal_function_silent"):
        with pytest.raises(DeviceTimeout):  # silent now: the request runs into its deadline
            ask_unsupported(bench)
        bench.heal()
    assert ask_unsupported(bench) == exception_01  # switched off again on leaving the block
    switched = [data for kind, data in events if kind == "defect_switched"]
    assert switched == [
        {"dut": "em1", "defect": "illegal_function_silent", "on": True,
         "active": ["illegal_function_silent"]},
        {"dut": "em1", "defect": "illegal_function_silent", "on": False, "active": []}]


def test_a_restarted_emulator_comes_back_with_the_knobs_switched_on(live) -> None:
    bench, _ = live
    bench.set_defect("em1", "illegal_function_silent", True)
    emulator = bench.emulator("em1")
    assert emulator is not None
    emulator.kill()
    assert bench.ensure_alive("em1")
    restarted = bench.emulator("em1")
    assert restarted is not None and restarted.ready["defects"] == ["illegal_function_silent"]


def test_unknown_knobs_and_real_devices_are_refused_by_name(live) -> None:
    bench, events = live
    with pytest.raises(ConfigError, match="no defect knob 'nope'.*illegal_function_silent"):
        bench.set_defect("em1", "nope")
    with pytest.raises(ConfigError, match="no device 'em9'"):
        bench.set_defect("em9", "slow_response")
    assert not [kind for kind, _ in events if kind == "defect_switched"]


def test_a_scpi_instrument_refuses_a_live_switch_and_says_why(live) -> None:
    bench, _ = live
    with pytest.raises(HarnessError, match="fixed when its emulator starts; restart it with --defect"):
        bench.set_defect("dmm6", "reading_offset")
    assert bench.emulator("dmm6").alive()  # type: ignore[union-attr]


@pytest.fixture
def tcp_meter(tmp_path: Path) -> Iterator[ChildProcess]:
    emulator = start_emulator(PROFILES / "em1-meter.toml", serial=False,
                              log_path=tmp_path / "emulator.log")
    yield emulator
    emulator.stop()


@pytest.mark.parametrize("line, message", [
    (b"not json\n", "bad control request"),
    (b"[1, 2]\n", "a control request is a JSON object"),
    (b'{"op": "reboot"}\n', "expected {\\\"op\\\": \\\"set_defect\\\""),
    (b'{"op": "set_defect", "name": "slow_response", "on": "yes"}\n', "\\\"on\\\" must be true or false"),
    (b'{"op": "set_defect", "name": "nope", "on": true}\n', "unknown defect \\\"nope\\\""),
    (b"x" * (64 * 1024 + 10) + b"\n", "control request longer than 65536 bytes"),
])
def test_bad_requests_get_an_error_line_and_the_device_goes_on(
        tcp_meter: ChildProcess, line: bytes, message: str) -> None:
    process = tcp_meter._process
    assert process is not None and process.stdin is not None
    process.stdin.write(line)
    process.stdin.flush()
    reply = json.loads(tcp_meter._read_line(5.0, stop_on_timeout=False))
    assert reply["event"] == "error" and message.replace("\\", "") in json.dumps(reply["message"]).replace("\\", "")
    assert tcp_meter.control({"op": "set_defect", "name": "slow_response", "on": True}) == \
        {"event": "defects", "defects": ["slow_response"]}
    assert tcp_meter.alive()
