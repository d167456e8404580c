"""The ISO/IEC 30141 view: the run's devices, interfaces and tested capabilities placed on
the six domains of the IoT reference model, and the trustworthiness characteristics with
what supports them — tested, failing or untested. Built from the market reports (a
requirement has one status in every market that lists it) and the catalog's
`iso30141_domains` (per requirement) and `iso30141` (per property)."""

from __future__ import annotations

from typing import Any

from .requirement_catalog import Catalog

VIEW_FORMAT = {"name": "hilbench-iso30141-view", "version": 1}
DOMAINS = {
    "PED": "Physical Entity Domain",
    "SCD": "Sensing & Controlling Domain",
    "ASD": "Application & Service Domain",
    "OMD": "Operation & Management Domain",
    "UD": "User Domain",
    "RAID": "Resource Access & Interchange Domain",
}
TRUSTWORTHINESS = ("availability", "confidentiality", "integrity", "protection of PII",
                   "reliability", "resilience", "safety")


def _bucket(statuses: dict[str, str], ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"passed": [], "failed": [], "untested": []}
    for rid in ids:
        status = statuses.get(rid, "not tested")
        key = "passed" if status in ("passed", "declared") else \
            "failed" if status == "failed" else "untested"
        out[key].append(rid)
    return out


def build_view(catalog: Catalog, reports: dict[str, dict[str, Any]],
               duts: list[dict[str, Any]]) -> dict[str, Any]:
    statuses = {r["id"]: r["status"] for report in reports.values()
                for r in report["requirements"]}
    domains = []
    for code, name in DOMAINS.items():
        ids = [rid for rid in statuses if code in catalog.requirements[rid].iso30141_domains]
        interfaces = [{"dut": d["name"], "kind": e.get("kind"), "address": e.get("address")}
                      for d in duts for e in d["endpoints"]] if code == "SCD" else []
        domains.append({"domain": code, "name": name, "interfaces": interfaces,
                        "requirements": _bucket(statuses, ids)})
    characteristics = []
    for characteristic in TRUSTWORTHINESS:
        props = [p.id for p in catalog.properties.values() if characteristic in p.iso30141]
        ids = [rid for rid in statuses
               if set(catalog.requirements[rid].clusters) & set(props)
               and catalog.requirements[rid].bench_testable]
        characteristics.append({"characteristic": characteristic, "properties": props,
                                "requirements": _bucket(statuses, ids)})
    return {"format": VIEW_FORMAT, "catalog": {"id": catalog.id, "version": catalog.version},
            "duts": [{"name": d["name"], "kind": d["kind"], "emulated": d["emulated"]}
                     for d in duts],
            "domains": domains, "trustworthiness": characteristics}
