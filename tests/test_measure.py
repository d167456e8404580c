"""Declared measurements (hilbench.measure) over the C++ core (hilbench._core.measure): the
budget and the verdicts by hand-worked figures, the fixed unit table, and the re-derivation
that `hilbench verify` applies to every `measurement` record."""

from __future__ import annotations

import math

import pytest

from hilbench import ConfigError, _core
from hilbench.measure import (UNITS, Declared, certificate, evaluate, rectangular, rederive,
                              resolution)

MPE = Declared.symmetric("error at Ib", "percentage error of active power", "P1", 1.0,
                         marginal_band=0.1, limit_source="IEC 62053-21 class 1 [M]")


def test_budget_by_hand() -> None:
    readings = [0.10, 0.12, 0.14, 0.16, 0.18]
    m = evaluate(MPE, readings, [certificate("reference", 0.08, 2.0), rectangular("phase", 0.03),
                                 resolution("digit", 0.01)])
    ua = math.sqrt(0.001) / math.sqrt(5)
    uc = math.sqrt(ua ** 2 + 0.04 ** 2 + 0.03 ** 2 / 3 + (0.01 / (2 * math.sqrt(3))) ** 2)
    budget = m.record["budget"]
    assert m.value == pytest.approx(0.14)
    assert m.record["statistics"]["stddev"] == pytest.approx(math.sqrt(0.001))
    assert budget["combined"] == pytest.approx(uc)
    assert m.expanded_uncertainty == pytest.approx(2 * uc)
    assert [c["distribution"] for c in budget["contributions"]] == [
        "type_a", "normal", "rectangular", "resolution"]
    assert budget["effective_degrees_of_freedom"] == pytest.approx(uc ** 4 / (ua ** 4 / 4))
    assert m.verdict == "pass" and not m.record["marginal"]


@pytest.mark.parametrize("value, verdict", [(0.70, "pass"), (0.95, "conditional pass"),
                                            (1.05, "conditional fail"), (1.30, "fail"),
                                            (-1.30, "fail")])
def test_guard_band_verdicts(value: float, verdict: str) -> None:
    m = evaluate(MPE, [value], [certificate("reference", 0.2, 2.0)])  # U = 0.2
    assert m.verdict == verdict, m.summary()
    assert m.passed is (verdict == "pass")


def test_simple_acceptance_and_one_sided_limits() -> None:
    pulses = Declared(name="no-load pulses", quantity="pulses", unit="C62", upper=1.0,
                      rule="simple_acceptance")
    assert evaluate(pulses, [1.0]).verdict == "pass"
    assert evaluate(pulses, [2.0]).verdict == "fail"
    near = evaluate(MPE, [0.95], [certificate("reference", 0.01)])
    assert near.verdict == "pass" and near.record["marginal"]


def test_declarations_are_checked() -> None:
    with pytest.raises(ConfigError, match="unit 'percent' is not in the unit table"):
        Declared(name="x", quantity="q", unit="percent", upper=1.0)
    with pytest.raises(ConfigError, match="decision rule"):
        Declared(name="x", quantity="q", unit="P1", upper=1.0, rule="shared_risk")
    with pytest.raises(ConfigError, match="no limit"):
        Declared(name="x", quantity="q", unit="P1")
    assert {"VLT", "AMP", "WTT", "KWH", "P1", "SEC", "HTZ"} <= set(UNITS)
    with pytest.raises(ConfigError):
        _core.measure.percentage_error(1.0, 0.0)


def test_a_record_re_derives_and_an_edited_one_does_not() -> None:
    m = evaluate(MPE, [0.9, 0.92, 0.91], [certificate("reference", 0.1)],
                 timestamps_ns=[1, 2, 3], parameters={"current_a": 5.0})
    record = m.record
    assert rederive(record) == []
    assert any("verdict" in p for p in rederive(dict(record, verdict="pass")))
    assert any("value" in p for p in rederive(dict(record, value=0.5)))
    budget = dict(record["budget"], expanded=0.01)
    assert any("expanded" in p for p in rederive(dict(record, budget=budget)))
    assert rederive({"name": "broken"})[0].startswith("measurement 'broken': cannot")
