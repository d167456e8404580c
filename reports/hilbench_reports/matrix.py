"""The cross-market compliance matrix: properties (the catalog's cross-market clusters) ×
markets, from the market reports' requirement statuses — the planning table for exporters.

A cell aggregates the market's requirements that carry the property:
  tested-fail     a bench-testable one failed (a verdict against the device)
  tested-pass     none failed and at least one passed on the bench
  declared        none tested, and the documentary ones are declared with evidence attached
  missing         requirements exist, but neither a verdict nor a valid attestation covers them
                  (not tested, error, inconclusive, or an attestation missing)
  not applicable  the market has no requirement with the property, or every one was found
                  not to apply to this device
Below it: per failing property, the markets it blocks ("fixing this unblocks N markets"),
and the requirements that may need a market-specific product variant (catalog `variant`).
"""

from __future__ import annotations

from typing import Any

from .requirement_catalog import Catalog

MATRIX_FORMAT = {"name": "hilbench-compliance-matrix", "version": 1}
CELLS = ("tested-pass", "tested-fail", "declared", "missing", "not applicable")
CELL_LEGEND = {
    "tested-pass": "tested on the bench: no linked requirement failed, at least one passed",
    "tested-fail": "tested on the bench: at least one requirement failed",
    "declared": "documentary: declared, evidence attached (not tested)",
    "missing": "required, but neither a verdict nor a valid attestation covers it",
    "not applicable": "no requirement of the market has this property, or none applies",
}


def cell(statuses: list[str]) -> str:
    if not statuses or all(s == "not applicable" for s in statuses):
        return "not applicable"
    if "failed" in statuses:
        return "tested-fail"
    if "passed" in statuses:
        return "tested-pass"
    if "declared" in statuses:
        return "declared"
    return "missing"


def build_matrix(catalog: Catalog, reports: dict[str, dict[str, Any]]) -> dict[str, Any]:
    markets = list(reports)
    rows: list[dict[str, Any]] = []
    for prop in catalog.properties.values():
        cells = {}
        for code in markets:
            entries = [r for r in reports[code]["requirements"] if prop.id in r["clusters"]]
            statuses = [r["status"] for r in entries]
            cells[code] = {
                "cell": cell(statuses),
                "requirements": len(entries),
                "counts": {s: statuses.count(s) for s in sorted(set(statuses))},
                "failed": [r["id"] for r in entries if r["status"] == "failed"],
            }
        rows.append({"property": prop.id, "name": prop.name, "title": prop.title,
                     "group": prop.group, "iso30141": list(prop.iso30141), "cells": cells})
    blockers: list[dict[str, Any]] = []
    for row in rows:
        blocked = [code for code in markets if row["cells"][code]["cell"] == "tested-fail"]
        if blocked:
            blockers.append({
                "property": row["property"], "title": row["title"], "markets": blocked,
                "unblocks": len(blocked),
                "failed_requirements": {code: row["cells"][code]["failed"] for code in blocked}})
    blockers.sort(key=lambda b: (-b["unblocks"], b["property"]))
    variants = [{"requirement": r.id, "markets": [m for m in r.markets if m in reports],
                 "property": r.canonical_property, "variant": r.variant}
                for r in catalog.requirements.values()
                if r.variant and any(m in reports for m in r.markets)]
    return {
        "format": MATRIX_FORMAT,
        "catalog": {"id": catalog.id, "version": catalog.version},
        "markets": [{"code": c, "name": reports[c]["market_info"]["name"]} for c in markets],
        "legend": CELL_LEGEND,
        "rows": rows,
        "totals": {code: {c: sum(1 for row in rows if row["cells"][code]["cell"] == c)
                          for c in CELLS} for code in markets},
        "blockers": blockers,
        "variants": variants,
    }
