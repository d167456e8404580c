"""build_reports: statuses, completeness, escaping, determinism, integrity, schema."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from hilbench._core import canonical_json, sha256_hex
from hilbench_reports import ReportError, SchemaError, build_reports, load_catalog

from report_runs import HOSTILE, INPUT_VALIDATION, NODE, RunWriter, standard_run

ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def report(out: Path, market: str) -> dict[str, Any]:
    return json.loads((out / f"report-{market}.json").read_text(encoding="utf-8"))


def statuses(out: Path, market: str) -> dict[str, str]:
    return {r["id"]: r["status"] for r in report(out, market)["requirements"]}


def test_writes_index_summary_and_one_report_pair_per_market(evidence_dir: Path) -> None:
    written = build_reports(evidence_dir)
    out = evidence_dir / "reports"
    names = [p.name for p in written]
    assert names[0] == "index.html" and "summary.json" in names
    for market in ("EU", "UK", "US", "JP", "SG"):
        assert f"report-{market}.html" in names and f"report-{market}.json" in names
    assert report(out, "UK")["market"] == "UK"
    assert report(out, "UK")["market_info"]["name"] == "United Kingdom"
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="report-UK.html"' in index


def test_statuses_follow_the_linked_tests(evidence_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build_reports(evidence_dir, out)
    eu = statuses(out, "EU")
    assert eu["EN303645-5.3-16"] == "passed"
    assert eu["WELMEC-P2"] == "passed"
    assert eu["MODBUS-APP-7-01"] == "failed"
    assert eu["MODBUS-APP-7-02"] == "passed"
    assert eu["EN303645-5.13-1B"] == "failed"  # one failing test among three
    assert eu["EN18031-GEC-6"] == "failed"
    assert eu["MODBUS-SL-CRC"] == "inconclusive"  # only skipped
    assert eu["HB-IOP-01"] == "passed"  # passed over RTU, TCP not applicable (skipped)
    assert eu["EN303645-5.1-1"] == "not tested"
    us, jp = statuses(out, "US"), statuses(out, "JP")
    assert us["US-8425-D1"] == us["US-8259A-1"] == "passed"
    assert jp["JP-S1.1-16"] == "passed"
    iop = next(r for r in report(out, "EU")["requirements"] if r["id"] == "HB-IOP-01")
    assert iop["status_note"] == "1 of 2 linked tests skipped"


def test_every_market_report_lists_all_its_catalog_requirements(evidence_dir: Path) -> None:
    catalog = load_catalog()
    build_reports(evidence_dir, markets=list(catalog.markets))
    for market in catalog.markets:
        listed = [r["id"] for r in report(evidence_dir / "reports", market)["requirements"]]
        assert listed == [r.id for r in catalog.for_market(market)]
        summary = report(evidence_dir / "reports", market)["summary"]
        assert sum(summary["status"].values()) == summary["requirements"] == len(listed)


def test_uk_report_shows_untested_psti_requirements_honestly(evidence_dir: Path) -> None:
    build_reports(evidence_dir)
    uk = statuses(evidence_dir / "reports", "UK")
    assert uk["UK-PSTI-S1.1"] == "not tested"
    for rid in ("UK-PSTI-S1.2", "UK-PSTI-S1.3"):  # documentary, and no product file
        assert uk[rid] == "missing"
    html = (evidence_dir / "reports" / "report-UK.html").read_text(encoding="utf-8")
    assert "UK-PSTI-S1.1" in html and "not tested in this run" in html
    assert "Smart meters are excluded from PSTI" in html


def test_requirements_link_the_records_that_prove_them(evidence_dir: Path) -> None:
    build_reports(evidence_dir)
    out = evidence_dir / "reports"
    lines = (evidence_dir / "journal.jsonl").read_text(encoding="utf-8").splitlines()
    hashes = {json.loads(line)["seq"]: json.loads(line)["hash"] for line in lines}
    entry = next(r for r in report(out, "EU")["requirements"] if r["id"] == "EN303645-5.3-16")
    assert [t["nodeid"] for t in entry["tests"]] == [NODE + "test_identification[rtu]"]
    assert {e["type"] for e in entry["evidence"]} == {"test_started", "exchange", "observation",
                                                      "test_finished"}
    for item in entry["evidence"] + entry["tests"]:
        assert hashes[item["seq"]] == item["hash"]
        assert f'id="rec-{item["seq"]}"' in (out / "report-EU.html").read_text(encoding="utf-8")
    html = (out / "report-EU.html").read_text(encoding="utf-8")
    assert "01 2b 0e 01 00" in html  # request frame, spaced hex
    assert "latency_ms" in html and "2.500" in html


def test_header_names_run_bench_catalog_and_confidence_tags(evidence_dir: Path) -> None:
    build_reports(evidence_dir)
    html = (evidence_dir / "reports" / "report-EU.html").read_text(encoding="utf-8")
    catalog = load_catalog()
    for fact in ("0123456789abcdef0123456789abcdef", "0.1.0", catalog.id, catalog.version,
                 "embedded", "EMULATED BENCH — not certification evidence", "[V]", "[S]", "[U]",
                 catalog.confidence_legend["[U]"], "journal intact and sealed"):
        assert fact in html, fact
    assert 'class="tag tag-S"' in html


def test_emulated_banner_only_for_emulated_runs(tmp_path: Path) -> None:
    directory = tmp_path / "real"
    standard_run(directory, emulated=False).finish()
    build_reports(directory)
    html = (directory / "reports" / "report-EU.html").read_text(encoding="utf-8")
    assert "EMULATED BENCH" not in html
    assert json.loads((directory / "reports" / "summary.json").read_text())["emulated"] is False


def test_hostile_device_strings_are_escaped(evidence_dir: Path) -> None:
    build_reports(evidence_dir)
    for page in (evidence_dir / "reports").glob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "<script" not in text, page.name
    html = (evidence_dir / "reports" / "report-EU.html").read_text(encoding="utf-8")
    assert ESCAPED in html  # declared identity, observation value, failure message
    dut = report(evidence_dir / "reports", "EU")["duts"][0]
    assert dut["declared_identity"]["model"] == HOSTILE  # JSON keeps the raw value


def test_same_inputs_give_byte_identical_outputs(evidence_dir: Path, tmp_path: Path) -> None:
    first = build_reports(evidence_dir, tmp_path / "a")
    second = build_reports(evidence_dir, tmp_path / "b")
    moved = tmp_path / "moved"
    shutil.copytree(evidence_dir, moved)
    third = build_reports(moved, tmp_path / "c")
    assert [p.name for p in first] == [p.name for p in second] == [p.name for p in third]
    for a, b, c in zip(first, second, third):
        assert a.read_bytes() == b.read_bytes() == c.read_bytes(), a.name


def test_tampered_journal_is_reported_loudly(evidence_dir: Path) -> None:
    journal = evidence_dir / "journal.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    lines[4] = lines[4].replace(b'"passed":true', b'"passed":fals', 1).replace(
        b'"outcome":"ok"', b'"outcome":"OK"', 1)
    journal.write_bytes(b"".join(lines))
    build_reports(evidence_dir)
    out = evidence_dir / "reports"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["integrity"]["ok"] is False
    assert summary["integrity"]["journal"]["state"] == "broken"
    assert summary["integrity"]["journal"]["first_bad_line"] == 5
    assert summary["integrity"]["journal"]["records"] == 4
    for name in ("index.html", "report-EU.html", "report-UK.html"):
        text = (out / name).read_text(encoding="utf-8")
        assert "EVIDENCE INTEGRITY FAILURE" in text and "line 5" in text
        assert text.index("EVIDENCE INTEGRITY FAILURE") < text.index("<h1>")
    # Only the verified prefix counts: the identification test never finished in it.
    assert statuses(out, "EU")["EN303645-5.3-16"] == "inconclusive"
    assert statuses(out, "EU")["MODBUS-APP-7-01"] == "not tested"


def test_unsealed_journal_is_reported_as_incomplete(tmp_path: Path) -> None:
    directory = tmp_path / "cut"
    writer = RunWriter(directory)
    writer.start()
    writer.test("test_identification[rtu]", ("EN303645-5.3-16",), None)  # killed mid-test
    writer.journal.close()
    build_reports(directory)
    out = directory / "reports"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["integrity"]["journal"]["state"] == "unsealed"
    assert "EVIDENCE INCOMPLETE" in (out / "report-EU.html").read_text(encoding="utf-8")
    assert statuses(out, "EU")["EN303645-5.3-16"] == "inconclusive"
    assert summary["tests"]["unfinished"] == 1


def test_unknown_record_types_are_ignored(tmp_path: Path) -> None:
    plain, extended = tmp_path / "plain", tmp_path / "extended"
    standard_run(plain).finish()
    writer = standard_run(extended)
    writer.append("future_metric", {"nodeid": NODE + "x", "value": HOSTILE, "outcome": "failed"})
    writer.append("test_finished_v2", {"nodeid": NODE + "test_identification[rtu]",
                                       "outcome": "failed", "requirements": ["EN303645-5.3-16"]})
    writer.finish()
    build_reports(plain)
    build_reports(extended)
    for market in ("EU", "US", "JP"):
        assert statuses(plain / "reports", market) == statuses(extended / "reports", market)


def test_unknown_record_type_cited_as_evidence_is_shown_as_is(tmp_path: Path) -> None:
    writer = RunWriter(tmp_path / "e")
    writer.start()
    nodeid = NODE + "test_fault"
    writer.append("test_started", {"nodeid": nodeid, "requirements": ["HB-IOP-01"], "duts": []})
    fault = writer.append("fault", {"kind": "drop", "detail": HOSTILE})
    writer.append("test_finished", {"nodeid": nodeid, "outcome": "passed",
                                    "requirements": ["HB-IOP-01"], "duration_s": 0.1,
                                    "message": "", "evidence": [fault]})
    writer.finish()
    build_reports(tmp_path / "e")
    html = (tmp_path / "e" / "reports" / "report-EU.html").read_text(encoding="utf-8")
    assert f'id="rec-{fault}"' in html and "record type unknown to this report version" in html
    assert ESCAPED in html


def test_unknown_record_schema_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "future"
    directory.mkdir()
    prev, lines = "0" * 64, []
    for seq, kind in enumerate(("run_started", "run_finished")):
        record = {"schema": 99, "seq": seq, "type": kind, "wall": "2026-11-25T10:00:00.000000Z",
                  "mono_ns": seq, "data": {}, "prev": prev}
        record["hash"] = prev = sha256_hex(prev + "\n" + canonical_json(record))
        lines.append(canonical_json(record))
    (directory / "journal.jsonl").write_text("\n".join(lines) + "\n", encoding="ascii")
    with pytest.raises(SchemaError, match=r"line 1: record schema 99 is not supported \(this hilbench_reports reads schemas 1, 2"):
        build_reports(directory)


def test_missing_journal_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="no journal.jsonl"):
        build_reports(tmp_path)


def test_markets_default_to_the_run_selection_and_unknown_ones_are_refused(tmp_path: Path) -> None:
    directory = tmp_path / "sel"
    standard_run(directory, markets=["UK", "JP", "XX"]).finish()
    written = build_reports(directory)
    assert sorted(p.name for p in written if p.name.startswith("report-")) == [
        "report-JP.html", "report-JP.json", "report-UK.html", "report-UK.json"]
    summary = json.loads((directory / "reports" / "summary.json").read_text())
    assert summary["markets_not_in_catalog"] == ["XX"]
    assert [p.name for p in build_reports(directory, tmp_path / "o", markets=["US"],
                                          formats=["html", "json"])] == [
        "index.html", "report-US.html", "matrix.html", "iso30141.html",
        "summary.json", "report-US.json", "matrix.json", "iso30141.json"]
    with pytest.raises(ReportError, match="unknown market"):
        build_reports(directory, markets=["EU", "MARS"])


def test_requirement_ids_outside_the_catalog_are_listed(tmp_path: Path) -> None:
    directory = tmp_path / "unknown"
    writer = RunWriter(directory)
    writer.start()
    writer.test("test_new", ("HB-NEW-99", "HB-IOP-01"), "passed")
    writer.finish()
    build_reports(directory)
    summary = json.loads((directory / "reports" / "summary.json").read_text())
    assert summary["unknown_requirements"] == [{"id": "HB-NEW-99", "tests": [NODE + "test_new"]}]
    assert "HB-NEW-99" in (directory / "reports" / "index.html").read_text(encoding="utf-8")


def test_schema_1_journal_still_verifies_and_reports_its_exchanges(tmp_path: Path) -> None:
    """Evidence written before exchanges became protocol-neutral (schema 1, Modbus-only) is
    still an auditor's evidence: it verifies, and its exchanges read as schema 2."""
    directory = tmp_path / "v1"
    directory.mkdir()
    v1_exchange = {"nodeid": "t.py::test_x", "dut": "em1", "transport": "tcp:127.0.0.1:1502",
                   "framing": "tcp", "unit": 1, "function": 3, "operation": "read(0, 1)",
                   "request_hex": "0001000000060103000a0001", "response_hex": "0001000000030183",
                   "request_ns": 10, "response_ns": 20, "outcome": "exception",
                   "error": "exception 02"}
    records = [("run_started", {"markets": ["EU"]}),
               ("test_started", {"nodeid": "t.py::test_x", "requirements": ["EN18031-GEC-6"]}),
               ("exchange", v1_exchange),
               ("test_finished", {"nodeid": "t.py::test_x", "outcome": "passed",
                                  "requirements": ["EN18031-GEC-6"], "evidence": [2]}),
               ("run_finished", {"exitstatus": 0}), ("journal_sealed", {"records": 5})]
    prev, lines = "0" * 64, []
    for seq, (kind, data) in enumerate(records):
        record = {"schema": 1, "seq": seq, "type": kind, "wall": "2026-11-25T10:00:00.000000Z",
                  "mono_ns": seq, "data": data, "prev": prev}
        record["hash"] = prev = sha256_hex(prev + "\n" + canonical_json(record))
        lines.append(canonical_json(record))
    (directory / "journal.jsonl").write_text("\n".join(lines) + "\n", encoding="ascii")

    build_reports(directory)
    eu = report(directory / "reports", "EU")
    assert eu["integrity"]["journal"]["state"] == "intact"
    assert {r["id"]: r["status"] for r in eu["requirements"]}["EN18031-GEC-6"] == "passed"
    html = (directory / "reports" / "report-EU.html").read_text(encoding="utf-8")
    assert "device_error" in html and "&#34;framing&#34;: &#34;tcp&#34;" in html


