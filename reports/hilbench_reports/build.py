"""Per-market evidence reports: a pure function of (evidence directory, catalog).

Builds the report data once (hilbench_reports.model) and hands it to every registered report
writer (hilbench_reports.writers; entry-point group "hilbench.report_writers"). The built-in
writers put into `out_dir` (default EVIDENCE_DIR/reports):
  index.html, report-<MARKET>.html     html: links the market reports; one per market
  matrix.html                          html: the cross-market compliance matrix
  summary.json, report-<MARKET>.json   json: run, integrity and per-market counts; one per market
  matrix.json                          json: the matrix (hilbench_reports.matrix)
  iso30141.html, iso30141.json         the ISO/IEC 30141 view (hilbench_reports.iso30141)
  report-<MARKET>.pdf                  pdf (opt-in, `formats=["pdf", ...]`): the HTML printed
Inputs: the evidence directory, the catalog and the product file (EVIDENCE_DIR/product.toml
or `product=`; hilbench_reports.product), whose SHA-256 every report records. Nothing depends
on the clock, the host or other files: the same inputs give byte-identical outputs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import ReportError
from .evidence import Run, read_run
from .iso30141 import build_view
from .matrix import build_matrix
from .model import REPORT_FORMAT, calibration_warnings, duts, emulated, emulated_devices, market_report, \
    run_header, test_counts, unknown_requirement_ids
from .product import find_product_file, load_product
from .requirement_catalog import Catalog, load_catalog
from .verify import integrity
from .writers import REPORT_WRITERS, ReportSet

DEFAULT_FORMATS = ("html", "json")


def build_reports(evidence_dir: Path, out_dir: Path | None = None,
                  markets: list[str] | None = None,
                  catalog_dir: Path | None = None,
                  formats: list[str] | None = None,
                  product: Path | None = None) -> list[Path]:
    """Builds every market report of the run in each format (default: html, json, then every
    other registered writer); returns the files written (index.html first)."""
    evidence_dir = Path(evidence_dir)
    catalog = load_catalog(catalog_dir)
    run = read_run(evidence_dir)
    codes, skipped = select_markets(markets, run, catalog)
    checked = integrity(evidence_dir, run, check_external=False)
    product_file = load_product(find_product_file(evidence_dir, product), catalog)
    reports = {code: market_report(code, catalog, run, checked, product_file) for code in codes}
    report_set = ReportSet(catalog=catalog, run=run, integrity=checked, reports=reports,
                           summary=_summary(catalog, run, checked, reports, skipped),
                           matrix=build_matrix(catalog, reports),
                           iso30141=build_view(catalog, reports, duts(run)))
    writers = [REPORT_WRITERS.get(name)() for name in select_formats(formats)]

    out = Path(out_dir) if out_dir is not None else evidence_dir / "reports"
    out.mkdir(parents=True, exist_ok=True)
    return [path for writer in writers for path in writer.write(report_set, out)]


def select_formats(requested: list[str] | None) -> list[str]:
    known = REPORT_WRITERS.names()
    if requested is None:
        return [*DEFAULT_FORMATS, *(name for name in known if name not in DEFAULT_FORMATS
                                    and not REPORT_WRITERS.get(name).opt_in)]
    unknown = [f for f in requested if f not in known]
    if unknown:
        raise ReportError(f"unknown report format(s) {', '.join(unknown)} "
                          f"(registered writers: {', '.join(known)})")
    return list(dict.fromkeys(requested))


def select_markets(requested: list[str] | None, run: Run,
                   catalog: Catalog) -> tuple[list[str], list[str]]:
    """(markets to report, markets the run selected that the catalog does not know)."""
    if requested is not None:
        unknown = [m for m in requested if m not in catalog.markets]
        if unknown:
            raise ReportError(f"unknown market(s) {', '.join(unknown)}; the catalog "
                              f"{catalog.label} has {', '.join(catalog.markets)}")
        return list(dict.fromkeys(requested)), []
    recorded = run.run_started.data.get("markets") if run.run_started else None
    if not isinstance(recorded, list) or not recorded:
        return list(catalog.markets), []
    codes = list(dict.fromkeys(str(m) for m in recorded))  # a journal is untrusted input
    return ([m for m in codes if m in catalog.markets],
            [m for m in codes if m not in catalog.markets])


def _summary(catalog: Catalog, run: Run, checked: dict[str, Any],
             reports: dict[str, dict[str, Any]], skipped: list[str]) -> dict[str, Any]:
    return {
        "format": {"name": "hilbench-evidence-summary", "version": REPORT_FORMAT["version"]},
        "catalog": {"id": catalog.id, "version": catalog.version},
        "run": run_header(run, catalog),
        "emulated": emulated(run),
        "emulated_devices": emulated_devices(run),
        "matrix": {"html": "matrix.html", "json": "matrix.json"},
        "iso30141": {"html": "iso30141.html", "json": "iso30141.json"},
        # Declared and reported identity per DUT, as in every market report.
        "duts": duts(run),
        "calibration_warnings": calibration_warnings(run),
        "integrity": checked,
        "tests": test_counts(run.tests),
        "markets": [{"code": code, "name": r["market_info"]["name"], "html": f"report-{code}.html",
                     "json": f"report-{code}.json", "summary": r["summary"]}
                    for code, r in reports.items()],
        "markets_not_in_catalog": skipped,
        "unknown_requirements": unknown_requirement_ids(run, catalog),
    }
