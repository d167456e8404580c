"""Several evidence folders merged into one (hilbench_reports.merge, `hilbench merge`): a run
and its re-test, or two xdist workers, reported as one, with every record's provenance kept,
the merged journal itself verifiable, a broken source refused, and the copy checked record
by record against its sources."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hilbench_reports import build_reports
from hilbench_reports.errors import EvidenceError
from hilbench_reports.merge import check_merged, merge_evidence

from report_runs import INPUT_VALIDATION, RunWriter

HILBENCH = [sys.executable, "-m", "hilbench.cli"]


def first_run(directory: Path) -> None:
    writer = RunWriter(directory)
    writer.start(markets=["EU", "UK"])
    writer.test("test_exception_01[rtu]", ("MODBUS-APP-7-01", *INPUT_VALIDATION), "failed",
                message="expected exception 01, got none")
    writer.test("test_same_data[rtu]", ("HB-IOP-01",), "passed")
    writer.finish()


def retest(directory: Path, seal: bool = True) -> None:
    writer = RunWriter(directory)
    writer.start(markets=["EU", "US"])
    writer.test("test_exception_01[rtu]", ("MODBUS-APP-7-01", *INPUT_VALIDATION), "passed")
    writer.test("test_exception_02[rtu]", ("MODBUS-APP-7-02", *INPUT_VALIDATION), "passed")
    writer.finish(seal=seal)


def requirement(report: dict, rid: str) -> dict:
    return next(r for r in report["requirements"] if r["id"] == rid)


def test_a_run_and_its_retest_report_as_one_with_provenance(tmp_path: Path) -> None:
    first_run(tmp_path / "first")
    retest(tmp_path / "retest")
    merged = tmp_path / "merged"
    merge_evidence([tmp_path / "first", tmp_path / "retest"], merged)
    build_reports(merged)
    report = json.loads((merged / "reports" / "report-EU.json").read_text())
    # Every linked test counts, as within one run: failed once, passed on re-test -> failed,
    # and each test says which run it came from.
    exception_01 = requirement(report, "MODBUS-APP-7-01")
    assert exception_01["status"] == "failed"
    assert [(t["outcome"], t["run"]) for t in exception_01["tests"]] == [("failed", 1),
                                                                         ("passed", 2)]
    assert requirement(report, "MODBUS-APP-7-02")["status"] == "passed"
    assert requirement(report, "HB-IOP-01")["status"] == "passed"
    # The markets are the union the sources selected; the run's times are the sources'.
    summary = json.loads((merged / "reports" / "summary.json").read_text())
    assert sorted(m["code"] for m in summary["markets"]) == ["EU", "UK", "US"]
    run = report["run"]
    assert [m["folder"] for m in run["merged_from"]] == ["first", "retest"]
    assert all(m["journal"] == "intact" and len(m["head_hash"]) == 64 for m in run["merged_from"])
    assert run["started"] == run["merged_from"][0]["first_wall"]
    html = (merged / "reports" / "report-EU.html").read_text()
    assert "merges 2 evidence folders" in html and "(run 2)" in html
    # The evidence a test cites is renumbered into the merged journal.
    for test in exception_01["tests"]:
        assert test["evidence"] and all(isinstance(s, int) for s in test["evidence"])
    # The merged folder is evidence of its own: its chain and seal verify, and every copied
    # record is its source's, byte for byte in data and hash.
    verify = subprocess.run([*HILBENCH, "verify", str(merged)], capture_output=True, text=True,
                            timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert check_merged(merged, [tmp_path / "first", tmp_path / "retest"]) == []


def test_sources_given_in_another_order_or_changed_since_are_found(tmp_path: Path) -> None:
    first_run(tmp_path / "first")
    retest(tmp_path / "retest")
    merged = tmp_path / "merged"
    merge_evidence([tmp_path / "first", tmp_path / "retest"], merged)
    # The sources given in another order (or other sources) do not check.
    assert check_merged(merged, [tmp_path / "retest", tmp_path / "first"])
    # A source re-run after the merge has another head hash.
    (tmp_path / "other").mkdir()
    retest(tmp_path / "other")
    problems = check_merged(merged, [tmp_path / "first", tmp_path / "other"])
    assert any("head hash" in p for p in problems)


def test_an_interrupted_source_merges_and_a_broken_one_is_refused(tmp_path: Path) -> None:
    first_run(tmp_path / "first")
    retest(tmp_path / "interrupted", seal=False)
    merged = tmp_path / "merged"
    merge_evidence([tmp_path / "first", tmp_path / "interrupted"], merged)
    build_reports(merged, markets=["EU"])
    report = json.loads((merged / "reports" / "report-EU.json").read_text())
    assert [m["journal"] for m in report["run"]["merged_from"]] == ["intact", "unsealed"]

    journal = tmp_path / "first" / "journal.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b"em1", b"em2", 1)
    journal.write_bytes(b"".join(lines))
    with pytest.raises(EvidenceError, match="broken"):
        merge_evidence([tmp_path / "first", tmp_path / "interrupted"], tmp_path / "again")
    assert not (tmp_path / "again" / "journal.jsonl").exists()


def test_the_command_merges_reports_and_checks(tmp_path: Path) -> None:
    first_run(tmp_path / "w0")
    retest(tmp_path / "w1")
    out = tmp_path / "all"
    merged = subprocess.run([*HILBENCH, "merge", str(tmp_path / "w0"), str(tmp_path / "w1"),
                             "-o", str(out), "--markets", "EU"], capture_output=True, text=True,
                            timeout=120)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert (out / "reports" / "report-EU.html").is_file()
    checked = subprocess.run([*HILBENCH, "merge", str(tmp_path / "w0"), str(tmp_path / "w1"),
                              "-o", str(out), "--check"], capture_output=True, text=True,
                             timeout=120)
    assert checked.returncode == 0 and "faithful" in checked.stdout, checked.stdout
    again = subprocess.run([*HILBENCH, "merge", str(tmp_path / "w0"), str(tmp_path / "w1"),
                            "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "exists" in again.stderr