def test_not_applicable_is_a_status_of_its_own(tmp_path: Path) -> None:
    """A requirement whose every linked test did not apply is "not applicable" (not
    "inconclusive", the status of a run cut short); beside a pass it is noted."""
    directory = tmp_path / "na"
    writer = RunWriter(directory)
    writer.start()
    writer.test("test_crc", ("MODBUS-SL-CRC", *INPUT_VALIDATION), "not_applicable",
                message="not applicable: em1 does not offer modbus-rtu on this bench",
                exchange=False)
    writer.test("test_exception_02[tcp]", ("MODBUS-APP-7-02", *INPUT_VALIDATION), "passed")
    writer.test("test_same_data", ("HB-IOP-01",), "skipped", message="lab ran out of time",
                exchange=False)
    writer.finish()
    build_reports(directory)
    eu = report(directory / "reports", "EU")
    by_id = {r["id"]: r for r in eu["requirements"]}
    assert by_id["MODBUS-SL-CRC"]["status"] == "not applicable"
    assert by_id["EN18031-GEC-6"]["status"] == "passed"
    assert by_id["EN18031-GEC-6"]["status_note"] == "1 of 2 linked tests not applicable"
    assert by_id["HB-IOP-01"]["status"] == "inconclusive"  # a plain skip gives no verdict
    assert eu["summary"]["status"]["not applicable"] >= 1
    html = (directory / "reports" / "report-EU.html").read_text(encoding="utf-8")
    assert "does not offer modbus-rtu" in html and "status-not_applicable" in html


