"""report-<MARKET>.pdf: each market's HTML report printed by WeasyPrint (opt-in: about ten
seconds of CPU per market, so `hilbench report --formats html,json,pdf` or
`build_reports(formats=[..., "pdf"])` asks for it).

The PDF is the HTML page as printed (base.html's print styles): the page stamp "EMULATED
BENCH — not certification evidence" of an emulated run sits in every page's top margin
(`@page @top-center`), the plots are the same inline SVG. The same evidence prints the
same text on the same pages; the bytes may differ between two builds (WeasyPrint 70 does not
always write its font subsets in one order), which is why the PDF is not a default format
and `hilbench verify` re-derives the HTML and JSON, never the PDF.
"""

from __future__ import annotations

from pathlib import Path

from .errors import ReportError
from .writers import HtmlPages, ReportSet, ReportWriter

# On paper: landscape A4 for the wide requirement tables, cells that may wrap anywhere
# (hashes, node ids: else a table runs off the page), figures at the cell's width; the emulated run's stamp lives in every page's
# margin box (base.html's @page rule), so the on-screen sticky stamp is not drawn over it.
PRINT_CSS = """
@page { size: A4 landscape; margin: 16mm 10mm 14mm 10mm; }
body { max-width: none; margin: 0; font-size: 9pt; }
table { width: 100%; }
td, th, dd, code, .mono { overflow-wrap: anywhere; word-break: break-word; }
.page-stamp { display: none; }
figure.plot svg { width: 100%; height: auto; }
"""


class PdfWriter(ReportWriter):
    name = "pdf"
    opt_in = True

    def write(self, reports: ReportSet, out: Path) -> list[Path]:
        try:
            from weasyprint import HTML  # noqa: PLC0415  (optional: only for this writer)
        except ImportError as error:  # pango or the package itself missing
            raise ReportError(f"the pdf writer needs WeasyPrint (pip install weasyprint; "
                              f"Debian libpango-1.0-0): {error}") from None
        from weasyprint import CSS  # noqa: PLC0415

        paper = CSS(string=PRINT_CSS)
        pages = HtmlPages(reports)
        written = []
        for code in reports.reports:
            target = out / f"report-{code}.pdf"
            # base_url: the report's own folder; the page links nothing outside itself.
            HTML(string=pages.market(code), base_url=str(out)).write_pdf(target,
                                                                       stylesheets=[paper])
            written.append(target)
        return written
