"""NAMUR NE 43: which band a 4-20 mA loop current signals.

The band edges are a data table with their confidence tags from
../shared/reference/metrology-crypto.md section 3.3 ([V] checked against a public source,
[M] a model of ours); `classify_loop_current` only reads the table.

| band            | loop current            | tag |
|-----------------|-------------------------|-----|
| failure_low     | I <= 3.6 mA             | [V] |
| undefined_low   | 3.6 < I < 3.8 mA        | [M] |
| measurement     | 3.8 <= I <= 20.5 mA     | [V] |
| undefined_high  | 20.5 < I < 21.0 mA      | [M] |
| failure_high    | I >= 21.0 mA            | [V] |
"""

from __future__ import annotations

import math

from .protocols import Ne43Band

# (edge mA, tag). The edges belong to the band named: both failure limits are inclusive
# (<= 3.6, >= 21.0), and so are both ends of the measurement band (3.8, 20.5).
FAILURE_LOW_MAX_MA = (3.6, "[V]")
MEASUREMENT_MIN_MA = (3.8, "[V]")
MEASUREMENT_MAX_MA = (20.5, "[V]")
FAILURE_HIGH_MIN_MA = (21.0, "[V]")
# The zones in between (3.6..3.8, 20.5..21.0) are undefined: tag [M].
UNDEFINED_TAG = "[M]"


def classify_loop_current(milliamps: float) -> Ne43Band:
    """The NE 43 band of a loop current in mA. NaN is taken as no current at all
    (failure_low): a loop that cannot be read is no measurement."""
    if math.isnan(milliamps) or milliamps <= FAILURE_LOW_MAX_MA[0]:
        return "failure_low"
    if milliamps >= FAILURE_HIGH_MIN_MA[0]:
        return "failure_high"
    if milliamps < MEASUREMENT_MIN_MA[0]:
        return "undefined_low"  # [M]
    if milliamps > MEASUREMENT_MAX_MA[0]:
        return "undefined_high"  # [M]
    return "measurement"


def is_failure(band: Ne43Band) -> bool:
    return band in ("failure_low", "failure_high")
