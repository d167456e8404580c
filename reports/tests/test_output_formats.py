"""The JUnit XML and OSCAL assessment-results writers: JUnit parsed as CI systems read it,
OSCAL validated against NIST's official JSON schema (OSCAL 1.2.1, vendored in data/)."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import pytest

from hilbench_reports import build_reports

from report_runs import HOSTILE, IDENTIFICATION, NODE, RunWriter, standard_run

SCHEMA = Path(__file__).parent / "data" / "oscal_assessment-results_schema.json"
# The schema file exactly as NIST publishes it (via compliance-trestle's release-schemas/).
SCHEMA_SHA256 = "4f9e277a177adbcca9527612ce450a33dc6096773fa229d413d801d196c61985"


@pytest.fixture
def built(evidence_dir: Path, tmp_path: Path) -> Path:
    out = tmp_path / "reports"
    build_reports(evidence_dir, out, formats=["junit", "oscal"])
    return out


# --- JUnit ----------------------------------------------------------------------------------

def test_junit_has_one_testcase_per_test_with_its_requirements(built: Path) -> None:
    root = ElementTree.parse(built / "junit.xml").getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors"),
            root.get("skipped")) == ("6", "1", "0", "2")
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["suites/interface/test_modbus_interface.py"]
    cases = {c.get("name"): c for c in suites[0].findall("testcase")}
    assert list(cases) == ["test_identification[rtu]", "test_exception_01[rtu]",
                           "test_exception_02[rtu]", "test_crc[tcp]", "test_same_data[rtu]",
                           "test_same_data[tcp]"]
    ident = cases["test_identification[rtu]"]
    assert ident.get("classname") == "suites.interface.test_modbus_interface"
    assert ident.get("time") == "0.250"
    assert [p.get("value") for p in ident.iter("property") if p.get("name") == "requirement"] \
        == list(IDENTIFICATION)
    assert ident.find("failure") is None and ident.find("skipped") is None
    failure = cases["test_exception_01[rtu]"].find("failure")
    assert failure is not None and failure.get("message") == f"expected exception 01, got {HOSTILE}"
    skipped = cases["test_crc[tcp]"].find("skipped")
    assert skipped is not None and skipped.get("message") == "not applicable: no serial line"
    properties = {p.get("name"): p.get("value") for p in suites[0].find("properties") or []}
    assert properties["marking"] == "EMULATED BENCH — not certification evidence"
    assert properties["evidence_integrity"] == "ok"
    # The hostile identity string is text, never markup.
    assert b"<script>" not in (built / "junit.xml").read_bytes()


def test_junit_reports_an_interrupted_test_as_an_error_and_survives_control_bytes(tmp_path):
    writer = RunWriter(tmp_path / "e")
    writer.start()
    writer.test("test_bell", ("HB-IOP-01",), "failed", message="device said \x07\x00 then\nmore")
    writer.test("test_cut", ("HB-IOP-01",), None)
    writer.journal.close()
    build_reports(tmp_path / "e", tmp_path / "r", formats=["junit"])
    root = ElementTree.parse(tmp_path / "r" / "junit.xml").getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    failure = cases["test_bell"].find("failure")
    assert failure is not None and failure.get("message") == "device said \ufffd\ufffd then"
    assert failure.text == "device said \ufffd\ufffd then\nmore"
    error = cases["test_cut"].find("error")
    assert error is not None and "run interrupted" in error.get("message", "")
    assert root.get("errors") == "1"


# --- OSCAL ----------------------------------------------------------------------------------

def oscal_validator() -> Any:
    """Draft-07 validation, with `pattern` evaluated by the `regex` module: NIST's patterns use
    Unicode property classes (\\p{L}, \\p{N}) that Python's `re` does not know."""
    jsonschema = pytest.importorskip("jsonschema")
    regex = pytest.importorskip("regex")
    from jsonschema.exceptions import ValidationError

    def pattern(validator: Any, expression: str, instance: Any, schema: Any) -> Any:
        if validator.is_type(instance, "string") and not regex.search(expression, instance):
            yield ValidationError(f"{instance!r} does not match {expression!r}")

    schema = json.loads(SCHEMA.read_bytes())
    cls = jsonschema.validators.extend(jsonschema.Draft7Validator, {"pattern": pattern})
    return cls(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def test_the_vendored_schema_is_nists_file() -> None:
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256
    assert json.loads(SCHEMA.read_bytes())["$id"] == \
        "http://csrc.nist.gov/ns/oscal/1.2.1/oscal-ar-schema.json"


def test_oscal_assessment_results_validate_against_the_official_schema(built: Path) -> None:
    validator = oscal_validator()
    files = sorted(built.glob("oscal-*.json"))
    assert [f.name for f in files] == ["oscal-EU.json", "oscal-JP.json", "oscal-SG.json",
                                       "oscal-UK.json", "oscal-US.json"]
    for path in files:
        document = json.loads(path.read_bytes())
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
        assert not errors, f"{path.name}: " + "\n".join(
            f"{list(e.path)}: {e.message[:300]}" for e in errors[:5])


def test_oscal_findings_carry_the_verdicts(built: Path) -> None:
    document = json.loads((built / "oscal-EU.json").read_bytes())["assessment-results"]
    result = document["results"][0]
    findings = {f["target"]["target-id"]: f["target"]["status"] for f in result["findings"]}
    assert findings["MODBUS-APP-7-01"] == {"state": "not-satisfied", "reason": "fail"}
    assert findings["EN303645-5.3-16"] == {"state": "satisfied", "reason": "pass"}
    observations = {o["uuid"]: o for o in result["observations"]}
    failing = next(f for f in result["findings"]
                   if f["target"]["target-id"] == "MODBUS-APP-7-01")
    linked = [observations[r["observation-uuid"]] for r in failing["related-observations"]]
    assert [o["title"] for o in linked] == [NODE + "test_exception_01[rtu]"]
    assert all(e["description"].startswith("journal record ")
               for e in linked[0]["relevant-evidence"])
    assert "not certification evidence" in result["remarks"]


def test_the_validator_rejects_what_the_schema_forbids(built: Path) -> None:
    """The validation is live: a finding with a state OSCAL does not have, a version-1 UUID
    and a token with a space are each refused."""
    validator = oscal_validator()
    document = json.loads((built / "oscal-EU.json").read_bytes())
    finding = document["assessment-results"]["results"][0]["findings"][0]
    finding["target"]["status"]["state"] = "passed"
    finding["uuid"] = "6fa459ea-ee8a-1ca4-894e-db77e160355e"
    finding["target"]["target-id"] = "not a token"
    messages = " ".join(e.message for e in validator.iter_errors(document))
    assert "passed" in messages and "6fa459ea" in messages and "not a token" in messages


def test_same_evidence_same_bytes(evidence_dir: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    build_reports(evidence_dir, first, formats=["junit", "oscal"])
    build_reports(evidence_dir, second, formats=["junit", "oscal"])
    for path in sorted(first.iterdir()):
        assert path.read_bytes() == (second / path.name).read_bytes(), path.name


def test_a_run_without_markets_recorded_still_writes_valid_documents(tmp_path: Path) -> None:
    standard_run(tmp_path / "e", markets=["EU"]).finish()
    build_reports(tmp_path / "e", tmp_path / "r", formats=["oscal"])
    validator = oscal_validator()
    document = json.loads((tmp_path / "r" / "oscal-EU.json").read_bytes())
    assert not list(validator.iter_errors(document))
