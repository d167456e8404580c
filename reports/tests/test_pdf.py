"""The opt-in PDF writer (hilbench_reports.pdf, WeasyPrint): a market's report prints to a
PDF whose pages poppler renders (pdftoppm → PNG) and whose every page carries the emulated
run's mark; the default formats never pay for it; the same evidence gives the same bytes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from hilbench_reports import build_reports
from hilbench_reports.writers import EMULATED_BANNER

from report_runs import HOSTILE
from test_plots import plotted_run

pytestmark = pytest.mark.skipif(shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None,
                                reason="poppler-utils (pdftoppm, pdftotext) not installed")


def pdf_pages(pdf: Path) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, timeout=60, check=True).stdout
    return [page for page in text.split("\f") if page.strip()]


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run (measurements and plots, hostile strings included) printed twice: a/, b/."""
    root = tmp_path_factory.mktemp("pdf")
    plotted_run(root / "evidence")
    for name in ("a", "b"):
        written = build_reports(root / "evidence", root / name, markets=["EU"], formats=["pdf"])
        assert written == [root / name / "report-EU.pdf"]
    return root


def test_the_pdf_renders_and_marks_every_page_of_an_emulated_run(printed: Path,
                                                                  tmp_path: Path) -> None:
    pdf = printed / "a" / "report-EU.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")
    subprocess.run(["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(pdf),
                    str(tmp_path / "page")], check=True, timeout=120)
    [png] = tmp_path.glob("page*.png")
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 2000
    pages = pdf_pages(pdf)
    assert len(pages) > 1
    stamp = EMULATED_BANNER.split("—")[1].strip()  # "not certification evidence"
    assert all(stamp in " ".join(page.split()) for page in pages)
    text = " ".join(" ".join(pages).split())
    assert HOSTILE in text  # a device's string is printed as text, not run as markup
    assert "IEC62053-21-ERR" in text and "conditional pass" in text


def test_the_pdf_is_opt_in_and_prints_the_same_pages_again(printed: Path, tmp_path: Path) -> None:
    default = build_reports(printed / "evidence", tmp_path / "default", markets=["EU"])
    assert not [p for p in default if p.suffix == ".pdf"]
    # The same text on the same pages. (The bytes may differ: WeasyPrint 70's font subsets
    # are not always written in one order, so `hilbench verify` never compares PDF bytes;
    # the pdf writer is not a default one, and the HTML it prints is byte-identical.)
    assert pdf_pages(printed / "a" / "report-EU.pdf") == pdf_pages(printed / "b" / "report-EU.pdf")
