"""The HTML reports as a person sees them: headless Chromium (Debian's chromium and
chromium-driver, driven by Selenium) opens them from disk, offline. The key sections are
visible, the console has no error, a device's hostile identity string is shown as text and
never runs, and a screenshot is kept for a person to look at."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterator

import pytest

from hilbench_reports import build_reports

from report_runs import HOSTILE

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
# Kept after the run for a person to look at (out/ is gitignored).
SCREENSHOTS = Path(__file__).resolve().parents[2] / "out" / "screenshots"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs Debian's chromium and chromium-driver (ci/lib.sh installs them)")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,2000",
                     "--disable-background-networking", "--no-first-run"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _open(driver: object, page: Path) -> None:
    driver.get(page.as_uri())  # type: ignore[attr-defined]


def _console_errors(driver: object) -> list[dict]:
    return [entry for entry in driver.get_log("browser")  # type: ignore[attr-defined]
            if entry.get("level") == "SEVERE"]


def test_market_report_renders_offline_with_its_sections_and_no_console_error(
        browser, evidence_dir: Path) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    build_reports(evidence_dir, formats=["html"])
    page = evidence_dir / "reports" / "report-EU.html"
    _open(browser, page)
    body = browser.find_element(By.TAG_NAME, "body")
    assert browser.find_element(By.TAG_NAME, "h1").is_displayed()
    for section in ("run", "summary", "requirements", "appendix"):
        assert browser.find_element(By.ID, section).is_displayed(), section
    assert browser.find_element(By.ID, "req-MODBUS-APP-7-01").is_displayed()
    text = body.text
    assert "not certification evidence" in text
    # The identity string a device reported is text on the page, not markup that ran.
    assert HOSTILE in text
    assert browser.find_elements(By.TAG_NAME, "script") == []
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text
    assert _console_errors(browser) == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "report-EU.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000

    _open(browser, evidence_dir / "reports" / "index.html")
    assert browser.find_element(By.ID, "markets").is_displayed()
    links = [a.get_attribute("href") for a in browser.find_elements(By.TAG_NAME, "a")]
    assert any(link and link.endswith("report-EU.html") for link in links)
    assert _console_errors(browser) == []
    assert browser.save_screenshot(str(SCREENSHOTS / "index.png"))
