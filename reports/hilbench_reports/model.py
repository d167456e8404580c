"""Verdicts: from a read run and the catalog to the data of each market report (plain dicts,
the same for the JSON and the HTML output)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from hilbench.records import EXCHANGE_FRAMES, EXCHANGE_KEYS

from .evidence import Record, Run, TestResult
from .requirement_catalog import Catalog, Requirement

REPORT_FORMAT = {"name": "hilbench-market-report", "version": 1}
STATUSES = ("passed", "failed", "error", "inconclusive", "not applicable", "not tested")
OUTCOMES = ("passed", "failed", "error", "not_applicable", "skipped", "unfinished")
STATUS_LEGEND = {
    "passed": "every linked test passed (tests that did not apply are listed beside it)",
    "failed": "at least one linked test reached a verdict against the device: it failed",
    "error": "no linked test failed, but at least one could not reach a verdict (set-up, "
             "bench or harness error, or an answer too malformed to judge the requirement by)",
    "inconclusive": "linked tests ran but gave no verdict (all skipped, or the run was cut short)",
    "not applicable": "every linked test found that the requirement does not apply to this "
                      "device or bench, and says why",
    "not tested": "no test of this run produces evidence for the requirement",
}
FRAME_FIELDS = EXCHANGE_FRAMES
KEY_FIELDS = {
    "run_started": ("run_id", "hilbench_version", "markets", "seed", "bench", "catalog_version"),
    "dut": ("name", "kind", "driver", "emulated", "defects", "profile", "profile_sha256",
            "declared_identity", "endpoints"),
    "dut_identity": ("dut", "declared", "reported", "differs", "error"),
    "test_started": ("nodeid", "requirements", "duts"),
    "exchange": EXCHANGE_KEYS,
    "observation": ("nodeid", "name", "value", "expected", "passed", "detail"),
    "test_finished": ("nodeid", "outcome", "requirements", "duts", "duration_s", "message",
                      "evidence"),
    "run_finished": ("exitstatus", "counts"),
    "journal_sealed": ("records",),
}


def requirement_status(outcomes: list[str]) -> str:
    if not outcomes:
        return "not tested"
    # A failure is a verdict against the device; an error is the absence of one (the test
    # broke in set-up, or the device's answer could not be judged against this requirement),
    # so it never reads as a failure of the requirement, nor lets it pass.
    if "failed" in outcomes:
        return "failed"
    if "error" in outcomes:
        return "error"
    if all(o == "not_applicable" for o in outcomes):
        return "not applicable"
    if "passed" in outcomes and all(o in ("passed", "skipped", "not_applicable") for o in outcomes):
        return "passed"
    return "inconclusive"


def run_header(run: Run, catalog: Catalog) -> dict[str, Any]:
    started = run.run_started.data if run.run_started else {}
    finished = run.run_finished.data if run.run_finished else {}
    raw_bench = started.get("bench")
    if not isinstance(raw_bench, dict):
        raw_bench = {}
    bench = {k: raw_bench.get(k) for k in ("name", "source", "sha256", "emulated")}
    recorded_catalog = started.get("catalog_version")
    return {
        "run_id": started.get("run_id"),
        "started": run.records[0].wall if run.records else None,
        "finished": run.records[-1].wall if run.records else None,
        "hilbench_version": started.get("hilbench_version"),
        "python": started.get("python"),
        "platform": started.get("platform"),
        "argv": _strings(started.get("argv")),
        "seed": started.get("seed"),
        "markets": _strings(started.get("markets")),
        "bench": bench,
        "catalog_version": recorded_catalog,
        "catalog_matches": recorded_catalog in (None, catalog.label),
        "exitstatus": finished.get("exitstatus"),
        "counts": finished.get("counts"),
        "run_started_seq": run.run_started.seq if run.run_started else None,
    }


def _strings(value: Any) -> list[str] | None:
    """A recorded list of names, as strings (a journal is untrusted input); None if absent."""
    return [v if isinstance(v, str) else display(v) for v in value] \
        if isinstance(value, list) else None


def emulated(run: Run) -> bool | None:
    """True if the bench or any DUT is emulated; None if the journal does not say."""
    if run.run_started is None:
        return None
    bench = run.run_started.data.get("bench")
    flags = [bool(bench.get("emulated")) if isinstance(bench, dict) else False] + [bool(d.data.get("emulated")) for d in run.duts]
    return any(flags)


def duts(run: Run) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    # A journal is untrusted input: only string names link records.
    read = {r.data["dut"]: r for r in run.records
            if r.type == "dut_identity" and isinstance(r.data.get("dut"), str)}
    for record in run.duts:
        data = record.data
        identity = data.get("declared_identity")
        name = data.get("name")
        reported = read.get(name) if isinstance(name, str) else None
        out.append({
            "name": data.get("name"), "kind": data.get("kind"),
            "emulated": bool(data.get("emulated")), "profile": data.get("profile"),
            "profile_sha256": data.get("profile_sha256"),
            "declared_identity": (dict(sorted(identity.items()))
                                  if isinstance(identity, dict) else {}),
            "endpoints": [e for e in data.get("endpoints") or [] if isinstance(e, dict)]
            if isinstance(data.get("endpoints"), list) else [],
            "defects": [str(d) for d in data.get("defects") or [] if isinstance(d, str)]
            if isinstance(data.get("defects"), list) else [],
            "seq": record.seq, "hash": record.hash,
            "reported_identity": _reported_identity(reported),
            "calibration": data.get("calibration") if isinstance(data.get("calibration"), dict)
            else None,
        })
    return out


def _reported_identity(record: Record | None) -> dict[str, Any] | None:
    """What the device said about itself at the start of the run (None: not read)."""
    if record is None:
        return None
    data = record.data
    reported = data.get("reported")
    differs = data.get("differs")
    return {"values": dict(sorted(reported.items())) if isinstance(reported, dict) else {},
            "differs": [str(k) for k in differs] if isinstance(differs, list) else [],
            "error": str(data.get("error") or ""), "seq": record.seq}


def calibration_warnings(run: Run) -> list[dict[str, Any]]:
    """Reference instruments whose calibration was due before the run started: their
    readings are not traceable (ISO/IEC 17025 §6.4, §6.5), which every report must say."""
    if not run.records:
        return []
    run_day = run.records[0].wall[:10]  # ISO 8601: a string comparison is a date comparison
    warnings = []
    for record in run.duts:
        calibration = record.data.get("calibration")
        if not isinstance(calibration, dict) or not isinstance(calibration.get("due"), str):
            continue
        if calibration["due"] < run_day:
            warnings.append({"dut": record.data.get("name"), "seq": record.seq,
                             "certificate": calibration.get("certificate"),
                             "due": calibration["due"], "run_date": run_day})
    return warnings


def test_counts(tests: tuple[TestResult, ...] | list[TestResult]) -> dict[str, int]:
    counts = Counter(t.outcome if t.outcome in OUTCOMES else "unfinished" for t in tests)
    return {o: counts.get(o, 0) for o in OUTCOMES}


def unknown_requirement_ids(run: Run, catalog: Catalog) -> list[dict[str, Any]]:
    """Requirement IDs tests were tagged with that the catalog does not know."""
    unknown: dict[str, list[str]] = {}
    for test in run.tests:
        for rid in test.requirements:
            if rid not in catalog.requirements:
                unknown.setdefault(rid, []).append(test.nodeid)
    return [{"id": rid, "tests": nodes} for rid, nodes in sorted(unknown.items())]


def requirement_entry(requirement: Requirement, run: Run) -> dict[str, Any]:
    tests = [t for t in run.tests if requirement.id in t.requirements]
    entry = requirement.as_dict()
    entry["status"] = requirement_status([t.outcome for t in tests])
    entry["tests"] = [_test_view(t) for t in tests]
    skipped = sum(1 for t in tests if t.outcome == "skipped")
    not_applicable = sum(1 for t in tests if t.outcome == "not_applicable")
    notes = [f"{count} of {len(tests)} linked tests {what}"
             for count, what in ((skipped, "skipped"), (not_applicable, "not applicable"))
             if count and entry["status"] == "passed"]
    entry["status_note"] = "; ".join(notes)
    seqs = sorted({s for t in tests for s in _test_seqs(t)})
    entry["evidence"] = [{"seq": s, "hash": run.by_seq[s].hash, "type": run.by_seq[s].type}
                         for s in seqs]
    return entry


def market_report(code: str, catalog: Catalog, run: Run,
                  integrity: dict[str, Any]) -> dict[str, Any]:
    market = catalog.markets[code]
    requirements = [requirement_entry(r, run) for r in catalog.for_market(code)]
    ids = {r["id"] for r in requirements}
    tests = [t for t in run.tests if ids & set(t.requirements)]
    schemes = [{"id": s.id, "title": s.title, "section": s.section, "source": s.source,
                "scope_note": s.scope_note,
                "requirements": [r["id"] for r in requirements if r["scheme"] == s.id]}
               for s in catalog.schemes]
    return {
        "format": REPORT_FORMAT,
        "market": code,
        "market_info": {"name": market.name, "regimes": market.regimes,
                        "scope_note": market.scope_note},
        "integrity": integrity,
        "emulated": emulated(run),
        "run": run_header(run, catalog),
        "duts": duts(run),
        "calibration_warnings": calibration_warnings(run),
        "catalog": {"id": catalog.id, "version": catalog.version},
        "summary": {
            "requirements": len(requirements),
            "status": {s: sum(1 for r in requirements if r["status"] == s) for s in STATUSES},
            "tests": test_counts(tests),
        },
        "schemes": [s for s in schemes if s["requirements"]],
        "requirements": requirements,
        "appendix": appendix_seqs(run, requirements),
    }


def appendix_seqs(run: Run, requirements: list[dict[str, Any]]) -> list[int]:
    """Records shown in the evidence appendix: the run's frame plus everything cited."""
    frame = {r.seq for r in run.records
             if r.type in ("run_started", "dut", "dut_identity", "run_finished",
                           "journal_sealed")}
    cited = {e["seq"] for r in requirements for e in r["evidence"]}
    return sorted(frame | cited)


