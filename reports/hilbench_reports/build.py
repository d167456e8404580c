"""Per-market evidence reports: a pure function of (evidence directory, catalog).

Writes, into `out_dir` (default EVIDENCE_DIR/reports):
  report-<MARKET>.html / report-<MARKET>.json   one per market
  index.html                                     links the market reports
  summary.json                                   run, integrity and per-market counts
Nothing depends on the clock, the host or files outside the evidence directory: the same
inputs give byte-identical outputs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from .errors import ReportError
from .evidence import Run, read_run
from .model import (REPORT_FORMAT, STATUS_LEGEND, STATUSES, emulated, market_report,
                    record_view, run_header, test_counts, unknown_requirement_ids)
from .requirement_catalog import Catalog, load_catalog
from .verify import integrity

TEMPLATES = Path(__file__).resolve().parent / "templates"
EMULATED_BANNER = "EMULATED BENCH — not certification evidence"


def build_reports(evidence_dir: Path, out_dir: Path | None = None,
                  markets: list[str] | None = None,
                  catalog_dir: Path | None = None) -> list[Path]:
    """Builds every market report of the run; returns the files written (index.html first)."""
    evidence_dir = Path(evidence_dir)
    catalog = load_catalog(catalog_dir)
    run = read_run(evidence_dir)
    codes, skipped = select_markets(markets, run, catalog)
    checked = integrity(evidence_dir, run, check_external=False)
    reports = {code: market_report(code, catalog, run, checked) for code in codes}

    out = Path(out_dir) if out_dir is not None else evidence_dir / "reports"
    out.mkdir(parents=True, exist_ok=True)
    env = _environment()
    common = _common_context(catalog, run, checked)
    summary = _summary(catalog, run, checked, reports, skipped)
    written = [
        _write(out / "index.html",
               env.get_template("index.html").render(summary=summary, **common)),
        _write(out / "summary.json", _json(summary)),
    ]
    for code, report in reports.items():
        records = [record_view(run.by_seq[seq]) for seq in report["appendix"]]
        by_id = {r["id"]: r for r in report["requirements"]}
        html = env.get_template("market.html").render(report=report, records=records,
                                                      by_id=by_id, **common)
        written.append(_write(out / f"report-{code}.html", html))
        written.append(_write(out / f"report-{code}.json", _json(report)))
    return written


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
    known = [m for m in dict.fromkeys(map(str, recorded)) if m in catalog.markets]
    return known, [str(m) for m in recorded if m not in catalog.markets]


def _summary(catalog: Catalog, run: Run, checked: dict[str, Any],
             reports: dict[str, dict[str, Any]], skipped: list[str]) -> dict[str, Any]:
    return {
        "format": {"name": "hilbench-evidence-summary", "version": REPORT_FORMAT["version"]},
        "catalog": {"id": catalog.id, "version": catalog.version},
        "run": run_header(run, catalog),
        "emulated": emulated(run),
        "integrity": checked,
        "tests": test_counts(run.tests),
        "markets": [{"code": code, "name": r["market_info"]["name"], "html": f"report-{code}.html",
                     "json": f"report-{code}.json", "summary": r["summary"]}
                    for code, r in reports.items()],
        "markets_not_in_catalog": skipped,
        "unknown_requirements": unknown_requirement_ids(run, catalog),
    }


def _common_context(catalog: Catalog, run: Run, checked: dict[str, Any]) -> dict[str, Any]:
    return {
        "catalog": catalog,
        "statuses": STATUSES,
        "status_legend": STATUS_LEGEND,
        "emulated_banner": EMULATED_BANNER,
        "journal": checked["journal"],
        "files": checked["files"],
        "evidence_ok": checked["ok"],
    }


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True,
                      undefined=StrictUndefined, keep_trailing_newline=True,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["slug"] = _slug
    env.filters["short"] = lambda h: (h or "")[:12]
    env.filters["jsonv"] = lambda v: v if isinstance(v, str) else json.dumps(
        v, sort_keys=True, ensure_ascii=False)
    return env


def _slug(text: str) -> str:
    """A status or ID as a CSS class / fragment-safe token."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path
