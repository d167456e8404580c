"""The requirement catalog: loads, validates, and holds the IDs the suites and markets need."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hilbench_reports import CatalogError, load_catalog
from hilbench_reports.requirement_catalog import CONFIDENCE_TAGS, DEFAULT_CATALOG_DIR, \
    internal_citations

INTEROP = ("MODBUS-APP-7-01", "MODBUS-APP-7-02", "MODBUS-APP-7-03", "MODBUS-APP-6.21",
           "MODBUS-SL-CRC", "HB-IOP-01", "MODBUS-TCP-MBAP", "MODBUS-SL-ADDR", "MODBUS-APP-RESP",
           "MODBUS-APP-WRITE", "HB-DATA-01")


def test_catalog_has_id_version_and_the_markets() -> None:
    catalog = load_catalog()
    assert catalog.id and catalog.version
    assert catalog.label == f"{catalog.id}@{catalog.version}"
    assert {"EU", "UK", "US", "JP"} <= set(catalog.markets)


def test_interoperability_requirements_apply_to_every_market() -> None:
    catalog = load_catalog()
    for rid in INTEROP:
        requirement = catalog.requirements[rid]
        assert set(requirement.markets) == set(catalog.markets)
        assert requirement.confidence == "[U]"  # clause numbers not verified


@pytest.mark.parametrize("rid, market, confidence", [
    ("EN303645-5.3-16", "EU", "[S]"), ("EN303645-5.13-1B", "EU", "[S]"),
    ("EN18031-GEC-6", "EU", "[U]"), ("WELMEC-P2", "EU", "[V]"), ("US-8425-D1", "US", "[S]"),
    ("US-8259A-1", "US", "[V]"), ("JP-S1.1-16", "JP", "[S]"), ("UK-PSTI-S1.1", "UK", "[V]"),
    ("UK-PSTI-S1.2", "UK", "[V]"), ("UK-PSTI-S1.3", "UK", "[V]"), ("JP-S1.1-10", "JP", "[U]"),
])
def test_mapped_requirements_carry_market_and_tag_from_the_notes(rid: str, market: str,
                                                                 confidence: str) -> None:
    requirement = load_catalog().requirements[rid]
    assert market in requirement.markets
    assert requirement.confidence == confidence


def test_every_requirement_is_complete() -> None:
    for requirement in load_catalog().requirements.values():
        assert requirement.confidence in CONFIDENCE_TAGS
        assert requirement.title and requirement.clause and requirement.section
        assert requirement.mode and requirement.markets


def test_suite_ids_are_all_in_the_catalog() -> None:
    catalog = load_catalog()
    suite_ids = INTEROP + ("EN303645-5.3-16", "US-8425-D1", "US-8259A-1", "JP-S1.1-16",
                           "WELMEC-P2", "EN303645-5.13-1B", "EN18031-GEC-6")
    assert [rid for rid in suite_ids if rid not in catalog.requirements] == []


def copy_catalog(tmp_path: Path) -> Path:
    target = tmp_path / "catalog"
    shutil.copytree(DEFAULT_CATALOG_DIR, target)
    return target


def test_duplicate_id_is_an_error(tmp_path: Path) -> None:
    directory = copy_catalog(tmp_path)
    path = directory / "uk-psti.toml"
    path.write_text(path.read_text(encoding="utf-8").replace('id = "UK-PSTI-SOC"',
                                                             'id = "UK-PSTI-S1.1"'),
                    encoding="utf-8")
    with pytest.raises(CatalogError, match="UK-PSTI-S1.1 is defined twice"):
        load_catalog(directory)


def test_unknown_confidence_tag_is_an_error(tmp_path: Path) -> None:
    directory = copy_catalog(tmp_path)
    path = directory / "jp-jcstar.toml"
    path.write_text(path.read_text(encoding="utf-8").replace('confidence = "[U]"',
                                                             'confidence = "[?]"', 1),
                    encoding="utf-8")
    with pytest.raises(CatalogError, match=r"jp-jcstar.toml requirement JP-S1.1-06: confidence"):
        load_catalog(directory)


def test_unknown_market_is_an_error(tmp_path: Path) -> None:
    directory = copy_catalog(tmp_path)
    path = directory / "sg-cls.toml"
    text = path.read_text(encoding="utf-8").replace('markets = ["SG"]', 'markets = ["XX"]')
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError, match="unknown market"):
        load_catalog(directory)


# ---- the 15-market catalog (issue 13) ----------------------------------------------------
FIFTEEN = ("EU", "UK", "US", "SG", "JP", "KR", "CN", "IN", "AU", "BR", "CA", "DE", "FI", "AE",
           "SA")


def test_catalog_covers_the_fifteen_markets_each_with_requirements() -> None:
    catalog = load_catalog()
    assert set(FIFTEEN) <= set(catalog.markets)
    for code in FIFTEEN:
        own = [r for r in catalog.for_market(code) if r.scheme not in (
            "INTEROP-MODBUS", "ISO-IEC-30141", "METRO-IEC60770")]
        assert own, code
        assert catalog.markets[code].status, code


def test_version_was_bumped_for_the_new_markets() -> None:
    assert load_catalog().version != "2026.12.0"


def test_every_requirement_has_a_kind_and_a_public_source() -> None:
    catalog = load_catalog()
    for requirement in catalog.requirements.values():
        assert requirement.kind in ("bench-testable", "documentary"), requirement.id
    assert all(scheme.source for scheme in catalog.schemes)
    # Sources are the regulation or standard and its clause, never our research notes.
    assert internal_citations(catalog) == []


def test_an_internal_note_cited_as_a_source_is_found(tmp_path: Path) -> None:
    directory = copy_catalog(tmp_path)
    path = directory / "au-sdr.toml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        'clause = "Security Standards for Smart Devices Rules 2025, Schedule 1 clause 2"',
        'clause = "markets.md §10"'), encoding="utf-8")
    assert internal_citations(load_catalog(directory)) == ["requirement AU-SDR-C2 clause"]


@pytest.mark.parametrize("rid, kind, prop", [
    ("UK-PSTI-S1.1", "bench-testable", "CL-01"), ("UK-PSTI-S1.2", "documentary", "CL-06"),
    ("AU-SDR-C2", "bench-testable", "CL-01"), ("AU-SDR-C4", "documentary", "CL-07"),
    ("BR-2436-FACTPW", "bench-testable", "CL-01"), ("CN-41387-6.3.7", "bench-testable", "CL-17"),
    ("CRA-ART14", "documentary", "CL-25"), ("SA-NCA-IOT-GOV", "documentary", "CL-24"),
    ("IEC62053-21-ERR", "bench-testable", "MT-01"), ("EN50470-3-MPE", "bench-testable", "MT-01"),
    ("C12.20-ACC", "bench-testable", "MT-01"), ("IEC62054-21-ACC", "bench-testable", "MT-05"),
    ("IEC60770-1-HYST", "bench-testable", "MT-06"), ("ISO30141-TW-AVAIL", "bench-testable", "CL-16"),
    ("MODBUS-APP-WRITE", "bench-testable", "IO-01"),
])
def test_requirements_carry_kind_and_canonical_property(rid: str, kind: str, prop: str) -> None:
    requirement = load_catalog().requirements[rid]
    assert requirement.kind == kind
    assert requirement.canonical_property == prop


def test_confidence_tags_of_new_markets_are_kept() -> None:
    catalog = load_catalog()
    assert catalog.requirements["AU-SDR-C2"].confidence == "[V]"
    assert catalog.requirements["KR-IoTSC-LITE"].confidence == "[S]"
    assert catalog.requirements["DE-TR03109-1-IF"].confidence == "[U]"
    assert catalog.requirements["IEC62053-21-ERR"].confidence == "[M]"  # metrology tag kept


def test_germany_and_finland_include_the_eu_requirements() -> None:
    catalog = load_catalog()
    assert {"EU", "DE", "FI"} <= set(catalog.requirements["CRA-I.2(d)"].markets)
    assert "DE" not in catalog.requirements["UK-PSTI-S1.1"].markets
    assert "FI" not in catalog.requirements["DE-TR03148-ACC"].markets


def test_schemes_carry_status_and_dates() -> None:
    schemes = {s.id: s for s in load_catalog().schemes}
    assert schemes["EU-CRA"].applies_from == "2027-12-11"
    assert ("2026-09-11", "Art. 14 reporting of actively exploited vulnerabilities applies") in \
        schemes["EU-CRA"].milestones
    assert schemes["AU-SDR"].applies_from == "2026-03-04"
    assert "stalled" in schemes["US-NISTIR8425"].status
    assert load_catalog().requirements["CRA-ART14"].applies_from == "2026-09-11"


def test_a_property_resolves_to_the_bench_testable_requirements_it_heads() -> None:
    catalog = load_catalog()
    by_id, unknown = catalog.resolve(["CL-01"])
    by_name, _ = catalog.resolve(["no-universal-default-passwords"])
    assert by_id == by_name and unknown == []
    assert {"UK-PSTI-S1.1", "AU-SDR-C2", "EN303645-5.1-1", "BR-2436-FACTPW"} <= set(by_id)
    assert all(catalog.requirements[r].bench_testable for r in by_id)
    assert catalog.resolve(["CL-06"])[0] == []  # vulnerability disclosure: documentary only
    assert catalog.resolve(["UK-PSTI-S1.1", "nope"]) == (["UK-PSTI-S1.1"], ["nope"])


def test_an_undefined_property_is_an_error(tmp_path: Path) -> None:
    directory = copy_catalog(tmp_path)
    path = directory / "au-sdr.toml"
    path.write_text(path.read_text(encoding="utf-8").replace('clusters = ["CL-01"]',
                                                             'clusters = ["CL-99"]', 1),
                    encoding="utf-8")
    with pytest.raises(CatalogError, match="CL-99 is not defined"):
        load_catalog(directory)
