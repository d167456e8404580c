"""Plots inlined in the HTML reports (hilbench_reports.plots): a requirement's measurements
against their limits, latency histograms and clock offset, drawn from the journal alone, as
SVG that is byte-identical when re-derived, escapes what devices and tests wrote, and never
shares an id with another figure of the page."""

from __future__ import annotations

import re
from pathlib import Path

from hilbench.measure import Declared, evaluate, rectangular
from hilbench_reports import build_reports

from report_runs import HOSTILE, RunWriter

NODE = "suites/metrology/test_meter_accuracy.py::"
MATH = "$\\frac{1}{0}$"  # mathtext would render (or choke on) this; it must stay text


def plotted_run(directory: Path) -> None:
    writer = RunWriter(directory)
    writer.start(markets=["EU"])
    nodeid = NODE + "test_error_within_class_at_load_point"
    writer.append("test_started", {"nodeid": nodeid, "requirements": ["IEC62053-21-ERR"],
                                   "duts": ["em1"]})
    evidence = []
    for point, (error, u) in enumerate([(0.12, 0.05), (-0.3, 0.04), (0.95, 0.1)]):
        declared = Declared.symmetric(f"error at point {point} {HOSTILE}",
                                      "percentage error of active power", "P1", 1.0,
                                      rule="guard_band")
        measured = evaluate(declared, [error], [rectangular("reference", u)], nodeid=nodeid)
        evidence.append(writer.append("measurement", measured.record))
    evidence.append(writer.append("observation", {
        "nodeid": nodeid, "name": f"latency histogram (plot data): {HOSTILE} {MATH}",
        "value": {"plot": "latency-histogram", "what": f"modbus {HOSTILE}", "unit": "ns",
                  "to_first_byte": {"buckets": [[900_000, 3], [1_200_000, 5], [4_000_000, 1]],
                                    "summary": {"p50_ns": 1_200_000, "p99_ns": 4_000_000}},
                  "to_last_byte": {"buckets": [[20_000_000, 9]], "summary": {}}},
        "expected": None, "passed": None, "detail": ""}))
    evidence.append(writer.append("observation", {
        "nodeid": nodeid, "name": "clock offset over time (plot data)",
        "value": {"plot": "clock-offset", "unit": "s", "readings": [
            {"host_monotonic_ns": 10**9 * i, "offset_s": 1.5 + 0.001 * i, "u_s": 0.0005}
            for i in range(4)]},
        "expected": None, "passed": None, "detail": ""}))
    # Plot data a hostile or broken journal could carry: skipped, never a crash.
    evidence.append(writer.append("observation", {
        "nodeid": nodeid, "name": "broken plot data",
        "value": {"plot": "latency-histogram", "to_first_byte": {"buckets": [["x", None], [1]]}},
        "expected": None, "passed": None, "detail": ""}))
    writer.append("test_finished", {"nodeid": nodeid, "outcome": "failed",
                                    "requirements": ["IEC62053-21-ERR"], "duts": ["em1"],
                                    "duration_s": 1.0, "message": "", "evidence": evidence})
    writer.finish()


def test_a_requirement_shows_its_measurements_latency_and_clock_plots(tmp_path: Path) -> None:
    plotted_run(tmp_path / "evidence")
    build_reports(tmp_path / "evidence", tmp_path / "a", markets=["EU"])
    html = (tmp_path / "a" / "report-EU.html").read_text()
    figures = re.findall(r'<figure class="plot">(.*?)</figure>', html, re.S)
    assert len(figures) == 3  # measurements, latency, clock; the broken data drew nothing
    assert all(f.lstrip().startswith("<svg") for f in figures)
    assert "<?xml" not in html and "DOCTYPE svg" not in html
    # What devices and tests wrote is text in the SVG, escaped, and mathtext stays off.
    assert HOSTILE not in html and "&lt;script&gt;" in figures[1]
    assert "mathdefault" not in html and "frac" in html
    # No two elements of the page share an id (each figure's are prefixed).
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))
    # The measurement plot: each point coloured by its verdict (0.95 +- U reaches the limit).
    assert "#1a7f37" in figures[0] and "#bf8700" in figures[0]


def test_plots_are_a_pure_function_of_the_evidence(tmp_path: Path) -> None:
    plotted_run(tmp_path / "evidence")
    build_reports(tmp_path / "evidence", tmp_path / "a", markets=["EU"])
    build_reports(tmp_path / "evidence", tmp_path / "b", markets=["EU"])
    assert (tmp_path / "a" / "report-EU.html").read_bytes() == \
        (tmp_path / "b" / "report-EU.html").read_bytes()


def test_a_single_measurement_is_a_table_row_not_a_plot(evidence_dir: Path) -> None:
    build_reports(evidence_dir, markets=["EU"])
    assert '<figure class="plot">' not in (evidence_dir / "reports" / "report-EU.html").read_text()
