"""The accuracy-class tables (hilbench/metrology/*.toml) against the research notes they were
taken from (../shared/reference/metrology-crypto.md, relative to the repository root): every
limit, starting current and no-load constant is found in the notes' table, row and column the
row's `ref` names, with the same number. A figure changed on one side only fails here."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from hilbench import accuracy_classes

REPO = Path(__file__).resolve().parents[1]
NOTES = REPO.parent / "shared" / "reference" / "metrology-crypto.md"
TAGS = {"[V]", "[M]", "[X]", "[U]"}
NUMBER = re.compile(r"[-+±]?\d+(?:\.\d+)?")

pytestmark = pytest.mark.skipif(not NOTES.is_file(), reason=f"research notes absent: {NOTES}")


def section(text: str, number: str) -> str:
    match = re.search(rf"^###+ {re.escape(number)} .*?$(.*?)(?=^###? )", text, re.S | re.M)
    assert match, f"section {number} not found in {NOTES.name}"
    return match.group(1)


def tables(body: str) -> list[tuple[list[str], list[list[str]]]]:
    """Markdown tables of a section: (header cells, rows of cells)."""
    found, current = [], None
    for line in body.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if current is None:
                current = (cells, [])
                found.append(current)
            elif not all(set(c) <= set("-: ") for c in cells):
                current[1].append(cells)
        else:
            current = None
    return found


def cell(body: str, row: list[str], column: str) -> str:
    for header, rows in tables(body):
        if column not in header:
            continue
        for cells in rows:
            if cells[:len(row)] == row:
                return cells[header.index(column)]
    raise AssertionError(f"no table row {row} with column {column!r}")


def figure(text: str, ref: dict[str, Any]) -> str:
    body = section(text, ref["section"])
    if "text" in ref:
        assert ref["text"] in body, f"§{ref['section']} does not say {ref['text']!r}"
        return ref["text"]
    value = cell(body, ref["row"], ref["column"])
    if "part" in ref:
        value = value.split("/")[ref["part"]]
    if "key" in ref:  # "1: 0.004 Ib; 2: 0.005 Ib"
        entries = dict(item.split(":", 1) for item in value.split(";"))
        value = {k.strip(): v for k, v in entries.items()}[ref["key"]]
    return value


def numbers(text: str) -> list[float]:
    return [abs(float(n.replace("±", ""))) for n in NUMBER.findall(text)]


def rows() -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for path in sorted(accuracy_classes.TABLE_DIR.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for kind, key in (("limit", "limit_percent"), ("starting", "current"),
                          ("no_load", "duration_constant")):
            for row in data.get(kind, []):
                out.append((f"{path.stem}:{kind}:{row['class']}:{row.get('i_min', '')}:"
                            f"{'/'.join(row.get('pf', []))}", key, row))
    return out


@pytest.mark.parametrize("where, key, row", rows(), ids=[r[0] for r in rows()])
def test_table_row_agrees_with_the_notes(where: str, key: str, row: dict[str, Any]) -> None:
    text = NOTES.read_text(encoding="utf-8")
    assert row["confidence"] in TAGS and row["source"], "every row carries source and tag"
    found = figure(text, row["ref"])
    assert row[key] in numbers(found), f"{where}: table {row[key]}, notes {found!r}"
    if row.get("confidence") == "[U]":
        return
    if key == "limit_percent" and "text" not in row["ref"]:
        assert found.strip().startswith("±") or "/" in cell(
            section(text, row["ref"]["section"]), row["ref"]["row"], row["ref"]["column"])


def test_every_table_loads_with_its_requirements() -> None:
    from hilbench_reports import load_catalog

    known = set(load_catalog().requirements)
    for name in accuracy_classes.available():
        table = accuracy_classes.load(name)
        assert table.limits, name
        for key in ("requirement_error", "requirement_starting", "requirement_no_load"):
            assert table.standard[key] in known, (name, key)


def test_the_right_row_applies_at_a_load_point() -> None:
    table = accuracy_classes.load("iec62053-21")
    ib, imax = 5.0, 60.0
    assert table.limit("1", 0.25, "1", ib, imax, edition="Ed.1 2003, Table 6").limit_percent == 1.5
    assert table.limit("1", 0.5, "1", ib, imax, edition="Ed.1 2003, Table 6").limit_percent == 1.0
    assert table.limit("1", 60.0, "0.5 ind", ib, imax, edition="Ed.1 2003, Table 6") \
        .limit_percent == 1.0
    assert table.limit("1", 0.2, "1", ib, imax, edition="Ed.1 2003, Table 6") is None  # < 0.05 Ib
    assert accuracy_classes.pf_phase_deg("0.5 ind") == pytest.approx(-60.0)
    assert accuracy_classes.pf_phase_deg("0.8 cap") == pytest.approx(36.8699, abs=1e-4)
    no_load = table.no_load_row("1")
    assert no_load is not None
    # C = 600, k = 10000 imp/kWh, m = 3, Un = 230 V, Imax = 60 A: 1.449 min
    assert no_load.minimum_duration_s(10000, 3, 230.0, 60.0) == pytest.approx(86.96, abs=0.01)
