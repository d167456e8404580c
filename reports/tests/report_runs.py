"""Synthetic runs for the report tests, written through the real journal binding
(hilbench._core.Journal) with records as docs/journal-schema.md defines them.
(A uniquely named module, not conftest.py, so that `import` finds it beside other suites.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hilbench._core import Journal

HOSTILE = "<script>alert(1)</script>"
IDENTIFICATION = ("MODBUS-APP-6.21", "EN303645-5.3-16", "US-8425-D1", "US-8259A-1",
                  "JP-S1.1-16", "WELMEC-P2")
INPUT_VALIDATION = ("EN303645-5.13-1B", "EN18031-GEC-6")
NODE = "suites/interface/test_modbus_interface.py::"


@dataclass
class RunWriter:
    """Appends one run's records; tests go through test()."""

    directory: Path
    journal: Journal = field(init=False)
    seqs: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.journal = Journal(str(self.directory / "journal.jsonl"))

    def append(self, kind: str, data: dict[str, Any]) -> int:
        seq, _hash = self.journal.append(kind, data)
        return seq

    def start(self, *, emulated: bool = True, markets: list[str] | None = None,
              identity: dict[str, str] | None = None) -> None:
        self.append("run_started", {
            "run_id": "0123456789abcdef0123456789abcdef", "hilbench_version": "0.1.0",
            "python": "3.11.7", "platform": "Linux-test", "argv": ["pytest", "suites"],
            "markets": markets if markets is not None else ["EU", "UK", "US", "JP", "SG"],
            "seed": 1,
            "bench": {"name": "embedded-emulated", "source": "embedded", "sha256": None,
                      "emulated": emulated},
            "catalog_version": "hilbench-markets@2026.11.0",
        })
        self.append("dut", {
            "name": "em1", "kind": "meter", "emulated": emulated,
            "profile": "/opt/hilbench/profiles/em1-meter.toml", "profile_sha256": "ab" * 32,
            "declared_identity": identity or {"vendor": "hilbench", "product_code": "HB-EM1",
                                              "revision": "1.4.2", "model": HOSTILE},
            "endpoints": [{"kind": "serial", "address": "/dev/ttyUSB0",
                           "settings": {"baud": 19200}},
                          {"kind": "tcp", "address": "127.0.0.1:5020", "settings": {}}],
        })

    def test(self, name: str, requirements: tuple[str, ...], outcome: str | None,
             message: str = "", exchange: bool = True) -> None:
        """A test with one exchange and one observation; outcome None leaves it unfinished."""
        nodeid = NODE + name
        self.append("test_started", {"nodeid": nodeid, "requirements": list(requirements),
                                     "duts": ["em1"]})
        evidence = []
        if exchange:
            evidence.append(self.append("exchange", {
                "nodeid": nodeid, "dut": "em1", "protocol": "modbus",
                "transport": "serial:/dev/ttyUSB0",
                "fields": {"framing": "rtu", "unit": 1, "function": 43},
                "operation": "read_device_id",
                "request_hex": "012b0e0100", "response_hex": "012b0e01", "request_ns": 1000,
                "response_ns": 2501000, "outcome": "ok", "error": ""}))
        evidence.append(self.append("observation", {
            "nodeid": nodeid, "name": "identity object 0x05", "value": HOSTILE,
            "expected": HOSTILE, "passed": outcome == "passed", "detail": ""}))
        self.seqs[name] = evidence[0]
        if outcome is None:
            return
        self.append("test_finished", {
            "nodeid": nodeid, "outcome": outcome, "requirements": list(requirements),
            "duts": ["em1"], "duration_s": 0.25, "message": message, "evidence": evidence})

    def finish(self, seal: bool = True) -> None:
        self.append("run_finished", {"exitstatus": 1, "counts": {}})
        if seal:
            self.journal.seal()
        self.journal.close()


def standard_run(directory: Path, **start: Any) -> RunWriter:
    """Identification passes; exception 01 fails; exception 02 passes; CRC only skipped;
    same data over RTU passes and over TCP is skipped."""
    writer = RunWriter(directory)
    writer.start(**start)
    writer.test("test_identification[rtu]", IDENTIFICATION, "passed")
    writer.test("test_exception_01[rtu]", ("MODBUS-APP-7-01", *INPUT_VALIDATION), "failed",
                message=f"expected exception 01, got {HOSTILE}")
    writer.test("test_exception_02[rtu]", ("MODBUS-APP-7-02", *INPUT_VALIDATION), "passed")
    writer.test("test_crc[tcp]", ("MODBUS-SL-CRC", *INPUT_VALIDATION), "skipped",
                message="not applicable: no serial line", exchange=False)
    writer.test("test_same_data[rtu]", ("HB-IOP-01",), "passed")
    writer.test("test_same_data[tcp]", ("HB-IOP-01",), "skipped", exchange=False)
    return writer
