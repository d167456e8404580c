"""IEC 62056-21 protocol mode C on the meter's optical (D0) port: sign-on and
identification, the baud-rate switch after the ACK (measured on the wire), the readout's BCC,
and programming mode behind its password.

Runs on any bench whose DUT offers "iec62056-21" (an optical port: `[devices.optical]`, or
the embedded meter's emulated probe); elsewhere every test is not applicable. What the device
should announce comes from its profile's [iec62056] table when it has one.
Facts: ../shared/reference/metrology-crypto.md §5.3 (mode C table).
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

import pytest

from hilbench import Iec62056Error, ProtocolError
from hilbench.protocols import Iec62056Device
from hilbench_pytest import require

T = TypeVar("T")
pytestmark = pytest.mark.needs("iec62056-21")

MODE_C_BAUD = {"0": 300, "1": 600, "2": 1200, "3": 2400, "4": 4800, "5": 9600, "6": 19200}
AGREED_BAUD = 9600  # what the harness proposes (the EM-1 announces '5')
TIMING_TOLERANCE = 0.05  # ±5 % on the character time (issue 6)


@pytest.fixture
def optical(dut) -> Any:
    port = require(dut, Iec62056Device)
    port.use_max_baud(AGREED_BAUD)
    return port


def declared(port: Any) -> dict[str, Any]:
    settings = port.profile.data.get("iec62056")
    return settings if isinstance(settings, dict) else {}


def last_exchange(port: Any) -> dict[str, Any]:
    exchanges = [e for e in port.take_exchanges() if e["protocol"] == "iec62056-21"]
    assert exchanges, "the session left no exchange in the journal"
    return exchanges[-1]


def at_the_speed_it_talks(port: Any, evidence: Any, session: Callable[[], T]) -> T:
    """Runs `session` at the agreed baud rate; if the device did not answer at that rate
    (garbage after the switch: the claim of test_readout_switches_to_the_agreed_baud_rate),
    runs it again without a switch, so the claim under test is judged on its own."""
    try:
        return session()
    except ProtocolError as error:
        if "switch baud" not in str(error):
            raise
        evidence.observe("session at 300 baud", True, detail=f"not understood at "
                         f"{AGREED_BAUD} baud ({error}); judged at the sign-on rate instead")
        port.use_max_baud(300)
        return session()


@pytest.mark.requirement("IEC62056-21-SIGNON")
def test_sign_on_answers_the_identification(optical, evidence):
    identification = optical.identify()
    evidence.observe("identification", identification["raw"])
    assert identification["baud_character"] in MODE_C_BAUD
    want = declared(optical)
    if want:
        expected = f"/{want['manufacturer']}{want['baud_character']}{want['identifier']}"
        evidence.observe("identification as declared", identification["raw"], expected,
                         identification["raw"] == expected)
        assert identification["raw"] == expected


@pytest.mark.requirement("IEC62056-21-BAUD")
def test_readout_switches_to_the_agreed_baud_rate(optical, evidence):
    """300 -> 9600 after the ACK, measured from the readout's chunk timestamps."""
    capture = optical.transport().start_capture()
    try:
        optical.readout()
    except ProtocolError:
        pass  # a BCC finding is another test's; what came on the wire is judged below
    finally:
        chunks = capture.drain()
        optical.transport().stop_capture()
    exchange = last_exchange(optical)
    switch = exchange["fields"]["baud_switch"]
    assert switch is not None, "the harness did not switch baud (no ACK with a higher rate)"
    evidence.observe("baud switch", f"{switch['from']} -> {switch['to']}", f"300 -> {AGREED_BAUD}",
                     switch["to"] == AGREED_BAUD)
    assert switch["to"] == AGREED_BAUD
    after = [(ns, data) for direction, ns, data in chunks
             if direction == "rx" and ns >= switch["switched_ns"]]
    received = b"".join(data for _, data in after)
    evidence.observe("readout starts with STX at the agreed rate", received[:1].hex(), "02",
                     received[:1] == b"\x02")
    assert received[:1] == b"\x02", (f"not a readout at {AGREED_BAUD} baud: {received[:16].hex()}"
                                     " (the device did not switch)")
    paced = optical.resources["optical"].describe()["settings"].get("pacing", "paced") == "paced"
    if len(after) >= 3 and paced:
        character = character_time(after)
        expected = (1 + 7 + 1 + 1) / AGREED_BAUD  # 7E1: start, 7 data, parity, stop
        passed = abs(character - expected) <= TIMING_TOLERANCE * expected
        evidence.observe("character time (s)", character, expected, passed,
                         detail=f"least-squares slope over {len(received)} bytes in "
                                f"{len(after)} chunks")
        assert passed, f"character time {character * 1e3:.4f} ms, expected {expected * 1e3:.4f} ms"


def character_time(chunks: list[tuple[int, bytes]]) -> float:
    """Seconds per character: the least-squares slope of arrival time (chunk timestamps, ns)
    over the bytes received so far, so one late wake-up of the reader does not skew it."""
    points, total = [], 0
    for ns, data in chunks:
        total += len(data)
        points.append((total, ns / 1e9))
    mean_n = sum(n for n, _ in points) / len(points)
    mean_t = sum(t for _, t in points) / len(points)
    return (sum((n - mean_n) * (t - mean_t) for n, t in points)
            / sum((n - mean_n) ** 2 for n, _ in points))


def readout_message(optical: Any) -> bytes:
    try:
        return bytes(optical.readout()["message"])
    except ProtocolError as error:
        exchange = last_exchange(optical)
        if "BCC" not in str(error):
            raise
        response = bytes(exchange["response"])
        return response[response.rfind(b"\x02"):]  # the readout: from its STX


@pytest.mark.requirement("IEC62056-21-BCC")
def test_readout_bcc_is_the_xor_of_the_block(optical, evidence):
    message = at_the_speed_it_talks(optical, evidence, lambda: readout_message(optical))
    assert message[:1] == b"\x02" and message[-2:-1] == b"\x03", message[:16].hex()
    computed = 0
    for byte in message[1:-1]:  # after STX, up to and including ETX
        computed ^= byte
    evidence.observe("BCC", f"{message[-1]:02x}", f"{computed:02x}", message[-1] == computed)
    assert message[-1] == computed


@pytest.mark.requirement("IEC62056-21-PASSWORD")
def test_programming_mode_opens_with_the_password_only(optical, evidence):
    password = str(declared(optical).get("password", ""))
    if not password:
        pytest.skip("not applicable: the profile declares no programming password")

    def right() -> str:
        with optical.programming(password) as client:
            return str(client.read_register("0.9.1")["values"][0]["value"])

    clock = at_the_speed_it_talks(optical, evidence, right)
    evidence.observe("R1 0.9.1 after the right password", clock)
    wrong = password[:-1] + chr(ord(password[-1]) ^ 1)
    try:
        with optical.programming(wrong):
            refused = False
    except Iec62056Error as error:
        refused = True
        evidence.observe("wrong password", error.text, "refused", True)
    if not refused:
        evidence.observe("wrong password", "accepted", "refused", False)
    assert refused, "programming mode opened with a wrong password"
