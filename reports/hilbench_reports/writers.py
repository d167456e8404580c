"""Report writers: one output format each, registered in the entry-point group
"hilbench.report_writers" (ours in pyproject.toml, a plug-in's in its own).

A writer gets the finished ReportSet — the same plain data for every format — and writes
its files into the output folder. It must be a pure function of that data: no clock, no
host, no device, so the same evidence gives byte-identical reports.
"""

from __future__ import annotations

import abc
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from hilbench.registry import Registry

from .evidence import Run
from .model import STATUS_LEGEND, STATUSES, record_view
from .plots import requirement_figures
from .requirement_catalog import Catalog

TEMPLATES = Path(__file__).resolve().parent / "templates"
EMULATED_BANNER = "EMULATED BENCH — not certification evidence"


@dataclass(frozen=True)
class ReportSet:
    """Everything a writer may use: the run as read, and the per-market report data."""

    catalog: Catalog
    run: Run
    integrity: dict[str, Any]
    summary: dict[str, Any]  # run, integrity and per-market counts (summary.json)
    reports: dict[str, dict[str, Any]]  # market code -> market report data (report-XX.json)
    matrix: dict[str, Any] = field(default_factory=dict)  # the compliance matrix (matrix.json)
    iso30141: dict[str, Any] = field(default_factory=dict)  # the ISO/IEC 30141 view


class ReportWriter(abc.ABC):
    name: ClassVar[str]  # the registry key, also accepted by `build_reports(formats=...)`
    # Opt-in writers run only when asked for by name (`--formats`), never by default: the
    # PDF costs seconds of CPU per market.
    opt_in: ClassVar[bool] = False

    @abc.abstractmethod
    def write(self, reports: ReportSet, out: Path) -> list[Path]:
        """Writes this format's files into `out`; returns them, the entry page first."""


def _is_writer(item: object) -> bool:
    return isinstance(item, type) and issubclass(item, ReportWriter)


REPORT_WRITERS: Registry[type[ReportWriter]] = Registry(
    "hilbench.report_writers", _is_writer, "a hilbench_reports.writers.ReportWriter subclass")


class HtmlWriter(ReportWriter):
    """index.html (links the market reports) and report-<MARKET>.html, Jinja2 autoescaped."""

    name = "html"

    def write(self, reports: ReportSet, out: Path) -> list[Path]:
        pages = HtmlPages(reports)
        written = [write_text(out / "index.html", pages.index())]
        for code in reports.reports:
            written.append(write_text(out / f"report-{code}.html", pages.market(code)))
        for name in ("matrix", "iso30141"):
            written.append(write_text(out / f"{name}.html", pages.view(name)))
        return written


class HtmlPages:
    """The HTML pages of a ReportSet, rendered on demand (the html and pdf writers share
    them); a requirement's figures are drawn once for every market that lists it."""

    def __init__(self, reports: ReportSet) -> None:
        self.reports = reports
        self.env = _environment()
        self.figures: dict[str, list[dict[str, str]]] = {}
        self.common = {
            "catalog": reports.catalog, "statuses": STATUSES, "status_legend": STATUS_LEGEND,
            "emulated_banner": EMULATED_BANNER, "journal": reports.integrity["journal"],
            "files": reports.integrity["files"], "evidence_ok": reports.integrity["ok"],
            # Every page of an emulated run carries the mark (screen: sticky; print: fixed).
            "stamp": EMULATED_BANNER if reports.summary.get("emulated") else "",
            "emulated_devices": reports.summary.get("emulated_devices", []),
        }

    def index(self) -> str:
        return self.env.get_template("index.html").render(summary=self.reports.summary,
                                                          **self.common)

    def market(self, code: str) -> str:
        report = self.reports.reports[code]
        records = [record_view(self.reports.run.by_seq[seq]) for seq in report["appendix"]]
        by_id = {r["id"]: r for r in report["requirements"]}
        for requirement in report["requirements"]:
            if requirement["id"] not in self.figures:
                self.figures[requirement["id"]] = requirement_figures(requirement,
                                                                      self.reports.run.by_seq)
        return self.env.get_template("market.html").render(
            report=report, records=records, by_id=by_id, figures=self.figures, **self.common)

    def view(self, name: str) -> str:
        data = {"matrix": self.reports.matrix, "iso30141": self.reports.iso30141}[name]
        return self.env.get_template(f"{name}.html").render(view=data,
                                                             summary=self.reports.summary,
                                                             **self.common)


class JsonWriter(ReportWriter):
    """summary.json and report-<MARKET>.json: the report data itself, for machines."""

    name = "json"

    def write(self, reports: ReportSet, out: Path) -> list[Path]:
        written = [write_text(out / "summary.json", to_json(reports.summary))]
        for code, report in reports.reports.items():
            written.append(write_text(out / f"report-{code}.json", to_json(report)))
        written.append(write_text(out / "matrix.json", to_json(reports.matrix)))
        written.append(write_text(out / "iso30141.json", to_json(reports.iso30141)))
        return written


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


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_text(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path
