"""Re-derives every verdict from the journal and compares it with the reports that were handed
over: a report edited by hand (a requirement turned from failed to passed) disagrees with the
journal even when the bundle around it is correctly signed.

The reports are rebuilt from the evidence and the catalog (a pure function of both) into a
scratch folder; then, per file handed over:
  * its verdicts (report-XX.json: every requirement's status and its tests' outcomes, the
    status counts; summary.json: test and status counts; junit.xml: every testcase's outcome;
    oscal-XX.json: every finding's state) are compared with the re-derived ones, one line per
    difference;
  * otherwise, or in addition, its bytes: when the reports were built by this same hilbench
    version a difference is a mismatch (the file was changed); built by another version, it
    is only noted (templates change between versions; the verdicts above still count).
"""

from __future__ import annotations

import json
import re
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path, PurePosixPath
from typing import Any, Callable

from hilbench.measure import rederive as rederive_measurement

from .build import build_reports
from .evidence import JOURNAL_NAME, read_run
from .errors import ReportError
from .requirement_catalog import load_catalog

REPORTS = "reports"
_MARKET_FILE = re.compile(r"^(?:report|oscal)-([A-Za-z0-9_]+)\.[a-z]+$")


def rederive(evidence_dir: Path, catalog_dir: Path | None = None,
             built_by: str | None = None, this_version: str | None = None) -> dict[str, Any]:
    """Compares EVIDENCE_DIR/reports with the reports re-derived from the journal.

    `catalog_dir` is the catalog to derive with (a bundle's own copy; None: this hilbench's);
    `built_by` the hilbench version that built the handed-over reports."""
    evidence_dir = Path(evidence_dir)
    reports_dir = evidence_dir / REPORTS
    result: dict[str, Any] = {"ok": True, "compared": False, "files": 0, "verdicts": 0,
                              "measurements": 0, "mismatches": [], "notes": []}
    rederive_measurements(evidence_dir, result)
    if not reports_dir.is_dir():
        result["notes"].append("no reports/ folder: no verdict to compare")
        result["ok"] = not result["mismatches"]
        return result
    catalog = load_catalog(catalog_dir)
    recorded = _catalog_of(reports_dir)
    if recorded is not None and recorded != catalog.label:
        result["notes"].append(
            f"the reports were built with catalog {recorded}; this check has {catalog.label}: "
            "verdicts not re-derived (verify the bundle, which carries its own catalog)")
        return result
    same_renderer = built_by is not None and built_by == this_version
    with tempfile.TemporaryDirectory(prefix="hilbench-rederive-") as scratch:
        derived_dir = Path(scratch)
        try:
            build_reports(evidence_dir, derived_dir, catalog_dir=catalog_dir)
        except ReportError as error:
            result.update(ok=False, problem=f"the reports cannot be re-derived: {error}")
            return result
        handed_files = sorted(p for p in reports_dir.rglob("*") if p.is_file())
        # Reports of markets the run did not select (`hilbench report --markets`) are
        # re-derived too, in a second pass: no handed-over verdict escapes the comparison.
        extra = sorted({code for p in handed_files if (code := market_of(p.name)) is not None
                        and code in catalog.markets and not (derived_dir / p.name).exists()})
        if extra:
            build_reports(evidence_dir, derived_dir / "_markets", markets=extra,
                          catalog_dir=catalog_dir)
        result["compared"] = True
        for handed in handed_files:
            relative = handed.relative_to(reports_dir).as_posix()
            derived = derived_dir / relative
            if not derived.is_file() and market_of(handed.name) in extra:
                derived = derived_dir / "_markets" / relative
            if not derived.is_file() and market_of(handed.name) is not None:
                result["mismatches"].append({
                    "file": f"{REPORTS}/{relative}", "item": "(whole file)",
                    "report": "a report of a market the catalog does not have",
                    "journal": "(absent)"})
                continue
            if not derived.is_file():
                result["notes"].append(f"{REPORTS}/{relative}: not re-derived (no report writer "
                                       "of this hilbench makes it)")
                continue
            result["files"] += 1
            _compare_file(f"{REPORTS}/{relative}", handed.read_bytes(), derived.read_bytes(),
                          same_renderer, built_by, this_version, result)
    result["ok"] = not result["mismatches"]
    return result


def rederive_measurements(evidence_dir: Path, result: dict[str, Any]) -> None:
    """Every `measurement` record's value, uncertainty and verdict re-derived from its own
    readings, Type B inputs, limits and rule (hilbench.measure.rederive): a verdict edited in
    the journal's data — or computed wrongly when it was written — is a mismatch."""
    try:
        run = read_run(evidence_dir)
    except (ReportError, OSError) as error:
        result["notes"].append(f"measurements not re-derived: {error}")
        return
    for record in run.records:
        if record.type != "measurement":
            continue
        result["measurements"] += 1
        for problem in rederive_measurement(record.data):
            result["mismatches"].append({
                "file": JOURNAL_NAME, "item": f"measurement #{record.seq}",
                "report": str(record.data.get("verdict")), "journal": problem})


