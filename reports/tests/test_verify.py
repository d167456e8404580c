"""verify_evidence: the journal's chain and seal, and the files it names by SHA-256."""

from __future__ import annotations

import hashlib
from pathlib import Path

from hilbench_reports import verify_evidence

from report_runs import NODE, RunWriter, standard_run


def test_intact_evidence_verifies(evidence_dir: Path) -> None:
    result = verify_evidence(evidence_dir)
    assert result["ok"] is True
    assert result["journal"]["state"] == "intact" and result["journal"]["sealed"] is True
    statuses = {f["key"]: f["status"] for f in result["files"]}
    assert statuses == {"bench.source": "embedded", "profile": "external-missing"}


def test_single_byte_edit_fails_at_its_line(evidence_dir: Path) -> None:
    journal = evidence_dir / "journal.jsonl"
    data = bytearray(journal.read_bytes())
    third_line = data.index(b"\n", data.index(b"\n") + 1) + 1
    data[third_line + 20] ^= 0x01
    journal.write_bytes(bytes(data))
    result = verify_evidence(evidence_dir)
    assert result["ok"] is False
    assert result["journal"]["state"] == "broken"
    assert result["journal"]["first_bad_line"] == 3
    assert result["journal"]["problem"]


def test_unsealed_journal_does_not_verify(tmp_path: Path) -> None:
    standard_run(tmp_path / "e").finish(seal=False)
    result = verify_evidence(tmp_path / "e")
    assert result["ok"] is False
    assert result["journal"]["state"] == "unsealed"


def test_files_named_in_the_evidence_dir_are_checked(tmp_path: Path) -> None:
    directory = tmp_path / "e"
    directory.mkdir()
    capture = directory / "captures" / "rtu.bin"
    capture.parent.mkdir()
    capture.write_bytes(b"\x01\x03\x00\x00\x00\x01")
    digest = hashlib.sha256(capture.read_bytes()).hexdigest()
    writer = RunWriter(directory)
    writer.start()
    writer.append("capture", {"path": "captures/rtu.bin", "sha256": digest})
    writer.finish()
    assert verify_evidence(directory)["ok"] is True

    capture.write_bytes(b"\x01\x03\x00\x00\x00\x02")
    result = verify_evidence(directory)
    assert result["ok"] is False
    assert [f["status"] for f in result["files"] if f["key"] == "path"] == ["mismatch"]

    capture.unlink()
    assert [f["status"] for f in verify_evidence(directory)["files"]
            if f["key"] == "path"] == ["missing"]


def test_external_file_is_checked_when_present(tmp_path: Path) -> None:
    profile = tmp_path / "profile.toml"
    profile.write_text("schema = 1\n")
    writer = RunWriter(tmp_path / "e")
    writer.start()
    writer.append("dut", {"name": "x", "profile": str(profile),
                          "profile_sha256": hashlib.sha256(b"schema = 1\n").hexdigest()})
    writer.finish()
    assert [f["status"] for f in verify_evidence(tmp_path / "e")["files"]
            if f["path"] == str(profile)] == ["external"]
    profile.write_text("schema = 2\n")
    result = verify_evidence(tmp_path / "e")
    assert result["ok"] is True  # evidence itself intact; the outside file changed since
    assert result["warnings"] and str(profile) in result["warnings"][0]


def test_missing_journal(tmp_path: Path) -> None:
    result = verify_evidence(tmp_path)
    assert result["ok"] is False and result["journal"]["state"] == "missing"


def test_a_journal_nested_deep_enough_to_crash_a_recursive_reader_is_refused(tmp_path):
    """Found by a hostile journal: a line nested 200,000 deep made `hilbench verify` and
    `hilbench report` segfault. Both now refuse it with the line and the reason."""
    import subprocess
    import sys

    depth = 200_000
    line = ('{"data":{"x":' + "[" * depth + "]" * depth + '},"hash":"' + "1" * 64 +
            '","mono_ns":1,"prev":"' + "0" * 64 +
            '","schema":2,"seq":0,"type":"x","wall":"2026-01-01T00:00:00.000000Z"}\n')
    (tmp_path / "journal.jsonl").write_text(line)
    for command in ("verify", "report"):
        result = subprocess.run([sys.executable, "-m", "hilbench.cli", command, str(tmp_path)],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode in (0, 1), (command, result.returncode, result.stderr[-2000:])
    report = verify_evidence(tmp_path)
    assert not report["ok"] and report["journal"]["first_bad_line"] == 1
    assert "nested deeper than 64 levels" in report["journal"]["problem"]


def test_verify_names_the_last_record_and_the_test_that_was_running(tmp_path: Path) -> None:
    """Found as: after a kill, `verify` said how many records survived but not which test
    was running; only `hilbench report` said so."""
    writer = RunWriter(tmp_path / "e")
    writer.start()
    writer.test("test_done", ("HB-IOP-01",), "passed")
    writer.test("test_cut_short", ("HB-IOP-01",), None)  # started, never finished
    writer.journal.close()
    result = verify_evidence(tmp_path / "e")
    assert result["journal"]["state"] == "unsealed"
    assert result["last_record"]["type"] == "observation"
    assert result["interrupted_tests"] == [NODE + "test_cut_short"]
