"""Fault plans end to end, against real endpoints: the emulated EM-1 meter over loopback TCP
and over its emulated serial port (umockdev, through the presenter). docs/faults.md.

- plans parse from dicts and TOML files; errors name the file and the key;
- the same seed gives the same faulted byte stream twice (the wire is compared), another
  seed another stream;
- every fault kind has an effect a Modbus client sees, and the link is plain again after;
- latency 50 ms +- 10 ms: the measured added delay has that distribution (generous bounds:
  a functional check, not a benchmark);
- the `faults` fixture journals the plan and every fault applied, removes the plan even
  when the test fails, and leaves no transport, thread or file descriptor behind.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from hilbench import (ConfigError, ConnectionClosed, DeviceTimeout, FaultyTransport, HarnessError,
                      ModbusClient, SerialTransport, TcpTransport, verify_journal)
from hilbench.bench import embedded_profile_dir
from hilbench.emulation import ChildProcess, start_emulator
from hilbench.faults import FaultInjector, FaultPlan
from hilbench.profile import DeviceProfile, load_profile

from hilbench_testing import run_pytest

EM1 = embedded_profile_dir() / "em1-meter.toml"
PROFILE: DeviceProfile = load_profile(EM1)
FIRST = PROFILE.registers_in("holding")[0].address


def plan(*faults: dict[str, Any], seed: int = 7) -> dict[str, Any]:
    return {"seed": seed, "faults": list(faults)}


@pytest.fixture(scope="module")
def em1_tcp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The port of an EM-1 emulator with only its TCP interface."""
    emulator = start_emulator(EM1, serial=False,
                              log_path=tmp_path_factory.mktemp("em1-tcp") / "emulator.log")
    try:
        yield int(emulator.ready["tcp"]["port"])
    finally:
        emulator.stop()


@pytest.fixture
def em1_serial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
               in_preload: None) -> Iterator[ChildProcess]:
    emulator = start_emulator(EM1, tcp=False, log_path=tmp_path / "emulator.log")
    try:
        monkeypatch.setenv("UMOCKDEV_DIR", emulator.ready["serial"]["umockdev_dir"])
        yield emulator
    finally:
        emulator.stop()


def serial_transport(emulator: ChildProcess) -> SerialTransport:
    return SerialTransport(emulator.ready["serial"]["device_path"], baud=PROFILE.serial.baud,
                           parity=PROFILE.serial.parity)


# ---- plans -----------------------------------------------------------------------------------
def test_plan_from_dict_and_toml(tmp_path: Path) -> None:
    from_dict = FaultPlan.from_dict(plan({"kind": "latency", "latency_ms": 50, "jitter_ms": 10}))
    assert from_dict.seed == 7
    assert from_dict.faults[0]["latency_ms"] == 50.0
    path = tmp_path / "plan.toml"
    path.write_text('seed = 7\nname = "lag"\n[[faults]]\nkind = "latency"\nlatency_ms = 50\n'
                    'jitter_ms = 10\n')
    from_toml = FaultPlan.from_toml(path)
    assert from_toml.faults == from_dict.faults
    assert from_toml.name == "lag" and from_toml.source == str(path)


