"""NIST OSCAL assessment results (JSON), one `oscal-<MARKET>.json` per market report.

Model: OSCAL 1.2.1 assessment-results (validated against NIST's JSON schema in
reports/tests/test_oscal.py). Mapping:
  * the catalog's requirements for the market are the reviewed controls (`control-id`: the
    requirement ID as an OSCAL token);
  * each test linked to them is an observation (method TEST, collected when its
    test_finished record was written, its journal records as relevant evidence);
  * each requirement a test produced evidence for is a finding: passed -> satisfied/pass,
    failed -> not-satisfied/fail, anything else (error, inconclusive, not applicable) ->
    not-satisfied/other with hilbench's own status as a property. A requirement no test
    covers has no finding: it was not assessed.
  * `import-ap` names the market's JSON report: the plan is the catalog as this run applied it.
UUIDs are version-5, derived from the run id and the item, so the output is a pure function
of the evidence. A run on an emulated bench says "not certification evidence" in the
metadata's and the result's properties and remarks.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from .writers import EMULATED_BANNER, ReportSet, ReportWriter, to_json, write_text

OSCAL_VERSION = "1.2.1"
NS = "urn:hilbench:oscal"
_NOT_TOKEN = re.compile(r"[^\w.\-]")
_SPACES = re.compile(r"\s+")


class OscalWriter(ReportWriter):
    name = "oscal"

    def write(self, reports: ReportSet, out: Path) -> list[Path]:
        return [write_text(out / f"oscal-{code}.json", to_json(assessment_results(reports, code)))
                for code in reports.reports]


def token(text: str) -> str:
    """An OSCAL token (XML NCName): letters, digits, '.', '-', '_', not starting with a digit."""
    value = _NOT_TOKEN.sub("_", text) or "_"
    return value if value[0].isalpha() or value[0] == "_" else f"_{value}"


def line(text: Any) -> str:
    """One OSCAL string: non-empty, one line, no leading or trailing blanks."""
    return _SPACES.sub(" ", str(text)).strip() or "-"


def assessment_results(reports: ReportSet, code: str) -> dict[str, Any]:
    report = reports.reports[code]
    run = reports.run
    header = report["run"]
    run_id = str(header.get("run_id") or run.check.head_hash or "unknown-run")

    def uid(*parts: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join((NS, run_id, code, *parts))))

    start = _timestamp(header.get("started"))
    end = _timestamp(header.get("finished"))
    emulated = bool(report.get("emulated"))
    marking = [_prop("marking", EMULATED_BANNER)] if emulated else []
    run_props = [_prop("run-id", run_id), _prop("catalog", reports.catalog.label),
                 _prop("hilbench-version", header.get("hilbench_version") or "unknown"),
                 _prop("journal-head-sha256", reports.integrity["journal"].get("head_hash")
                       or "none"),
                 _prop("evidence-integrity", "ok" if reports.integrity["ok"] else "failed"),
                 *marking]

    observations: dict[str, dict[str, Any]] = {}
    findings = []
    for requirement in report["requirements"]:
        related = []
        for test in requirement["tests"]:
            nodeid = test["nodeid"]
            if nodeid not in observations:
                observations[nodeid] = _observation(uid("observation", nodeid), test, run, start)
            related.append({"observation-uuid": observations[nodeid]["uuid"]})
        if not related:
            continue  # not tested: no finding (the control was reviewed, not assessed)
        findings.append(_finding(uid("finding", requirement["id"]), requirement, related))

    result: dict[str, Any] = {
        "uuid": uid("result"),
        "title": line(f"hilbench run {run_id}: {report['market_info']['name']} ({code})"),
        "description": (f"Bench tests of the requirements catalog {reports.catalog.label} "
                        f"applies to {report['market_info']['name']}, re-derivable from the "
                        "run's SHA-256-chained journal."
                        + (f" {EMULATED_BANNER}." if emulated else "")),
        "start": start, "end": end, "props": run_props,
        "reviewed-controls": {"control-selections": [_selection(report)]},
    }
    if observations:
        result["observations"] = list(observations.values())
    if findings:
        result["findings"] = findings
    if emulated:
        result["remarks"] = (f"{EMULATED_BANNER}: the devices under test were emulated, so "
                             "these results show what the harness checks, not a product's "
                             "conformity.")
    return {"assessment-results": {
        "uuid": uid("assessment-results"),
        "metadata": {
            "title": line(f"hilbench assessment results — {report['market_info']['name']} "
                          f"({code})"),
            "last-modified": end, "version": line(run_id),
            "oscal-version": OSCAL_VERSION, "props": run_props,
        },
        "import-ap": {"href": f"report-{code}.json",
                      "remarks": (f"No separate OSCAL assessment plan: the plan is the catalog "
                                  f"{reports.catalog.label} for market {code} as this run "
                                  "applied it, in the market's JSON report.")},
        "results": [result],
    }}


def _selection(report: dict[str, Any]) -> dict[str, Any]:
    ids = [{"control-id": token(r["id"])} for r in report["requirements"]]
    if not ids:
        return {"description": "The catalog names no requirement for this market.",
                "include-all": {}}
    return {"description": line(f"The requirements of the catalog for {report['market']}"),
            "include-controls": ids}


def _observation(identifier: str, test: dict[str, Any], run: Any, start: str) -> dict[str, Any]:
    record = run.by_seq.get(test["seq"])
    evidence = [{"href": f"../journal.jsonl#seq={seq}",
                 "description": f"journal record {seq} ({run.by_seq[seq].type}), SHA-256 "
                                f"{run.by_seq[seq].hash}"}
                for seq in [*test["evidence"], test["seq"]] if seq in run.by_seq]
    description = f"{test['nodeid']}: {test['outcome'].replace('_', ' ')}"
    if test.get("message"):
        description += f"\n\n{test['message']}"
    observation: dict[str, Any] = {
        "uuid": identifier, "title": line(test["nodeid"]), "description": description,
        "props": [_prop("outcome", test["outcome"])],
        "methods": ["TEST"], "types": ["finding"] if test["outcome"] == "failed" else ["control-objective"],
        "collected": _timestamp(record.wall) if record is not None else start,
    }
    if evidence:
        observation["relevant-evidence"] = evidence
    return observation


def _finding(identifier: str, requirement: dict[str, Any],
             related: list[dict[str, str]]) -> dict[str, Any]:
    status = requirement["status"]
    state = {"passed": ("satisfied", "pass"), "failed": ("not-satisfied", "fail")}.get(
        status, ("not-satisfied", "other"))
    target: dict[str, Any] = {
        "type": "objective-id", "target-id": token(requirement["id"]),
        "title": line(f"{requirement['id']}: {requirement['title']}"),
        "props": [_prop("hilbench-status", status)],
        "status": {"state": state[0], "reason": state[1]},
    }
    if requirement.get("status_note"):
        target["remarks"] = requirement["status_note"]
    return {"uuid": identifier, "title": line(f"{requirement['id']}: {status}"),
            "description": (f"{requirement['id']} ({requirement['scheme']}, "
                            f"{requirement['clause']}) {status} in this run."),
            "props": [_prop("hilbench-status", status)],
            "target": target, "related-observations": related}


def _prop(name: str, value: Any) -> dict[str, str]:
    return {"name": token(name), "ns": NS, "value": line(value)}


def _timestamp(wall: Any) -> str:
    """The journal's wall time (ISO 8601 UTC with 'Z'); the epoch if the journal has none."""
    return wall if isinstance(wall, str) and wall else "1970-01-01T00:00:00Z"
