"""hilbench-proxy end to end, on loopback only (docs/faults.md, "hilbench-proxy").

- no plan: 20 concurrent connections each echo 64 KiB of random bytes exactly (half-close
  passed on both ways);
- latency 50 ms +- 10 ms towards the host: the measured added delay follows the planned
  (journaled) delays;
- the same seed twice gives the same faulted byte stream (and the same faults), another
  seed another one;
- removing a plan flushes what it held at once, the link echoes exactly again, and the
  proxy's file descriptors and threads are back to their counts before the plan;
- reset_peer: the client sees ECONNRESET; down passes neither data nor a close;
- a bad plan, a malformed or an overlong control line get an error line, and the proxy
  goes on serving;
- the emulated EM-1 meter's Modbus TCP through the proxy: plain reads as direct ones; with
  bits flipped towards the host, typed errors (ProtocolError, DeviceTimeout), never a crash;
- the `faults` fixture's proxy journals its plans with "where": "proxy".
"""

from __future__ import annotations

import json
import random
import socket
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import pytest

from hilbench import (DeviceTimeout, HarnessError, ModbusClient, ProtocolError, TcpTransport,
                      verify_journal)
from hilbench.bench import embedded_profile_dir
from hilbench.emulation import start_emulator
from hilbench.faults import FaultProxy
from hilbench.profile import DeviceProfile, load_profile

from hilbench_testing import run_pytest

IO_TIMEOUT_S = 10.0  # every socket operation of these tests has this deadline
EM1 = embedded_profile_dir() / "em1-meter.toml"
PROFILE: DeviceProfile = load_profile(EM1)
FIRST = PROFILE.registers_in("holding")[0].address


class EchoServer:
    """A threaded TCP echo server: one thread per connection; EOF is answered by a
    half-close once everything was echoed."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port: int = self.listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._echo, args=(connection,), daemon=True).start()

    @staticmethod
    def _echo(connection: socket.socket) -> None:
        connection.settimeout(IO_TIMEOUT_S)
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with connection:
            try:
                while data := connection.recv(65536):
                    connection.sendall(data)
                connection.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # reset or timed out: the test sees it on its side

    def close(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept (close alone does not)
        self.listener.close()
        self._thread.join(IO_TIMEOUT_S)


@pytest.fixture(scope="module")
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def proxy(echo: EchoServer, tmp_path: Path) -> Iterator[FaultProxy]:
    with FaultProxy("127.0.0.1", echo.port, name="echo", log_path=tmp_path / "proxy.log") as p:
        p.start()
        yield p


def connect(proxy: FaultProxy) -> socket.socket:
    client = socket.create_connection(proxy.address, timeout=IO_TIMEOUT_S)
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return client


def echo_through(proxy: FaultProxy, payload: bytes) -> bytes:
    """Sends `payload` (in a thread of its own), half-closes, and returns everything received
    until the proxy passes the echo server's close on."""
    with connect(proxy) as client:
        sender = threading.Thread(target=lambda: (client.sendall(payload),
                                                  client.shutdown(socket.SHUT_WR)))
        sender.start()
        received = bytearray()
        while chunk := client.recv(65536):
            received += chunk
        sender.join(IO_TIMEOUT_S)
        return bytes(received)


def receive(client: socket.socket, count: int) -> bytes:
    received = bytearray()
    while len(received) < count:
        chunk = client.recv(count - len(received))
        if not chunk:
            raise ConnectionError(f"closed after {len(received)} of {count} bytes")
        received += chunk
    return bytes(received)


def exchange(client: socket.socket, message: bytes) -> bytes:
    client.sendall(message)
    return receive(client, len(message))


def plan(*faults: dict[str, Any], seed: int = 7) -> dict[str, Any]:
    return {"seed": seed, "faults": list(faults)}


