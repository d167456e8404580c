"""Report contents of issue 13: documentary requirements declared or missing (never tested),
the ISO/IEC 17025 §7.8 header, the emulated mark on every page, the compliance matrix, the
timeline, and a report for every market of the catalog."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from hilbench_reports import build_reports, load_catalog

from report_runs import HOSTILE, RunWriter, standard_run

VDP = b"Report security issues to psirt@example.test; acknowledged within 5 days.\n"


def report(out: Path, market: str) -> dict[str, Any]:
    return json.loads((out / f"report-{market}.json").read_text(encoding="utf-8"))


def entry(out: Path, market: str, rid: str) -> dict[str, Any]:
    return next(r for r in report(out, market)["requirements"] if r["id"] == rid)


def product_file(directory: Path, vdp_digest: str | None = None) -> Path:
    (directory / "docs").mkdir(parents=True, exist_ok=True)
    (directory / "docs" / "vdp.txt").write_bytes(VDP)
    digest = vdp_digest or hashlib.sha256(VDP).hexdigest()
    path = directory / "product.toml"
    path.write_text(f'''
[lab]
name = "Example Test Lab"
address = "1 Test Street"
[customer]
name = "Meter Maker Ltd"
contact = "qa@example.test"
[product]
model = "EM-1"
firmware = "1.4.2"
image_sha256 = "{"cd" * 32}"
[report]
issued = "2026-12-01"
[environment]
temperature = "23 ± 2 °C"
[signoff]
approved_by = "A. Approver"
[[attestation]]
title = "Vulnerability disclosure policy"
properties = ["vulnerability-disclosure-policy"]
file = "docs/vdp.txt"
sha256 = "{digest}"
[[attestation]]
title = "Support period statement"
requirements = ["UK-PSTI-S1.3"]
url = "https://example.test/support"
sha256 = "{"ef" * 32}"
''', encoding="utf-8")
    return path


def test_documentary_requirements_are_declared_or_missing_never_tested(evidence_dir: Path) -> None:
    product_file(evidence_dir)
    build_reports(evidence_dir, markets=list(load_catalog().markets))
    out = evidence_dir / "reports"
    vdp = entry(out, "UK", "UK-PSTI-S1.2")
    assert vdp["kind"] == "documentary" and vdp["status"] == "declared"
    assert vdp["attestations"][0]["state"] == "attached" and vdp["tests"] == []
    assert entry(out, "UK", "UK-PSTI-S1.3")["status"] == "declared"  # URL, digest declared
    assert entry(out, "UK", "UK-PSTI-SOC")["status"] == "missing"
    assert entry(out, "AU", "AU-SDR-C3")["status"] == "declared"  # same property
    assert entry(out, "UK", "UK-PSTI-S1.1")["status"] == "not tested"  # bench-testable
    html = (out / "report-UK.html").read_text(encoding="utf-8")
    assert "declared, evidence attached" in html and "missing: no attestation" in html
    for market in load_catalog().markets:
        for r in report(out, market)["requirements"]:
            if r["kind"] == "documentary":
                assert r["status"] in ("declared", "missing"), r["id"]


def test_an_attestation_whose_file_changed_is_not_evidence(evidence_dir: Path) -> None:
    product_file(evidence_dir, vdp_digest="00" * 32)
    build_reports(evidence_dir)
    vdp = entry(evidence_dir / "reports", "UK", "UK-PSTI-S1.2")
    assert vdp["status"] == "missing" and vdp["attestations"][0]["state"] == "digest mismatch"


def test_a_test_linked_to_a_documentary_requirement_never_passes_it(tmp_path: Path) -> None:
    writer = RunWriter(tmp_path)
    writer.start()
    writer.test("test_policy", ("UK-PSTI-S1.2",), "passed")  # an old or hand-made journal
    writer.finish()
    build_reports(tmp_path)
    assert entry(tmp_path / "reports", "UK", "UK-PSTI-S1.2")["status"] == "missing"


def test_iso17025_contents_are_in_every_market_report(evidence_dir: Path) -> None:
    product_file(evidence_dir)
    build_reports(evidence_dir)
    out = evidence_dir / "reports"
    header = report(out, "EU")["test_report"]
    assert header["lab"]["name"] == "Example Test Lab"
    assert header["customer"]["name"] == "Meter Maker Ltd"
    assert header["item"]["firmware"] == "1.4.2" and header["item"]["image_sha256"] == "cd" * 32
    assert header["method"]["suites"] == ["suites/interface"]
    assert header["method"]["hilbench_version"] == "0.1.0"
    assert header["issued"] == "2026-12-01"
    assert header["decision_rule"].startswith("Simple acceptance")
    assert header["environment"]["temperature"] == "23 ± 2 °C"
    assert header["signoff"] == {"tested_by": "", "reviewed_by": "", "approved_by": "A. Approver"}
    assert re.fullmatch(r"HB-01234567-EU-[0-9a-f]{10}", header["report_id"])
    ids = {report(out, m)["test_report"]["report_id"] for m in ("EU", "UK", "US")}
    assert len(ids) == 3  # unique per market
    deviations = report(out, "EU")["deviations"]
    assert any(d["kind"] == "skipped" and "no serial line" in d["reason"] for d in deviations)
    html = (out / "report-EU.html").read_text(encoding="utf-8")
    for fact in ("ISO/IEC 17025 §7.8", header["report_id"], "Example Test Lab", "Decision rule",
                 "Deviations from the method", "Sign-off", "relate only to the items tested",
                 f"End of report {header['report_id']}", "In-force timeline"):
        assert fact in html, fact


def test_a_changed_product_file_gives_a_new_report_id(evidence_dir: Path, tmp_path: Path) -> None:
    build_reports(evidence_dir, tmp_path / "a")
    product_file(evidence_dir)
    build_reports(evidence_dir, tmp_path / "b")
    assert report(tmp_path / "a", "EU")["test_report"]["report_id"] != \
        report(tmp_path / "b", "EU")["test_report"]["report_id"]


def test_reference_instruments_show_their_calibration_due_date(tmp_path: Path) -> None:
    writer = standard_run(tmp_path)
    writer.append("dut", {"name": "dmm1", "kind": "dmm", "emulated": True,
                          "calibration": {"certificate": "CAL-42", "due": "2027-06-30",
                                          "laboratory": HOSTILE}})
    writer.finish()
    build_reports(tmp_path)
    instruments = report(tmp_path / "reports", "EU")["test_report"]["reference_instruments"]
    assert [(i["name"], i["due"], i["certificate"]) for i in instruments] == \
        [("dmm1", "2027-06-30", "CAL-42")]
    assert "<script" not in (tmp_path / "reports" / "report-EU.html").read_text(encoding="utf-8")


def test_every_page_of_an_emulated_run_is_marked(evidence_dir: Path) -> None:
    build_reports(evidence_dir)
    pages = sorted((evidence_dir / "reports").glob("*.html"))
    assert {p.name for p in pages} >= {"index.html", "matrix.html", "report-EU.html"}
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert 'class="page-stamp"' in text and "not certification evidence" in text, page.name
        assert "em1 (meter)" in text  # which devices were emulated, from the journal
        assert "@top-center" in text  # the printed pages carry it too


def test_a_real_bench_run_has_no_mark(tmp_path: Path) -> None:
    standard_run(tmp_path, emulated=False).finish()
    build_reports(tmp_path)
    for page in (tmp_path / "reports").glob("*.html"):
        assert "not certification evidence" not in page.read_text(encoding="utf-8"), page.name


def test_reports_for_every_catalog_market_when_the_run_selected_all(tmp_path: Path) -> None:
    catalog = load_catalog()
    standard_run(tmp_path, markets=sorted(catalog.markets)).finish()
    written = {p.name for p in build_reports(tmp_path)}
    assert len(catalog.markets) >= 15
    assert {f"report-{m}.html" for m in catalog.markets} <= written
    assert {"matrix.html", "matrix.json"} <= written


def test_the_matrix_shows_cells_and_what_each_failure_blocks(evidence_dir: Path) -> None:
    product_file(evidence_dir)
    build_reports(evidence_dir)
    out = evidence_dir / "reports"
    matrix = json.loads((out / "matrix.json").read_text(encoding="utf-8"))
    assert [m["code"] for m in matrix["markets"]] == ["EU", "UK", "US", "JP", "SG"]
    rows = {row["property"]: row["cells"] for row in matrix["rows"]}
    assert rows["CL-15"]["EU"]["cell"] == "tested-fail"  # exception 01 failed
    assert rows["CL-15"]["UK"]["cell"] == "tested-fail"  # Modbus interop applies everywhere
    assert rows["CL-20"]["EU"]["cell"] == "tested-pass"  # identification passed
    assert rows["CL-06"]["UK"]["cell"] == "declared"
    assert rows["CL-23"]["UK"]["cell"] == "missing"
    assert rows["CL-26"]["UK"]["cell"] == "not applicable"  # no legal-metrology rule in UK
    blocker = next(b for b in matrix["blockers"] if b["property"] == "CL-15")
    assert blocker["unblocks"] == 5 and "EN303645-5.13-1B" in blocker["failed_requirements"]["EU"]
    html = (out / "matrix.html").read_text(encoding="utf-8")
    assert "Fixing this unblocks 5 markets." in html
    assert 'href="matrix.html"' in (out / "index.html").read_text(encoding="utf-8")
    # Variants are listed for the markets reported only (Brazil is not among them here).
    assert all(set(v["markets"]) <= {"EU", "UK", "US", "JP", "SG"} for v in matrix["variants"])


def test_the_timeline_marks_what_is_ahead_of_the_report_date(evidence_dir: Path) -> None:
    product_file(evidence_dir)  # issued 2026-12-01
    build_reports(evidence_dir)
    timeline = report(evidence_dir / "reports", "EU")["timeline"]
    full = next(e for e in timeline if e["date"] == "2027-12-11")
    assert full["future"] and "CRA-I.2(d)" in full["requirements"]
    assert not next(e for e in timeline if e["date"] == "2025-08-01")["future"]
    art14 = next(e for e in timeline if e["date"] == "2026-09-11" and "CRA-ART14" in
                 e["requirements"])
    assert not art14["future"]


def test_the_iso30141_view_places_interfaces_and_characteristics(evidence_dir: Path) -> None:
    build_reports(evidence_dir)
    out = evidence_dir / "reports"
    view = json.loads((out / "iso30141.json").read_text(encoding="utf-8"))
    domains = {d["domain"]: d for d in view["domains"]}
    assert set(domains) == {"PED", "SCD", "ASD", "OMD", "UD", "RAID"}
    assert {i["kind"] for i in domains["SCD"]["interfaces"]} == {"serial", "tcp"}
    assert "MODBUS-APP-7-01" in domains["SCD"]["requirements"]["failed"]
    assert "HB-IOP-01" in domains["RAID"]["requirements"]["passed"]
    characteristics = {c["characteristic"]: c for c in view["trustworthiness"]}
    assert "CL-16" in characteristics["availability"]["properties"]
    assert "EN303645-5.13-1B" in characteristics["reliability"]["requirements"]["failed"]
    html = (out / "iso30141.html").read_text(encoding="utf-8")
    assert "Sensing &amp; Controlling Domain" in html and "<script" not in html
    assert 'href="iso30141.html"' in (out / "index.html").read_text(encoding="utf-8")


def test_two_runs_compare_per_market(tmp_path: Path) -> None:
    from hilbench_reports.compare import compare_runs, render_text

    before = tmp_path / "fw-1.2"
    standard_run(before).finish()  # exception 01 fails
    after = tmp_path / "fw-1.3"
    writer = RunWriter(after)
    writer.start(identity={"vendor": "hilbench", "product_code": "HB-EM1", "revision": "1.3.0",
                           "model": HOSTILE})
    writer.test("test_exception_01[rtu]", ("MODBUS-APP-7-01",), "passed")
    writer.test("test_identification[rtu]", ("MODBUS-APP-6.21",), "failed", message="revision")
    writer.finish()
    result = compare_runs(before, after, markets=["EU", "UK"])
    eu = next(m for m in result["markets"] if m["market"] == "EU")
    assert eu["fixed"] == ["MODBUS-APP-7-01"]
    assert eu["newly_failed"] == ["MODBUS-APP-6.21"]
    assert {"id": "EN303645-5.3-16", "before": "passed", "after": "not tested"} in eu["changes"]
    text = render_text(result)
    assert "revision '1.4.2' -> '1.3.0'" in text and "MODBUS-APP-7-01: failed -> passed" in text