def _compare_file(name: str, handed: bytes, derived: bytes, same_renderer: bool,
                  built_by: str | None, this_version: str | None, result: dict[str, Any]) -> None:
    reader = _verdict_reader(PurePosixPath(name).name)
    found = 0
    if reader is not None:
        try:
            theirs = reader(handed)
        except (ValueError, KeyError, TypeError, AttributeError, ElementTree.ParseError) as error:
            result["mismatches"].append({"file": name, "item": "(whole file)",
                                         "report": f"unreadable: {error}", "journal": "readable"})
            return
        ours = reader(derived)
        result["verdicts"] += len(ours)
        for item in sorted(theirs.keys() | ours.keys()):
            if theirs.get(item) != ours.get(item):
                found += 1
                result["mismatches"].append({"file": name, "item": item,
                                             "report": theirs.get(item, "(absent)"),
                                             "journal": ours.get(item, "(absent)")})
    if handed == derived or found:
        return
    if same_renderer:
        result["mismatches"].append({
            "file": name, "item": f"(bytes, first difference at byte {_first_difference(handed, derived)})",
            "report": "differs", "journal": f"as re-derived by hilbench {this_version}"})
    else:
        result["notes"].append(f"{name}: built by hilbench {built_by or '(unknown)'}, re-derived "
                               f"by {this_version or '(unknown)'}: the bytes differ, the verdicts "
                               "agree")


def market_of(file_name: str) -> str | None:
    """The market code of a per-market report file (report-EU.html, oscal-EU.json)."""
    match = _MARKET_FILE.match(file_name)
    return match.group(1) if match else None


def _first_difference(a: bytes, b: bytes) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def _catalog_of(reports_dir: Path) -> str | None:
    summary = reports_dir / "summary.json"
    try:
        catalog = json.loads(summary.read_bytes())["catalog"]
        return f"{catalog['id']}@{catalog['version']}"
    except (OSError, ValueError, KeyError, TypeError):
        return None


# --- verdicts per format --------------------------------------------------------------------

def _verdict_reader(file_name: str) -> Callable[[bytes], dict[str, str]] | None:
    if file_name.startswith("report-") and file_name.endswith(".json"):
        return market_verdicts
    if file_name == "summary.json":
        return summary_verdicts
    if file_name.startswith("oscal-") and file_name.endswith(".json"):
        return oscal_verdicts
    if file_name.endswith(".xml"):
        return junit_verdicts
    return None


def market_verdicts(data: bytes) -> dict[str, str]:
    report = json.loads(data)
    out: dict[str, str] = {}
    for requirement in report["requirements"]:
        rid = requirement["id"]
        out[f"requirement {rid}"] = str(requirement["status"])
        for test in requirement.get("tests") or []:
            out[f"requirement {rid}, test {test['nodeid']}"] = str(test["outcome"])
    for status, count in (report.get("summary", {}).get("status") or {}).items():
        out[f"count of requirements {status}"] = str(count)
    for outcome, count in (report.get("summary", {}).get("tests") or {}).items():
        out[f"count of tests {outcome}"] = str(count)
    return out


def summary_verdicts(data: bytes) -> dict[str, str]:
    summary = json.loads(data)
    out = {f"count of tests {k}": str(v) for k, v in (summary.get("tests") or {}).items()}
    for market in summary.get("markets") or []:
        for status, count in (market.get("summary", {}).get("status") or {}).items():
            out[f"market {market['code']}: requirements {status}"] = str(count)
    out["integrity ok"] = str(summary.get("integrity", {}).get("ok"))
    return out


def junit_verdicts(data: bytes) -> dict[str, str]:
    root = ElementTree.fromstring(data)
    out: dict[str, str] = {}
    for case in root.iter("testcase"):
        outcome = "passed"
        for tag in ("failure", "error", "skipped"):
            if case.find(tag) is not None:
                outcome = tag
        out[f"testcase {case.get('classname')}::{case.get('name')}"] = outcome
    return out


def oscal_verdicts(data: bytes) -> dict[str, str]:
    document = json.loads(data)["assessment-results"]
    out: dict[str, str] = {}
    for result in document["results"]:
        for finding in result.get("findings") or []:
            target = finding["target"]
            status = target["status"]
            out[f"finding {target['target-id']}"] = "/".join(
                str(s) for s in (status.get("state"), status.get("reason")) if s)
    return out