# ---- passthrough -----------------------------------------------------------------------------
def test_20_concurrent_connections_echo_64_kib_exactly(proxy: FaultProxy) -> None:
    payloads = [random.Random(i).randbytes(64 * 1024) for i in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        echoed = list(pool.map(lambda p: echo_through(proxy, p), payloads))
    assert all(e == p for e, p in zip(echoed, payloads)), \
        [i for i, (e, p) in enumerate(zip(echoed, payloads)) if e != p]
    stats = proxy.stats()
    assert stats["accepted"] == 20 and stats["connections"] == 0, stats
    assert stats["bytes"] == {"to_device": 20 * 65536, "to_host": 20 * 65536}, stats
    assert stats["threads"] == 1, stats


# ---- latency -----------------------------------------------------------------------------------
@pytest.mark.exclusive
def test_latency_50_ms_jitter_10_ms_measured(proxy: FaultProxy) -> None:
    message = bytes(range(16))
    with connect(proxy) as client:  # open before the plan: existing connections get it too
        def round_trip() -> float:
            start = time.monotonic()
            assert exchange(client, message) == message
            return time.monotonic() - start

        baseline = statistics.median(round_trip() for _ in range(10))
        with proxy.apply(plan({"kind": "latency", "direction": "to_host", "latency_ms": 50,
                               "jitter_ms": 10})) as applied:
            added = [(round_trip() - baseline) * 1000 for _ in range(25)]
            planned = [f["change"]["delay_ns"] / 1e6 for f in applied.collect()]
    assert len(planned) == 25, planned  # one chunk per answer, one draw per chunk
    assert all(40 <= p <= 60 for p in planned), planned
    # Never earlier than planned; the median within 20 ms above the planned median (timer
    # wake-up on a loaded host: generous, a functional check, not a benchmark).
    assert all(a >= p - 1.0 for a, p in zip(added, planned)), (added, planned)
    excess = statistics.median(added) - statistics.median(planned)
    assert -1.0 <= excess <= 20.0, (excess, added, planned)
    assert statistics.pstdev(added) >= 2.0, added  # the jitter is there


# ---- replay ------------------------------------------------------------------------------------
def faulted_run(proxy: FaultProxy, seed: int) -> tuple[bytes, list[tuple[Any, ...]]]:
    payload = random.Random(5).randbytes(64 * 1024)
    with proxy.apply(plan({"kind": "bit_flip", "bit_error_rate": 1e-3}, seed=seed)) as applied:
        echoed = echo_through(proxy, payload)
    assert len(echoed) == len(payload) and echoed != payload
    faults = sorted((f["direction"], f["offset"], f["kind"], json.dumps(f["change"]))
                    for f in applied.applied)
    return echoed, faults


def test_same_seed_same_faulted_stream_twice(proxy: FaultProxy) -> None:
    first = faulted_run(proxy, 1234)
    second = faulted_run(proxy, 1234)
    other = faulted_run(proxy, 1235)
    assert first[1], "the plan applied no fault"
    assert {d for d, *_ in first[1]} == {"to_device", "to_host"}
    assert first == second
    assert first[0] != other[0]


# ---- removal -----------------------------------------------------------------------------------
def test_removing_a_plan_restores_the_link(proxy: FaultProxy) -> None:
    before = proxy.stats()
    with connect(proxy) as client:
        applied = proxy.apply(plan({"kind": "latency", "direction": "to_host",
                                    "latency_ms": 30000}))
        client.sendall(b"held back")
        deadline = time.monotonic() + IO_TIMEOUT_S
        while proxy.stats()["held_bytes"] < 9:  # the echo reached the proxy: held 30 s
            assert time.monotonic() < deadline, "the echo never reached the proxy"
        removed = applied.remove()
        assert removed["held_bytes_flushed"] == 9 and removed["faults_applied"] == 1, removed
        client.settimeout(5.0)  # far less than the 30 s planned: the removal flushed it
        assert receive(client, 9) == b"held back"
        client.settimeout(IO_TIMEOUT_S)
        payload = random.Random(9).randbytes(64 * 1024)
        sender = threading.Thread(target=client.sendall, args=(payload,))
        sender.start()
        echoed = receive(client, len(payload))
        sender.join(IO_TIMEOUT_S)
        assert echoed == payload
        client.shutdown(socket.SHUT_WR)
        assert client.recv(1) == b""  # the proxy closed the connection in the same turn
    after = proxy.stats()
    assert after["connections"] == 0 and after["held_bytes"] == 0, after
    assert (after["fds"], after["threads"]) == (before["fds"], before["threads"]), (before, after)


# ---- connection faults -------------------------------------------------------------------------
def test_reset_peer_gives_the_client_econnreset(proxy: FaultProxy) -> None:
    with proxy.apply(plan({"kind": "reset_peer"})) as applied:
        # The reset may come before connect() returns: then connect() sees it.
        with pytest.raises(ConnectionResetError):
            with connect(proxy) as client:
                client.sendall(b"x")
                client.recv(1)
        assert [f["kind"] for f in applied.collect()] == ["reset_peer"]
    assert echo_through(proxy, b"plain again") == b"plain again"


def test_down_passes_neither_data_nor_a_close_until_removed(proxy: FaultProxy) -> None:
    with connect(proxy) as client:
        with proxy.apply(plan({"kind": "down"})) as applied:
            client.sendall(b"lost")
            client.shutdown(socket.SHUT_WR)
            client.settimeout(0.3)
            with pytest.raises(TimeoutError):
                client.recv(1)  # a pulled cable: no echo, no close
        client.settimeout(IO_TIMEOUT_S)
        assert client.recv(1) == b""  # removed: the close passes; the data was lost
    assert [f["kind"] for f in applied.applied] == ["down"]


# ---- the control channel -----------------------------------------------------------------------
def raw_line(proxy: FaultProxy, line: bytes) -> dict[str, Any]:
    """Writes one raw line to the proxy's stdin; its answer."""
    process = proxy.child._process
    assert process is not None and process.stdin is not None
    process.stdin.write(line)
    process.stdin.flush()
    answer = json.loads(proxy.child._read_line(IO_TIMEOUT_S, stop_on_timeout=False))
    assert isinstance(answer, dict)
    return answer


def test_bad_requests_get_an_error_and_the_proxy_keeps_serving(proxy: FaultProxy) -> None:
    with pytest.raises(HarnessError, match=r"faults\[0\]\.bit_error_rate: 2 is out of range"):
        proxy.control({"op": "apply_plan", "plan": plan({"kind": "bit_flip",
                                                          "bit_error_rate": 2})})
    with pytest.raises(HarnessError, match=r"faults\[0\]\.jitter_ms: not a key"):
        proxy.control({"op": "apply_plan", "plan": plan({"kind": "down", "jitter_ms": 1})})
    with pytest.raises(HarnessError, match="unknown op"):
        proxy.control({"op": "explode"})
    assert raw_line(proxy, b"{not json\n")["event"] == "error"
    overlong = raw_line(proxy, b"[" + b" " * (70 * 1024) + b"]\n")
    assert overlong["event"] == "error" and "longer than" in overlong["message"]
    assert proxy.stats()["plan"] is False
    assert echo_through(proxy, b"still serving") == b"still serving"


# ---- the emulated meter through the proxy --------------------------------------------------------
@pytest.fixture(scope="module")
def em1_tcp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    emulator = start_emulator(EM1, serial=False,
                              log_path=tmp_path_factory.mktemp("em1-tcp") / "emulator.log")
    try:
        yield int(emulator.ready["tcp"]["port"])
    finally:
        emulator.stop()


def test_meter_modbus_tcp_through_the_proxy(em1_tcp: int, tmp_path: Path) -> None:
    direct = ModbusClient(TcpTransport("127.0.0.1", em1_tcp), framing="tcp", unit=PROFILE.unit,
                          timeout=1.0).read_holding_registers(FIRST, 2)
    with FaultProxy("127.0.0.1", em1_tcp, name="em1", log_path=tmp_path / "proxy.log") as proxy:
        proxy.start()
        host, port = proxy.address
        client = ModbusClient(TcpTransport(host, port), framing="tcp", unit=PROFILE.unit,
                              timeout=0.3)
        assert client.read_holding_registers(FIRST, 2) == direct
        outcomes: list[str] = []
        with proxy.apply(plan({"kind": "bit_flip", "direction": "to_host",
                               "bit_error_rate": 0.02})) as applied:
            for _ in range(30):
                try:
                    outcomes.append("same" if client.read_holding_registers(FIRST, 2) == direct
                                    else "wrong")
                except ProtocolError:
                    outcomes.append("protocol")
                except DeviceTimeout:
                    outcomes.append("timeout")  # a flipped MBAP length waits for more bytes
                except HarnessError as error:  # a typed error, whichever: never a crash
                    outcomes.append(type(error).__name__)
        assert applied.applied and proxy.child.alive()
        assert "protocol" in outcomes, outcomes
        plain = ModbusClient(TcpTransport(host, port), framing="tcp", unit=PROFILE.unit,
                             timeout=1.0)
        assert plain.read_holding_registers(FIRST, 2) == direct


# ---- the fixture -------------------------------------------------------------------------------
FIXTURE_SUITE = '''
import socket
import threading


def test_proxy_through_the_fixture(faults):
    server = socket.create_server(("127.0.0.1", 0))
    def serve():
        connection, _ = server.accept()
        with connection:
            while data := connection.recv(4096):
                connection.sendall(data)
    threading.Thread(target=serve, daemon=True).start()
    proxy = faults.proxy("127.0.0.1", server.getsockname()[1], name="echo")
    client = socket.create_connection(proxy.address, timeout=10)
    with proxy.apply({"seed": 3, "faults": [{"kind": "latency", "latency_ms": 5}]}):
        client.sendall(b"ping")
        assert client.recv(4) == b"ping"
    faults.apply({"seed": 4, "faults": [{"kind": "latency", "latency_ms": 1}]}, duts=[])
    client.close()
'''


def test_faults_fixture_journals_the_proxy(tmp_path: Path) -> None:
    suite = tmp_path / "test_proxy_suite.py"
    suite.write_text(FIXTURE_SUITE)
    evidence = tmp_path / "evidence"
    result = run_pytest([str(suite), "-q", "--evidence-dir", str(evidence), "-p", "no:randomly"],
                        cwd=tmp_path)
    assert "1 passed" in result.stdout, result.stdout + result.stderr
    verdict = verify_journal(str(evidence / "journal.jsonl"))
    assert verdict.ok and verdict.sealed, verdict.problem
    records = [json.loads(line) for line in (evidence / "journal.jsonl").read_text().splitlines()]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_type.setdefault(record["type"], []).append(record["data"])
    applied = by_type["fault_plan_applied"]
    assert [(a["plan_id"], a.get("where")) for a in applied] == [(1, "proxy"), (2, None)]
    assert applied[0]["seed"] == 3 and applied[0]["upstream"]["host"] == "127.0.0.1"
    faulted = [r for r in by_type["faults_applied"] if r.get("where") == "proxy"]
    assert {f["kind"] for r in faulted for f in r["faults"]} == {"latency"}
    assert all(r["transport"].startswith("hilbench-proxy[echo]") for r in faulted)
    removed = [r for r in by_type["fault_plan_removed"] if r.get("where") == "proxy"]
    assert len(removed) == 1 and removed[0]["faults_applied"] == 2, removed
