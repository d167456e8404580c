"""IEC 62056-21 mode C end to end, and cross-checked with independent code.

The emulated EM-1's optical port on a hilbench-presenter port (paced UART model), reached by
our client through libserialport over umockdev: sign-on at 300 7E1, the switch to 9600 after
the ACK (measured from chunk timestamps), the readout parsed by our codec AND by the
`iec62056-21` package from PyPI (its own BCC check and data-set parser), and both agree with
what the profile declares."""

from __future__ import annotations

import pytest

from hilbench import Iec62056Client, Iec62056Error, SerialTransport
from hilbench.bench import embedded_profile_dir
from hilbench.emulation import optical_adapter_serial, start_emulator
from hilbench.profile import load_profile

EM1 = embedded_profile_dir() / "em1-meter.toml"


@pytest.fixture
def optical_port(tmp_path, monkeypatch, in_preload):
    """(emulator ready line's "optical" object, a SerialTransport on it at 300 7E1)."""
    emulator = start_emulator(EM1, serial=False, tcp=False, log_path=tmp_path / "em1.log",
                              optical_serial=optical_adapter_serial("em1"))
    try:
        optical = emulator.ready["optical"]
        monkeypatch.setenv("UMOCKDEV_DIR", optical["umockdev_dir"])
        transport = SerialTransport(optical["device_path"], baud=300, data_bits=7, parity="even",
                                    stop_bits=1)
        yield optical, transport
        del transport
    finally:
        emulator.stop()


def test_baud_switch_300_to_9600_through_libserialport_and_readout_parsed(optical_port):
    optical, transport = optical_port
    assert optical["pacing"] == "paced"
    assert (optical["baud"], optical["data_bits"], optical["parity"]) == (300, 7, "even")
    client = Iec62056Client(transport, max_baud=9600)
    capture = transport.start_capture()
    readout = client.readout()
    chunks = capture.drain()
    assert readout["baud"] == 9600
    assert transport.serial_line_settings()["baud"] == 300  # back at the sign-on settings
    [exchange] = client.take_exchanges()
    assert exchange["protocol"] == "iec62056-21" and exchange["outcome"] == "ok"
    fields = exchange["fields"]
    assert fields["baud_switch"]["from"] == 300 and fields["baud_switch"]["to"] == 9600
    assert fields["identification"]["raw"] == "/HBL5EM1" and fields["bcc_ok"] is True

    # Measured: the identification came at 300 baud 7E1, the readout at 9600 7E1 (10 bits).
    switched = fields["baud_switch"]["switched_ns"]
    rx = [(ns, data) for direction, ns, data in chunks if direction == "rx"]
    before = [(ns, d) for ns, d in rx if ns < switched]
    after = [(ns, d) for ns, d in rx if ns >= switched]

    def character_time(part):
        """Seconds per character: the least-squares slope of arrival time over the bytes
        received so far (one late wake-up of the reader does not skew it)."""
        points, total = [], 0
        for ns, data in part:
            total += len(data)
            points.append((total, ns / 1e9))
        mean_n = sum(n for n, _ in points) / len(points)
        mean_t = sum(t for _, t in points) / len(points)
        return (sum((n - mean_n) * (t - mean_t) for n, t in points)
                / sum((n - mean_n) ** 2 for n, _ in points))

    assert abs(character_time(before) - 10 / 300) <= 0.05 * 10 / 300
    assert abs(character_time(after) - 10 / 9600) <= 0.05 * 10 / 9600

    # Our parse agrees with the profile's declaration.
    profile = load_profile(EM1)
    values = {s["address"]: s["values"][0] for s in readout["data_sets"]}
    assert values["C.1.0"]["value"] == profile.identity["serial_number"]
    assert values["1.8.0"] == {"value": "12345.678", "unit": "kWh"}
    declared = [entry["obis"] for entry in profile.data["iec62056"]["readout"]]
    assert list(values) == declared

    # The independent parser (PyPI iec62056-21, 0.0.2) reads the same message.
    messages = pytest.importorskip("iec62056_21.messages")
    parsed = messages.ReadoutDataMessage.from_bytes(bytes(readout["message"]))  # checks the BCC
    theirs = {s.address: (s.value, s.unit or "")
              for line in parsed.data_block.data_lines for s in line.data_sets}
    assert theirs == {address: (v["value"], v["unit"]) for address, v in values.items()}


def test_programming_session_sets_the_clock_and_refuses_a_wrong_password(optical_port):
    _, transport = optical_port
    client = Iec62056Client(transport, max_baud=9600)
    assert client.open_programming("58204719") == "EM1-2026-000123"
    client.write_register("0.9.1", "01:02:03")
    assert client.read_register("0.9.1")["values"][0]["value"].startswith("01:02:0")
    client.end_programming()
    with pytest.raises(Iec62056Error) as refused:
        client.open_programming("00000001")
    assert refused.value.protocol == "iec62056-21" and refused.value.text == "NAK"
    journaled = b"".join(bytes(e["request"]) for e in client.take_exchanges())
    assert b"58204719" not in journaled and b"00000001" not in journaled  # passwords redacted