def test_an_overdue_reference_calibration_warns_in_every_report(tmp_path: Path) -> None:
    directory = tmp_path / "cal"
    writer = RunWriter(directory)
    writer.start()
    writer.append("dut", {"name": "ref-dmm", "kind": "dmm", "emulated": False,
                          "declared_identity": {}, "endpoints": [],
                          "calibration": {"certificate": f"CAL-{HOSTILE}", "due": "2000-01-31",
                                          "laboratory": "", "issued": None}})
    writer.append("dut", {"name": "ref-source", "kind": "source", "emulated": False,
                          "declared_identity": {}, "endpoints": [],
                          "calibration": {"certificate": "OK-1", "due": "2999-01-01"}})
    writer.finish()
    build_reports(directory)
    out = directory / "reports"
    [warning] = report(out, "EU")["calibration_warnings"]
    assert warning["dut"] == "ref-dmm" and warning["due"] == "2000-01-31"
    assert json.loads((out / "summary.json").read_text())["calibration_warnings"] == [warning]
    for page in ("index.html", "report-EU.html", "report-US.html"):
        html = (out / page).read_text(encoding="utf-8")
        assert "CALIBRATION OVERDUE" in html and "ref-dmm" in html, page
        assert HOSTILE not in html  # the certificate text is escaped
    # The index lists every DUT (declared and reported identity); only the overdue one warns.
    index = (out / "index.html").read_text(encoding="utf-8")
    warnings = [line for line in index.splitlines() if "CALIBRATION OVERDUE" in line]
    assert warnings and not any("ref-source" in line for line in warnings)
    assert "ref-source" in index


