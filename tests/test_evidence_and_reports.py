"""A real run of the default suites, then what an auditor does with its evidence: verify the
journal, detect any edit or truncation, rebuild the reports offline and get the same bytes."""

from __future__ import annotations

import filecmp
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from hilbench.emulation import find_tool

from hilbench_testing import ROOT, load_report, run_pytest

DEMO_PRODUCT = ROOT / "reports" / "examples" / "demo-product" / "product.toml"


@pytest.fixture(scope="module")
def good_run(tmp_path_factory) -> Path:
    """The demo's run: the default suites with the example product file."""
    evidence = tmp_path_factory.mktemp("run") / "evidence"
    result = run_pytest(["suites", "--evidence-dir", str(evidence), "--product", str(DEMO_PRODUCT)])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return evidence


def hilbench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([find_tool("hilbench"), *args], capture_output=True, text=True, timeout=120)


def copy_run(good_run: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(good_run, target)
    return target


def test_verify_accepts_the_untouched_evidence(good_run):
    result = hilbench("verify", str(good_run))
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["ok"] is True


@pytest.mark.parametrize("line_index", [0, 5, -2])
def test_one_edited_byte_is_found_at_its_line(good_run, tmp_path, line_index):
    evidence = copy_run(good_run, tmp_path)
    journal = evidence / "journal.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    index = line_index % len(lines)
    line = bytearray(lines[index])
    position = line.index(b'"seq":') + 6  # a digit of the sequence number
    line[position] = ord("7") if line[position] != ord("7") else ord("8")
    lines[index] = bytes(line)
    journal.write_bytes(b"".join(lines))
    result = hilbench("verify", str(evidence))
    assert result.returncode == 1
    verdict = json.loads(result.stdout)
    assert verdict["ok"] is False
    assert verdict["journal"]["first_bad_line"] == index + 1, verdict


def test_truncated_journal_is_detected(good_run, tmp_path):
    for cut in ("last_record", "mid_line"):
        evidence = copy_run(good_run, tmp_path / cut)
        journal = evidence / "journal.jsonl"
        data = journal.read_bytes()
        if cut == "last_record":
            data = b"".join(data.splitlines(keepends=True)[:-1])
        else:
            data = data[: len(data) - 40]
        journal.write_bytes(data)
        result = hilbench("verify", str(evidence))
        assert result.returncode == 1, cut
        assert json.loads(result.stdout)["ok"] is False


def test_reports_are_a_pure_function_of_the_evidence(good_run, tmp_path):
    rebuilt = tmp_path / "rebuilt"
    result = hilbench("report", str(good_run), "--out", str(rebuilt))
    assert result.returncode == 0, result.stderr
    original = good_run / "reports"
    names = sorted(p.name for p in original.iterdir())
    assert names == sorted(p.name for p in rebuilt.iterdir())
    match, mismatch, errors = filecmp.cmpfiles(original, rebuilt, names, shallow=False)
    assert not mismatch and not errors


def test_every_market_has_an_html_and_a_json_report_marked_emulated(good_run):
    reports = good_run / "reports"
    for market in ("EU", "UK", "US", "JP"):
        html = (reports / f"report-{market}.html").read_text()
        assert "not certification evidence" in html
        report = load_report(good_run, market)
        assert report["market"] == market
    eu = (reports / "report-EU.html").read_text()
    assert "EM-1 three-phase meter" in eu and "EM1-2026-000123" in eu


def test_the_demo_writes_every_catalog_market_and_the_matrix(good_run):
    from hilbench_reports import load_catalog

    catalog = load_catalog()
    reports = good_run / "reports"
    assert len(catalog.markets) >= 15
    for market in catalog.markets:
        html = (reports / f"report-{market}.html").read_text()
        assert "not certification evidence" in html and 'class="page-stamp"' in html, market
    assert 'href="matrix.html"' in (reports / "index.html").read_text()
    matrix = json.loads((reports / "matrix.json").read_text())
    assert sorted(m["code"] for m in matrix["markets"]) == sorted(catalog.markets)
    rows = {row["property"]: row["cells"] for row in matrix["rows"]}
    assert rows["CL-20"]["JP"]["cell"] == "tested-pass"  # identification suite
    # The product file and its attested file travel in the evidence folder.
    assert (good_run / "product.toml").read_bytes() == DEMO_PRODUCT.read_bytes()
    assert (good_run / "vulnerability-disclosure.txt").is_file()
    uk = {r["id"]: r for r in load_report(good_run, "UK")["requirements"]}
    assert uk["UK-PSTI-S1.2"]["status"] == "declared"
    assert uk["UK-PSTI-S1.3"]["status"] == "missing"
    header = load_report(good_run, "EU")["test_report"]
    assert header["lab"]["name"].startswith("hilbench demo lab")
    assert header["method"]["suites"] == ["suites/interface"]
    assert header["method"]["git_revision"]  # the checkout the suites ran from
