"""The requirement catalog: loads, validates, and holds the IDs the suites and markets need."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hilbench_reports import CatalogError, load_catalog
from hilbench_reports.requirement_catalog import CONFIDENCE_TAGS, DEFAULT_CATALOG_DIR

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
