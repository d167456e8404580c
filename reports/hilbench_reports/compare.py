"""Run-to-run comparison: two evidence sets (firmware 1.2 against 1.3, a re-test) -> what
changed, per market. A pure function of the two evidence folders and the catalog, like the
reports: each run's market reports are built as `hilbench report` would, then compared
requirement by requirement.

`hilbench compare BEFORE AFTER` prints it; `--json` gives the data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import ReportError
from .evidence import read_run
from .model import duts, market_report
from .product import find_product_file, load_product
from .requirement_catalog import Catalog, load_catalog
from .verify import integrity

COMPARISON_FORMAT = {"name": "hilbench-run-comparison", "version": 1}


def _reports(evidence_dir: Path, catalog: Catalog, markets: list[str]) -> dict[str, Any]:
    run = read_run(evidence_dir)
    checked = integrity(evidence_dir, run, check_external=False)
    product = load_product(find_product_file(evidence_dir, None), catalog)
    reports = {code: market_report(code, catalog, run, checked, product) for code in markets}
    started = run.run_started.data if run.run_started else {}
    return {"run_id": started.get("run_id"), "journal": checked["journal"]["state"],
            # What the device said about itself where it was read, else what was declared.
            "duts": [{"name": d["name"], "emulated": d["emulated"],
                      "identity": {**d["declared_identity"],
                                   **(d["reported_identity"] or {}).get("values", {})}}
                     for d in duts(run)],
            "reports": reports}


def compare_runs(before: Path, after: Path, markets: list[str] | None = None,
                 catalog_dir: Path | None = None) -> dict[str, Any]:
    catalog = load_catalog(catalog_dir)
    codes = markets or list(catalog.markets)
    unknown = [code for code in codes if code not in catalog.markets]
    if unknown:
        raise ReportError(f"unknown market(s) {', '.join(unknown)}; the catalog "
                          f"{catalog.label} has {', '.join(catalog.markets)}")
    old, new = _reports(Path(before), catalog, codes), _reports(Path(after), catalog, codes)
    per_market = []
    for code in codes:
        was = {r["id"]: r["status"] for r in old["reports"][code]["requirements"]}
        now = {r["id"]: r["status"] for r in new["reports"][code]["requirements"]}
        changes = [{"id": rid, "before": was.get(rid, "absent"), "after": now.get(rid, "absent")}
                   for rid in dict.fromkeys([*was, *now]) if was.get(rid) != now.get(rid)]
        per_market.append({
            "market": code, "changes": changes,
            "newly_failed": [c["id"] for c in changes if c["after"] == "failed"],
            "fixed": [c["id"] for c in changes if c["before"] == "failed"
                      and c["after"] == "passed"],
            "before": old["reports"][code]["summary"]["status"],
            "after": new["reports"][code]["summary"]["status"]})
    return {"format": COMPARISON_FORMAT, "catalog": catalog.label,
            "before": {k: old[k] for k in ("run_id", "journal", "duts")},
            "after": {k: new[k] for k in ("run_id", "journal", "duts")},
            "markets": per_market}


def render_text(comparison: dict[str, Any]) -> str:
    before, after = comparison["before"], comparison["after"]
    lines = [f"before: run {before['run_id']} (journal {before['journal']}); "
             f"after: run {after['run_id']} (journal {after['journal']})"]
    for old, new in zip(before["duts"], after["duts"]):
        identity_old, identity_new = old["identity"], new["identity"]
        moved = {k: (identity_old.get(k), identity_new.get(k))
                 for k in sorted(set(identity_old) | set(identity_new))
                 if identity_old.get(k) != identity_new.get(k)}
        if moved:
            lines.append(f"DUT {new['name']}: " + ", ".join(
                f"{k} {a!r} -> {b!r}" for k, (a, b) in moved.items()))
    for market in comparison["markets"]:
        if not market["changes"]:
            lines.append(f"{market['market']}: no change")
            continue
        lines.append(f"{market['market']}: {len(market['changes'])} changed, "
                     f"{len(market['newly_failed'])} newly failed, {len(market['fixed'])} fixed")
        lines += [f"  {c['id']}: {c['before']} -> {c['after']}" for c in market["changes"]]
    return "\n".join(lines)
