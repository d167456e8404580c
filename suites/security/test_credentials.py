"""No universal default password on the DUT's login surfaces (issue 12).

Every universal default of the data list (hilbench/security/default-credentials.toml, each
list citing its source) is tried on each login surface the DUT offers; none may open it.
Surfaces so far: the IEC 62056-21 P1 password of the optical port (`needs("iec62056-21")`),
tried at the sign-on rate (300 baud) so a baud-switch defect cannot hide the answer. The
passwords tried are published defaults; the unit's own password is never tried or recorded
here (P1 operands are redacted in the journal's exchanges).

Knob: `universal_password` (P1 also opens with 00000000) fails this test and nothing else;
`iec_password_not_checked` (P1 opens with anything) fails it too, rightly.
"""

from __future__ import annotations

from typing import Any

import pytest

from hilbench import Iec62056Error
from hilbench.protocols import Iec62056Device
from hilbench.security.credentials import try_default_credentials
from hilbench_pytest import require

# Every market's "no universal default password" requirement whose scope is that property
# (catalog property CL-01). Not claimed: SG-CLS-L1 and KR-IoTSC-LITE cover more than it;
# UK-PSTI-S1.1, since smart meters are excluded from PSTI (catalog UK scope note).
NO_UNIVERSAL_PASSWORD = (
    "EN303645-5.1-1", "EN303645-5.1-2", "EN18031-AUM-5-1", "US-CA327(b)",
    "US-8425-D4", "US-8259A-4", "JP-S1.1-02", "AU-SDR-C2", "BR-2436-FACTPW",
    "CN-41387-6.3.6(b)", "IN-TEC-CoP-1", "FI-TRAF-1", "VN-QCVN11-PW", "DE-LABEL-IoT-ACC",
)


@pytest.mark.needs("iec62056-21")
@pytest.mark.requirement(*NO_UNIVERSAL_PASSWORD)
def test_no_universal_default_password_opens_the_optical_port(dut: Any, evidence: Any) -> None:
    port = require(dut, Iec62056Device)
    port.use_max_baud(300)

    def login(user: str, password: str) -> bool:
        try:
            with port.programming(password):
                return True
        except Iec62056Error:
            return False

    findings = try_default_credentials("iec62056-21 P1", login, "password-only")
    evidence.observe("universal default passwords accepted by P1",
                     [f.password for f in findings], [], not findings)
    assert not findings, (
        f"programming mode opened with universal default(s) {[f.password for f in findings]} "
        f"({findings[0].source})")
