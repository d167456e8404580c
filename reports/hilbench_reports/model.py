"""Verdicts: from a read run and the catalog to the data of each market report (plain dicts,
the same for the JSON and the HTML output)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

from hilbench.measure import rederive as rederive_measurement
from hilbench.records import EXCHANGE_FRAMES, EXCHANGE_KEYS

from .evidence import Record, Run, TestResult
from .product import DEFAULT_DECISION_RULE, NO_PRODUCT, ProductFile
from .requirement_catalog import Catalog, Requirement

REPORT_FORMAT = {"name": "hilbench-market-report", "version": 2}
STATUSES = ("passed", "failed", "error", "inconclusive", "not applicable", "not tested",
            "declared", "missing")
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
    "declared": "documentary requirement: declared, evidence attached (an attestation in the "
                "product file, with its SHA-256) — not tested",
    "missing": "documentary requirement: no valid attestation in the product file",
}
DEVIATION_OUTCOMES = ("skipped", "not_applicable", "error", "unfinished")
FRAME_FIELDS = EXCHANGE_FRAMES
KEY_FIELDS = {
    "run_started": ("run_id", "hilbench_version", "markets", "seed", "bench", "catalog_version"),
    "dut": ("name", "kind", "role", "driver", "emulated", "defects", "profile", "profile_sha256",
            "declared_identity", "endpoints"),
    "dut_identity": ("dut", "declared", "reported", "differs", "error"),
    "test_started": ("nodeid", "requirements", "duts"),
    "exchange": EXCHANGE_KEYS,
    "observation": ("nodeid", "name", "value", "expected", "passed", "detail"),
    "measurement": ("nodeid", "name", "quantity", "unit", "value", "budget", "limits", "rule",
                    "verdict", "marginal", "statistics", "parameters"),
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
    merged = merged_from(started)
    first = [m["first_wall"] for m in merged if isinstance(m.get("first_wall"), str)]
    last = [m["last_wall"] for m in merged if isinstance(m.get("last_wall"), str)]
    return {
        "run_id": started.get("run_id"),
        # A merged run spans its sources' times, not the time of the merge.
        "started": min(first) if first else run.records[0].wall if run.records else None,
        "finished": max(last) if last else run.records[-1].wall if run.records else None,
        "merged_from": merged,
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


def merged_from(started: dict[str, Any]) -> list[dict[str, Any]]:
    """The sources of a merged run (hilbench_reports.merge), as display data; [] otherwise."""
    entries = started.get("merged_from")
    if not isinstance(entries, list):
        return []
    keys = ("run", "folder", "run_id", "bench", "emulated", "journal", "head_hash", "records",
            "first_wall", "last_wall")
    return [{k: e.get(k) if isinstance(e.get(k), (str, int, bool)) or e.get(k) is None
             else display(e.get(k)) for k in keys} for e in entries if isinstance(e, dict)]


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
            # Journals before the role was recorded called every device a DUT.
            "role": data.get("role") if data.get("role") in ("dut", "instrument") else "dut",
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


def requirement_entry(requirement: Requirement, run: Run,
                      product: ProductFile = NO_PRODUCT) -> dict[str, Any]:
    entry = requirement.as_dict()
    attestations = [a.as_dict() for a in product.for_requirement(requirement.id)]
    entry["attestations"] = attestations
    if not requirement.bench_testable:
        # A documentary requirement is declared or missing; a test never makes it "passed".
        entry["status"] = "declared" if any(a["valid"] for a in attestations) else "missing"
        entry["tests"], entry["evidence"], entry["measurements"] = [], [], []
        entry["status_note"] = "" if attestations or entry["status"] == "declared" else \
            "no attestation in the product file"
        return entry
    tests = [t for t in run.tests if requirement.id in t.requirements]
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
    entry["measurements"] = [measurement_view(run.by_seq[s]) for s in seqs
                             if run.by_seq[s].type == "measurement"]
    return entry


def measurement_view(record: Record) -> dict[str, Any]:
    """A declared measurement as a report shows it: value, U (k), limits, rule, verdict, the
    shortened parameters if any, and whether the verdict re-derives from the record."""
    data = record.data
    budget = data.get("budget") or {}
    parameters = data.get("parameters") or {}
    return {"seq": record.seq, "nodeid": data.get("nodeid"), "name": data.get("name"),
            "quantity": data.get("quantity"), "unit": data.get("unit"),
            "unit_symbol": data.get("unit_symbol"), "value": data.get("value"),
            "n": (data.get("statistics") or {}).get("n"),
            "stddev": (data.get("statistics") or {}).get("stddev"),
            "expanded_uncertainty": budget.get("expanded"), "k": budget.get("k"),
            "coverage": budget.get("coverage"), "limits": data.get("limits"),
            "rule": data.get("rule"), "verdict": data.get("verdict"),
            "marginal": data.get("marginal"),
            "shortened_from": parameters.get("shortened_from"),
            "rederived": rederive_measurement(data)}


def market_report(code: str, catalog: Catalog, run: Run, integrity: dict[str, Any],
                  product: ProductFile = NO_PRODUCT) -> dict[str, Any]:
    market = catalog.markets[code]
    requirements = [requirement_entry(r, run, product) for r in catalog.for_market(code)]
    ids = {r["id"] for r in requirements}
    tests = [t for t in run.tests if ids & set(t.requirements)]
    schemes = [{"id": s.id, "title": s.title, "section": s.section, "source": s.source,
                "scope_note": s.scope_note, "status": s.status, "applies_from": s.applies_from,
                "requirements": [r["id"] for r in requirements if r["scheme"] == s.id]}
               for s in catalog.schemes]
    return {
        "format": REPORT_FORMAT,
        "market": code,
        "market_info": {"name": market.name, "regimes": market.regimes,
                        "scope_note": market.scope_note, "status": market.status,
                        "includes": list(market.includes)},
        "integrity": integrity,
        "emulated": emulated(run),
        "emulated_devices": emulated_devices(run),
        "test_report": test_report_header(code, catalog, run, integrity, product),
        "deviations": deviations(run, tests, requirements),
        "timeline": timeline(code, catalog, requirements, report_date(run, product)),
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
    if record.type == "measurement":
        return data.get("verdict") != "pass"
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
    source = record.data.get("source")
    return {"nodeid": test.nodeid, "outcome": test.outcome, "message": test.message,
            "duration_s": test.duration_s, "seq": record.seq, "hash": record.hash,
            "evidence": list(test.evidence),
            # In a merged run: which source run the test ran in.
            "run": source.get("run") if isinstance(source, dict) and
            isinstance(source.get("run"), int) else None}


def _test_seqs(test: TestResult) -> list[int]:
    seqs = list(test.evidence)
    for record in (test.started, test.finished):
        if record is not None:
            seqs.append(record.seq)
    return seqs


def emulated_devices(run: Run) -> list[str]:
    """The devices the journal records as emulated (the bench itself first, if it is)."""
    out = []
    bench = run.run_started.data.get("bench") if run.run_started else None
    if isinstance(bench, dict) and bench.get("emulated"):
        out.append(f"bench {display(bench.get('name') or 'unnamed')}")
    out += [f"{display(d.data.get('name'))} ({display(d.data.get('kind'))})"
            for d in run.duts if d.data.get("emulated")]
    return out


def report_date(run: Run, product: ProductFile) -> str | None:
    """Date of issue: the product file's [report] issued, else the day of the last record
    (never the clock: a report is a pure function of its inputs)."""
    issued = product.table("report").get("issued")
    if issued:
        return issued
    return run.records[-1].wall[:10] if run.records else None


def report_id(code: str, catalog: Catalog, run: Run, integrity: dict[str, Any],
              product: ProductFile) -> str:
    """Unique per run, market, catalog version, evidence and product file: a report rebuilt
    from other inputs (an amended one, ISO/IEC 17025 §7.8.8) gets another ID."""
    started = run.run_started.data if run.run_started else {}
    head = str(integrity.get("journal", {}).get("head_hash", ""))
    digest = hashlib.sha256("\n".join([str(started.get("run_id")), code, catalog.label, head,
                                       str(product.sha256)]).encode()).hexdigest()
    return f"HB-{str(started.get('run_id') or 'unknown')[:8]}-{code}-{digest[:10]}"


def test_report_header(code: str, catalog: Catalog, run: Run, integrity: dict[str, Any],
                       product: ProductFile) -> dict[str, Any]:
    """The contents ISO/IEC 17025:2017 §7.8.2/7.8.3 asks of a test report, from the journal
    and the product file; what neither states is "not stated", never invented."""
    started = run.run_started.data if run.run_started else {}
    suites = sorted({t.nodeid.split("::")[0].rsplit("/", 1)[0] for t in run.tests})
    instruments = []
    for record in run.duts:
        calibration = record.data.get("calibration")
        if isinstance(calibration, dict):
            instruments.append({
                "name": display(record.data.get("name")), "kind": display(record.data.get("kind")),
                "emulated": bool(record.data.get("emulated")),
                "certificate": display(calibration.get("certificate")),
                "due": display(calibration.get("due")),
                "laboratory": display(calibration.get("laboratory") or ""),
                "seq": record.seq})
    item = product.table("product")
    return {
        "title": product.table("report").get("title", "Test report"),
        "report_id": report_id(code, catalog, run, integrity, product),
        "lab": product.table("lab"), "customer": product.table("customer"),
        "method": {"suites": suites, "argv": _strings(started.get("argv")),
                   "hilbench_version": started.get("hilbench_version"),
                   "git_revision": started.get("git_revision"),
                   "catalog": catalog.label, "seed": started.get("seed")},
        "item": item,
        "reference_instruments": instruments,
        "performed": {"from": run.records[0].wall if run.records else None,
                      "to": run.records[-1].wall if run.records else None},
        "issued": report_date(run, product),
        "decision_rule": product.table("decision_rule").get("text", DEFAULT_DECISION_RULE),
        "environment": {**product.table("environment"),
                        "harness host": f"{display(started.get('platform') or '?')}, Python "
                                        f"{display(started.get('python') or '?')}"},
        "signoff": {role: product.table("signoff").get(role, "")
                    for role in ("tested_by", "reviewed_by", "approved_by")},
        "product_file": {"name": product.path, "sha256": product.sha256},
    }


def deviations(run: Run, tests: list[TestResult],
               requirements: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Departures from the full method (§7.8.2.1 n): tests skipped, not applicable, broken
    off or in error, each with its reason; a journal cut short; documentary requirements
    without an attestation."""
    out = [{"what": t.nodeid, "kind": t.outcome.replace("_", " "),
            "reason": t.message or "no reason recorded"}
           for t in tests if t.outcome in DEVIATION_OUTCOMES]
    if run.run_finished is None:
        out.append({"what": "run", "kind": "shortened",
                    "reason": "the journal has no run_finished record: the run was cut short"})
    shortened = {m["seq"]: m for r in requirements for m in r.get("measurements", [])
                 if m["shortened_from"]}
    out += [{"what": f"{m['nodeid']} ({m['name']})", "kind": "shortened",
             "reason": "shortened for CI (--metrology-short): " + "; ".join(
                 f"{k} {_number(used)} (full method: {_number(m['shortened_from'][k])})"
                 for k, used in sorted(_shortened_to(run, m["seq"]).items()))}
            for m in shortened.values()]
    missing = [r["id"] for r in requirements if r["status"] == "missing"]
    if missing:
        out.append({"what": f"{len(missing)} documentary requirements", "kind": "missing",
                    "reason": "no attestation in the product file: " + ", ".join(missing)})
    return out