def test_an_exchange_without_response_shows_no_latency() -> None:
    from hilbench_reports.evidence import Record
    from hilbench_reports.model import record_view

    def view(response_ns: int) -> dict[str, str]:
        data = {"protocol": "scpi", "request_ns": 1_000_000, "response_ns": response_ns,
                "request_hex": "", "response_hex": "", "fields": {"command": "*RST"}}
        return dict(record_view(Record(seq=1, hash="h", type="exchange", wall="w", data=data))["fields"])

    assert "latency_ms" not in view(0)  # a command: it has no response of its own
    assert view(3_500_000)["latency_ms"] == "2.500"



def test_error_is_a_status_of_its_own(tmp_path: Path) -> None:
    """A test that could not reach a verdict (set-up error, harness error) makes its
    requirements "error", never "failed" and never "passed"; a real failure still wins."""
    directory = tmp_path / "err"
    writer = RunWriter(directory)
    writer.start()
    writer.test("test_exception_01[tcp]", ("MODBUS-APP-7-01", *INPUT_VALIDATION), "error",
                message="ProtocolError: transaction id 2 does not match the request's 1")
    writer.test("test_exception_01[rtu]", ("MODBUS-APP-7-01", *INPUT_VALIDATION), "passed")
    writer.test("test_exception_02[rtu]", ("MODBUS-APP-7-02", *INPUT_VALIDATION), "failed")
    writer.finish()
    build_reports(directory)
    out = directory / "reports"
    eu = statuses(out, "EU")
    assert eu["MODBUS-APP-7-01"] == "error"
    assert eu["MODBUS-APP-7-02"] == "failed"
    assert eu["EN18031-GEC-6"] == "failed"  # one failure among an error and passes
    assert report(out, "EU")["summary"]["status"]["error"] >= 1
    html = (out / "report-EU.html").read_text(encoding="utf-8")
    assert "status-error" in html and "could not reach a verdict" in html


def test_index_and_summary_name_each_dut_with_declared_and_reported_identity(
        tmp_path: Path) -> None:
    directory = tmp_path / "ident"
    writer = RunWriter(directory)
    writer.start()
    writer.append("dut", {"name": "em1", "kind": "meter", "emulated": True,
                          "declared_identity": {"revision": "1.4.2", "vendor": "hilbench"},
                          "endpoints": [], "defects": ["device_id_wrong_revision"]})
    writer.append("dut_identity", {"dut": "em1", "declared": {"revision": "1.4.2"},
                                   "reported": {"revision": f"1.4.3{HOSTILE}"},
                                   "differs": ["revision"], "error": ""})
    writer.finish()
    build_reports(directory)
    out = directory / "reports"
    dut = json.loads((out / "summary.json").read_text())["duts"][-1]  # start() adds one too
    assert dut["name"] == "em1" and dut["declared_identity"]["revision"] == "1.4.2"
    assert dut["reported_identity"]["values"]["revision"] == f"1.4.3{HOSTILE}"
    assert dut["reported_identity"]["differs"] == ["revision"]
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "Reported identity" in index and "differs from declared" in index
    assert "device_id_wrong_revision" in index and HOSTILE not in index