@pytest.mark.parametrize("text, where", [
    ('[[faults]]\nkind = "down"\n', "seed: missing"),
    ('seed = 1\n[[faults]]\nkind = "byte_drop"\nrate = 1.5\n', "faults[0].rate: 1.5 is out of range"),
    ('seed = 1\n[[faults]]\nkind = "down"\njitter_ms = 3\n', "faults[0].jitter_ms: not a key"),
    ('seed = 1\nfaults = []\nsede = 2\n', "sede: not a key"),
    ('seed = 1\n[[faults]\n', "not valid TOML"),
])
def test_plan_errors_name_file_and_key(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        FaultPlan.from_toml(path)
    assert str(path) in str(error.value) and where in str(error.value)


# ---- replay ----------------------------------------------------------------------------------
REPLAY_PLAN = [
    {"kind": "bit_flip", "direction": "to_device", "bit_error_rate": 0.01},
    {"kind": "byte_drop", "direction": "to_device", "rate": 0.02},
    {"kind": "noise_burst", "direction": "to_device", "length": 3, "every": 4},
    {"kind": "bit_flip", "direction": "to_host", "bit_error_rate": 0.005},
    {"kind": "byte_duplicate", "direction": "to_host", "rate": 0.01},
]


def faulted_serial_run(emulator: ChildProcess, seed: int) -> tuple[bytes, bytes, list[Any]]:
    """(bytes on the wire towards the device, bytes the client got, faults applied) of 12
    reads through the plan."""
    serial = serial_transport(emulator)
    wire = serial.start_capture()
    faulty = FaultyTransport(serial, plan(*REPLAY_PLAN, seed=seed))
    passed = faulty.start_capture()
    client = ModbusClient(faulty, framing="rtu", unit=PROFILE.unit, timeout=0.3)
    for _ in range(12):
        try:
            client.read_holding_registers(FIRST, 2)
        except HarnessError:
            pass  # corrupted requests go unanswered, corrupted answers are refused
    to_device = b"".join(b for d, _, b in wire.drain() if d == "tx")
    to_host = b"".join(b for d, _, b in passed.drain() if d == "rx")
    applied = [{k: v for k, v in a.items() if k != "monotonic_ns"} for a in faulty.take_applied()]
    return to_device, to_host, applied


def test_same_seed_same_faulted_stream_twice(em1_serial: ChildProcess) -> None:
    first = faulted_serial_run(em1_serial, 1234)
    second = faulted_serial_run(em1_serial, 1234)
    other = faulted_serial_run(em1_serial, 1235)
    assert first[2], "the plan applied no fault"
    assert first == second
    assert first[0] != other[0]


# ---- every kind against the meter --------------------------------------------------------------
def timed_read(client: ModbusClient, quantity: int = 2) -> tuple[float, list[int]]:
    start = time.monotonic()
    values = client.read_holding_registers(FIRST, quantity)
    return time.monotonic() - start, values


# kind -> (fault, what a Modbus TCP client sees: "slow:<s>", "timeout", "closed", "error",
#          "ok")
TCP_KINDS: dict[str, tuple[dict[str, Any], str]] = {
    "latency": ({"kind": "latency", "latency_ms": 30}, "slow:0.03"),
    "down": ({"kind": "down"}, "timeout"),
    "bandwidth": ({"kind": "bandwidth", "direction": "to_host", "rate_bytes_per_s": 200},
                  "slow:0.05"),  # 13 bytes of answer: the last one 60 ms after the first
    "timeout": ({"kind": "timeout"}, "timeout"),
    "reset_peer": ({"kind": "reset_peer"}, "closed"),
    "slicer": ({"kind": "slicer", "average_size": 2, "delay_us": 5000}, "slow:0.02"),
    "limit_data": ({"kind": "limit_data", "direction": "to_device", "bytes": 6}, "timeout"),
    "bit_flip": ({"kind": "bit_flip", "direction": "to_host", "bit_error_rate": 0.5}, "error"),
    "byte_drop": ({"kind": "byte_drop", "direction": "to_host", "rate": 0.5}, "error"),
    "byte_duplicate": ({"kind": "byte_duplicate", "direction": "to_host", "rate": 0.5}, "error"),
    "noise_burst": ({"kind": "noise_burst", "direction": "to_host", "length": 4}, "error"),
    "truncate": ({"kind": "truncate", "direction": "to_host", "keep_bytes": 5}, "timeout"),
    "gap": ({"kind": "gap", "direction": "to_device", "gap_ms": 30}, "slow:0.03"),
}


@pytest.mark.parametrize("kind", sorted(TCP_KINDS))
def test_each_kind_over_tcp_then_plain_again(em1_tcp: int, kind: str) -> None:
    fault, effect = TCP_KINDS[kind]
    _, plain = timed_read(ModbusClient(TcpTransport("127.0.0.1", em1_tcp), framing="tcp",
                                       unit=PROFILE.unit, timeout=1.0))
    faulty = FaultyTransport(TcpTransport("127.0.0.1", em1_tcp), plan(fault))
    client = ModbusClient(faulty, framing="tcp", unit=PROFILE.unit, timeout=0.3)
    if effect.startswith("slow:"):
        took, values = timed_read(client)
        assert took >= float(effect[5:]), f"{kind}: took only {took * 1000:.1f} ms"
        assert values == plain
    elif effect == "timeout":
        with pytest.raises((DeviceTimeout, ConnectionClosed)):
            timed_read(client)
    elif effect == "closed":
        with pytest.raises(ConnectionClosed):
            timed_read(client)
        assert faulty.connection_lost
    else:  # corrupted answers: refused (ProtocolError, a timeout) or read wrong, not all fine
        outcomes = []
        for _ in range(3):
            try:
                outcomes.append(timed_read(client)[1] == plain)
            except HarnessError:
                outcomes.append(False)
        assert not all(outcomes), f"{kind}: every corrupted answer read as the plain one"
    assert faulty.take_applied(), f"{kind}: no fault recorded"
    del client, faulty
    # A new plain connection answers exactly as before.
    _, again = timed_read(ModbusClient(TcpTransport("127.0.0.1", em1_tcp), framing="tcp",
                                       unit=PROFILE.unit, timeout=1.0))
    assert again == plain


def test_slow_close_delays_the_close(em1_tcp: int) -> None:
    faulty = FaultyTransport(TcpTransport("127.0.0.1", em1_tcp),
                             plan({"kind": "slow_close", "delay_ms": 50}))
    start = time.monotonic()
    del faulty  # the destructor waits the delay before the socket closes
    assert time.monotonic() - start >= 0.05


# Serial kinds where the line's framing is the point: the meter must discard what it gets.
@pytest.mark.parametrize("fault", [
    {"kind": "bit_flip", "direction": "to_device", "bit_error_rate": 0.05},
    {"kind": "gap", "direction": "to_device", "gap_ms": 30},  # > t3.5: two broken frames
    {"kind": "truncate", "direction": "to_device", "keep_bytes": 6},
    {"kind": "noise_burst", "direction": "to_device", "length": 3},
], ids=lambda f: f["kind"])
def test_serial_faults_make_the_meter_discard_then_plain_again(em1_serial: ChildProcess,
                                                               fault: dict[str, Any]) -> None:
    serial = serial_transport(em1_serial)
    plain = ModbusClient(serial, framing="rtu", unit=PROFILE.unit, timeout=1.0)
    expected = plain.read_holding_registers(FIRST, 2)
    faulty = FaultyTransport(serial, plan(fault))
    client = ModbusClient(faulty, framing="rtu", unit=PROFILE.unit, timeout=0.3)
    with pytest.raises(DeviceTimeout):
        client.read_holding_registers(FIRST, 2)
    assert faulty.take_applied()
    del client, faulty
    assert plain.read_holding_registers(FIRST, 2) == expected


# ---- latency distribution ----------------------------------------------------------------------
@pytest.mark.exclusive
def test_latency_50_ms_jitter_10_ms_measured(em1_tcp: int) -> None:
    plain = ModbusClient(TcpTransport("127.0.0.1", em1_tcp), framing="tcp", unit=PROFILE.unit,
                         timeout=1.0)
    baseline = statistics.median(timed_read(plain)[0] for _ in range(10))
    faulty = FaultyTransport(TcpTransport("127.0.0.1", em1_tcp),
                             plan({"kind": "latency", "direction": "to_host", "latency_ms": 50,
                                   "jitter_ms": 10}))
    client = ModbusClient(faulty, framing="tcp", unit=PROFILE.unit, timeout=1.0)
    added = [(timed_read(client)[0] - baseline) * 1000 for _ in range(25)]
    planned = [a["change"]["delay_ns"] / 1e6 for a in faulty.take_applied()]
    assert len(planned) == 25
    assert all(40 <= p <= 60 for p in planned)
    # What a client measures: never less than planned, not much more (generous: loaded CI).
    assert all(a >= p - 1.0 for a, p in zip(added, planned)), (added, planned)
    assert 45 <= statistics.mean(added) <= 100, added
    assert statistics.pstdev(added) >= 2.0, added  # the jitter is there
    assert min(added) >= 39.0 and max(added) <= 250.0, added


# ---- the fixture, in a pytest session of its own -------------------------------------------------
FIXTURE_SUITE = '''
import os

import pytest

from hilbench import HarnessError

PLANS = {plans!r}


def fds():
    return len(os.listdir("/proc/self/fd"))


def threads():
    return len(os.listdir("/proc/self/task"))


def read_both(dut, first):
    return [dut.client(i).read_holding_registers(first, 2) for i in ("tcp", "rtu")]


def test_removing_plans_restores_the_link(dut, faults):
    first = dut.profile.registers_in("holding")[0].address
    plain = read_both(dut, first)
    before = fds(), threads()
    for plan in PLANS:
        with faults.apply(plan) as applied:
            for interface in ("tcp", "rtu"):
                try:
                    dut.client(interface).read_holding_registers(first, 2)
                except HarnessError:
                    pass
            dut.take_exchanges()
        assert applied.applied, plan
        assert read_both(dut, first) == plain, plan
    assert (fds(), threads()) == before


def test_a_failing_test_still_removes_its_plan(dut, faults):
    faults.apply({{"seed": 3, "faults": [{{"kind": "down"}}]}})
    assert False, "fails on purpose, with the plan applied"


def test_the_next_test_has_a_plain_link(dut):
    first = dut.profile.registers_in("holding")[0].address
    assert dut.client("tcp").read_holding_registers(first, 2)
    assert dut.transport("tcp").name.startswith("tcp:")
'''

FIXTURE_PLANS = [plan(fault, seed=11) for fault in (
    {"kind": "latency", "latency_ms": 20},
    {"kind": "down"},
    {"kind": "reset_peer"},
    {"kind": "bit_flip", "bit_error_rate": 0.05},
    {"kind": "truncate", "direction": "to_host", "keep_bytes": 3},
    {"kind": "slicer", "average_size": 3, "delay_us": 500},
    {"kind": "limit_data", "bytes": 4},
)]


def test_faults_fixture_journals_and_always_removes(tmp_path: Path) -> None:
    suite = tmp_path / "test_fixture_suite.py"
    suite.write_text(FIXTURE_SUITE.format(plans=FIXTURE_PLANS))
    evidence = tmp_path / "evidence"
    result = run_pytest([str(suite), "-q", "--hilbench-timeout", "0.3", "--evidence-dir",
                         str(evidence), "-p", "no:randomly"], cwd=tmp_path)
    assert "1 failed, 2 passed" in result.stdout, result.stdout + result.stderr
    assert "test_a_failing_test_still_removes_its_plan" in result.stdout
    verdict = verify_journal(str(evidence / "journal.jsonl"))
    assert verdict.ok and verdict.sealed, verdict.problem
    records = [json.loads(line) for line in (evidence / "journal.jsonl").read_text().splitlines()]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_type.setdefault(record["type"], []).append(record["data"])
    applied = by_type["fault_plan_applied"]
    assert len(applied) == len(FIXTURE_PLANS) + 1
    assert applied[0]["seed"] == 11 and applied[0]["plan"]["faults"][0]["kind"] == "latency"
    assert len(by_type["fault_plan_removed"]) == len(applied)  # the failing test's too
    kinds = {f["kind"] for r in by_type["faults_applied"] for f in r["faults"]}
    assert {"latency", "down", "reset_peer", "bit_flip", "truncate", "slicer",
            "limit_data"} <= kinds
    assert all(r["transport"].startswith("faults(") for r in by_type["faults_applied"])
    assert (evidence / "reports" / "index.html").exists()