def _number(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, (int, float)) else str(value)


def _shortened_to(run: Run, seq: int) -> dict[str, Any]:
    parameters = run.by_seq[seq].data.get("parameters") or {}
    return {k: parameters.get(k) for k in (parameters.get("shortened_from") or {})}


def timeline(code: str, catalog: Catalog, requirements: list[dict[str, Any]],
             today: str | None) -> list[dict[str, Any]]:
    """Per date, what comes into force for this market (from the catalog), oldest first;
    `future` marks what is not yet in force on the report's date."""
    events: dict[tuple[str, str], dict[str, Any]] = {}
    for scheme in catalog.schemes:
        ids = [r["id"] for r in requirements if r["scheme"] == scheme.id]
        if not ids:
            continue
        for date, event in scheme.milestones:
            events.setdefault((date, scheme.id), {"date": date, "scheme": scheme.title,
                                                  "events": [], "requirements": []}
                              )["events"].append(event)
        if scheme.applies_from:
            entry = events.setdefault((scheme.applies_from, scheme.id), {
                "date": scheme.applies_from, "scheme": scheme.title, "events": [],
                "requirements": []})
            entry["requirements"] += [r["id"] for r in requirements
                                      if r["scheme"] == scheme.id and not r["applies_from"]]
    titles = {scheme.id: scheme.title for scheme in catalog.schemes}
    for r in requirements:
        if r["applies_from"]:
            events.setdefault((r["applies_from"], r["scheme"]), {
                "date": r["applies_from"], "scheme": titles[r["scheme"]], "events": [],
                "requirements": []})["requirements"].append(r["id"])
    out = sorted(events.values(), key=lambda e: (e["date"], e["scheme"]))
    for entry in out:
        entry["future"] = bool(today and entry["date"] > today)
    return out
