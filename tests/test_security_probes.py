"""The Python face of the security probes: the TLS baseline judge on hand-made results (every
rule cites its clause; a rule the probe could not test is cannot_test, never pass), and the
exposed-services comparison against real loopback listeners."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

import hilbench
from hilbench.security.services import compare_exposed_services
from hilbench.security.tls_baseline import failed, judge, load_baseline

NOW = datetime(2026, 12, 2, tzinfo=timezone.utc)


def _result(**changes: object) -> dict:
    base: dict = {
        "server_name": "127.0.0.1",
        "protocols": {
            "SSLv3": {"status": "cannot_test"},
            "TLSv1.0": {"status": "rejected"},
            "TLSv1.1": {"status": "rejected"},
            "TLSv1.2": {"status": "accepted", "cipher_suites": [
                {"name": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"}]},
            "TLSv1.3": {"status": "accepted", "cipher_suites": [{"name": "TLS_AES_128_GCM_SHA256"}]},
        },
        "certificate": {"key_type": "EC", "key_bits": 256, "signature_algorithm": "ecdsa-with-SHA256",
                        "signature_security_bits": 128, "not_before": "2026-11-01T00:00:00Z",
                        "not_after": "2027-01-01T00:00:00Z", "self_signed": False,
                        "host_name_match": True, "subject": "CN=127.0.0.1", "issuer": "CN=lab CA"},
        "secure_renegotiation": {"status": "supported", "version": "TLSv1.2"},
        "compression": {"status": "cannot_test", "detail": "no compression method"},
    }
    base.update(changes)
    return base


def test_a_strong_result_passes_and_every_finding_cites_a_clause() -> None:
    findings = judge(_result(), load_baseline(), NOW)
    assert failed(findings) == []
    assert all(f.clause and f.confidence.startswith("[") for f in findings)
    verdicts = {f.rule: f.verdict for f in findings}
    assert verdicts["extensions.compression"] == "cannot_test"  # never turned into a pass
    assert "SSLv3" in next(f.detail for f in findings if f.rule == "versions.forbidden")


@pytest.mark.parametrize("change, rule", [
    ({"protocols": {**_result()["protocols"], "TLSv1.0": {"status": "accepted", "cipher_suites": [
        {"name": "TLS_RSA_WITH_3DES_EDE_CBC_SHA"}]}}}, {"versions.forbidden", "ciphers.forbidden",
                                                      "ciphers.forward_secrecy"}),
    ({"certificate": {**_result()["certificate"], "not_after": "2026-12-01T00:00:00Z"}},
     {"certificate.validity"}),
    ({"certificate": {**_result()["certificate"], "self_signed": True}}, {"certificate.self_signed"}),
    ({"certificate": {**_result()["certificate"], "key_type": "RSA", "key_bits": 1024}},
     {"certificate.min_key"}),
    ({"secure_renegotiation": {"status": "not_supported", "version": "TLSv1.2"}},
     {"extensions.secure_renegotiation"}),
])
def test_each_weakness_fails_exactly_its_rule(change: dict, rule: set[str]) -> None:
    assert {f.rule for f in failed(judge(_result(**change), load_baseline(), NOW))} == rule


@pytest.fixture
def listeners() -> Iterator[list[socket.socket]]:
    sockets = []
    for _ in range(3):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen()
        sockets.append(s)
    yield sockets
    for s in sockets:
        s.close()


def test_exposed_services_finds_the_undeclared_listener(listeners: list[socket.socket]) -> None:
    ports = sorted(s.getsockname()[1] for s in listeners)
    declared = {ports[0]: "modbus-tcp", ports[2]: "tls-management"}
    comparison = compare_exposed_services("127.0.0.1", declared, ports[0], ports[2])
    assert set(ports) <= set(comparison.open_ports)
    assert ports[1] in comparison.undeclared and not comparison.passed
    assert comparison.missing == []


def test_scanning_another_address_is_refused() -> None:
    with pytest.raises(hilbench.ConfigError, match="only loopback"):
        hilbench.scan_tcp_ports("192.0.2.10", 1, 10)


def test_the_emulated_meters_modbus_tcp_port_is_found_as_declared(tmp_path) -> None:
    """End to end on the emulated EM-1: its Modbus TCP service is open where declared. Only
    the declared port's side is asserted: other processes on this host may listen nearby."""
    from hilbench.bench import embedded_profile_dir
    from hilbench.emulation import start_emulator

    emulator = start_emulator(embedded_profile_dir() / "em1-meter.toml", serial=False, tcp=True,
                              log_path=tmp_path / "em1.log")
    try:
        port = int(emulator.ready["tcp"]["port"])
        comparison = compare_exposed_services("127.0.0.1", {port: "modbus-tcp"},
                                              max(1, port - 2), min(65535, port + 2))
    finally:
        emulator.stop()
    assert port in comparison.open_ports and comparison.missing == []