def record_view(record: Record) -> dict[str, Any]:
    """One appendix entry: type, key fields (as display strings), frames as hex."""
    data = record.data
    keys = KEY_FIELDS.get(record.type) or tuple(sorted(k for k in data if k not in FRAME_FIELDS))
    fields = [(k, display(data[k])) for k in keys if k in data]
    request_ns, response_ns = data.get("request_ns"), data.get("response_ns")
    # 0 means "no response" (a SCPI command, a timeout, a broadcast): no latency to show.
    if (record.type == "exchange" and isinstance(request_ns, int) and isinstance(response_ns, int)
            and request_ns > 0 and response_ns > 0):
        fields.append(("latency_ms", f"{(response_ns - request_ns) / 1e6:.3f}"))
    return {"seq": record.seq, "hash": record.hash, "type": record.type, "wall": record.wall,
            "known": record.type in KEY_FIELDS, "fields": fields, "failed": _failed(record),
            "frames": [(k, spaced_hex(data[k])) for k in FRAME_FIELDS
                       if isinstance(data.get(k), str)]}


def _failed(record: Record) -> bool:
    """A record that states a failure by itself (shown highlighted in the appendix)."""
    data = record.data
    if record.type == "observation":
        return data.get("passed") is False
    if record.type == "test_finished":
        return data.get("outcome") in ("failed", "error")
    return False


def display(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def spaced_hex(text: str) -> str:
    return " ".join(text[i:i + 2] for i in range(0, len(text), 2))


def _test_view(test: TestResult) -> dict[str, Any]:
    record = test.record
    return {"nodeid": test.nodeid, "outcome": test.outcome, "message": test.message,
            "duration_s": test.duration_s, "seq": record.seq, "hash": record.hash,
            "evidence": list(test.evidence)}


def _test_seqs(test: TestResult) -> list[int]:
    seqs = list(test.evidence)
    for record in (test.started, test.finished):
        if record is not None:
            seqs.append(record.seq)
    return seqs
