"""JUnit XML for CI systems: one `junit.xml` per run, a <testsuite> per test file and a
<testcase> per test, its requirement IDs as <property name="requirement">, failures, errors
and skips with their messages. The schema CI systems read is the de-facto one of pytest's
and Ant's junitxml (testsuites/testsuite/testcase with failure/error/skipped children).

Outcomes: failed -> <failure>; error, and a test the journal ends inside (run interrupted) ->
<error>; skipped and not applicable -> <skipped>. A pure function of the report data: times
come from the journal, never from the clock.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from pathlib import Path

from .evidence import TestResult
from .writers import EMULATED_BANNER, ReportSet, ReportWriter, write_text

JUNIT_NAME = "junit.xml"
# XML 1.0 forbids most control characters even escaped; a device's answer may hold them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_KIND = {"failed": "failure", "error": "error", "unfinished": "error",
         "skipped": "skipped", "not_applicable": "skipped"}


class JunitWriter(ReportWriter):
    name = "junit"

    def write(self, reports: ReportSet, out: Path) -> list[Path]:
        run = reports.run
        by_file: dict[str, list[TestResult]] = defaultdict(list)
        for test in run.tests:
            by_file[test.nodeid.split("::", 1)[0]].append(test)
        started = run.records[0].wall if run.records else ""
        root = ElementTree.Element("testsuites", {"name": "hilbench"})
        totals = _counts(list(run.tests))
        _set_counts(root, totals)
        for file_name in sorted(by_file):
            tests = by_file[file_name]
            suite = ElementTree.SubElement(root, "testsuite", {"name": file_name})
            _set_counts(suite, _counts(tests))
            if started:
                suite.set("timestamp", started.rstrip("Z").split(".")[0])
            properties = ElementTree.SubElement(suite, "properties")
            header = reports.summary.get("run", {})
            for name, value in (("run_id", header.get("run_id")),
                                ("catalog", reports.catalog.label),
                                ("hilbench_version", header.get("hilbench_version")),
                                ("journal_head", reports.integrity["journal"].get("head_hash")),
                                ("evidence_integrity", "ok" if reports.integrity["ok"]
                                 else "FAILED"),
                                ("marking", EMULATED_BANNER if reports.summary.get("emulated")
                                 else None)):
                if value is not None:
                    _property(properties, name, str(value))
            for test in tests:
                _testcase(suite, file_name, test)
        ElementTree.indent(root)
        text = ElementTree.tostring(root, encoding="unicode")
        return [write_text(out / JUNIT_NAME, '<?xml version="1.0" encoding="utf-8"?>\n'
                           + text + "\n")]


def _testcase(suite: ElementTree.Element, file_name: str, test: TestResult) -> None:
    parts = test.nodeid.split("::")
    module = file_name[:-3] if file_name.endswith(".py") else file_name
    classname = ".".join([module.replace("/", "."), *parts[1:-1]])
    case = ElementTree.SubElement(suite, "testcase", {
        "classname": classname, "name": parts[-1], "file": file_name,
        "time": f"{test.duration_s or 0.0:.3f}"})
    properties = ElementTree.SubElement(case, "properties")
    for requirement in test.requirements:
        _property(properties, "requirement", requirement)
    record = test.finished or test.started
    if record is not None:
        _property(properties, "journal_record", f"{record.seq} sha256:{record.hash}")
    kind = _KIND.get(test.outcome)
    if test.outcome not in ("passed", *_KIND):
        kind = "error"
    if kind is not None:
        message = _clean(test.message or test.outcome.replace("_", " "))
        if test.outcome == "not_applicable" and not message.startswith("not applicable"):
            message = f"not applicable: {message}"
        element = ElementTree.SubElement(case, kind, {"message": message.splitlines()[0]
                                                      if message else "", "type": test.outcome})
        element.text = message


def _counts(tests: list[TestResult]) -> dict[str, str]:
    kinds = [_KIND.get(t.outcome, None if t.outcome == "passed" else "error") for t in tests]
    return {"tests": str(len(tests)), "failures": str(kinds.count("failure")),
            "errors": str(kinds.count("error")), "skipped": str(kinds.count("skipped")),
            "time": f"{sum(t.duration_s or 0.0 for t in tests):.3f}"}


def _set_counts(element: ElementTree.Element, counts: dict[str, str]) -> None:
    for key in ("tests", "failures", "errors", "skipped", "time"):
        element.set(key, counts[key])


def _property(parent: ElementTree.Element, name: str, value: str) -> None:
    ElementTree.SubElement(parent, "property", {"name": name, "value": _clean(value)})


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)
