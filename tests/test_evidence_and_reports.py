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
    result = hilbench("verify", str(good_run), "--json")
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
    result = hilbench("verify", str(evidence), "--json")
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
        result = hilbench("verify", str(evidence), "--json")
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
    # The meter is the device under test; the source, DMM, supply and transmitter that drive
    # and judge it are bench instruments, and the report says which is which.
    roles = {d["name"]: d["role"] for d in load_report(good_run, "EU")["duts"]}
    assert roles == {"em1": "dut", "tt1": "instrument", "rs3": "instrument",
                     "dmm6": "instrument", "psu2": "instrument"}
    assert eu.count("<strong>device under test</strong>") == 1


def test_a_signed_bundle_of_a_real_run_verifies_offline(good_run, tmp_path):
    """What a lab and its auditor do (docs/verify.md): a key pair, a bundle, `verify` with the
    public key — and, on the same real run, a verdict edited by hand before bundling and a
    record removed by an insider who re-signs are both found."""
    import sys

    key = tmp_path / "lab"
    made = hilbench("bundle", "keygen", "-o", str(key))
    assert made.returncode == 0, made.stderr
    bundle = tmp_path / "run.tar"
    packed = hilbench("bundle", str(good_run), "--key", f"{key}.pem", "-o", str(bundle))
    assert packed.returncode == 0, packed.stderr
    verified = hilbench("verify", str(bundle), "--key", f"{key}.pub.pem")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "VERDICT: VERIFIED" in verified.stdout and "all agree" in verified.stdout
    assert "EMULATED bench — not certification evidence" in verified.stdout
    as_json = json.loads(hilbench("verify", str(bundle), "--key", f"{key}.pub.pem",
                                  "--json").stdout)
    assert as_json["ok"] and as_json["verdicts"]["verdicts"] > 100
    assert hilbench("verify", str(bundle)).returncode == 2  # a bundle needs the key
    in_person = hilbench("verify", str(good_run))
    assert in_person.returncode == 0 and "intact, sealed" in in_person.stdout

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reports" / "tests"))
    from bundle_tools import journal_lines, tampered
    from hilbench_reports.bundle import load_private_key
    from test_output_formats import oscal_validator

    validator = oscal_validator()
    for path in sorted((good_run / "reports").glob("oscal-*.json")):
        assert not list(validator.iter_errors(json.loads(path.read_bytes()))), path.name

    def remove_record(members: dict) -> None:
        lines = journal_lines(members)
        del lines[len(lines) // 2]
        members["evidence/journal.jsonl"] = b"".join(lines)

    cut = tampered(bundle, tmp_path / "cut.tar", remove_record, load_private_key(Path(f"{key}.pem")))
    result = hilbench("verify", str(cut), "--key", f"{key}.pub.pem")
    assert result.returncode == 1 and "hash chain BROKEN" in result.stdout, result.stdout

    edited = copy_run(good_run, tmp_path)
    report_path = edited / "reports" / "report-EU.json"
    report = json.loads(report_path.read_text())
    entry = next(r for r in report["requirements"] if r["status"] == "passed")
    entry["status"] = "failed"
    report_path.write_text(json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    hilbench("bundle", str(edited), "--key", f"{key}.pem", "-o", str(tmp_path / "edited.tar"))
    result = hilbench("verify", str(tmp_path / "edited.tar"), "--key", f"{key}.pub.pem")
    assert result.returncode == 1
    assert (f"reports/report-EU.json: requirement {entry['id']}: the report says failed, the "
            "journal says passed") in result.stdout


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
    assert header["method"]["suites"] == ["suites/interface", "suites/metrology", "suites/robustness",
                                         "suites/security", "suites/timing", "suites/transmitter"]
    assert header["method"]["git_revision"]  # the checkout the suites ran from
