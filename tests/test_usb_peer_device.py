"""Our USBTMC client against a USBTMC instrument we did not write the engine of (issue 8).

The emulated DMM-6 runs on our own USB engine (devices/common/umockdev_usb.*, usbtmc_*), so
a client that misreads USBTMC the same way that engine does would pass every test against
it. tests/peers/usbtmc_gi_device.py is a second implementation, written from USBTMC 1.0 /
USB488 1.0 and the usbdevfs ABI in Python (PyGObject + UMockdev, system Python, no hilbench
import), with other endpoint numbers, high-speed packets and capability bits than ours. This
module drives it with what a lab uses: list_usb_devices, UsbTransport + UsbtmcTransport, and
ScpiClient. It shows discovery, identity and a voltage reading, GET_CAPABILITIES decoded bit
for bit, messages split into many transfers both ways (checked on the wire and by the peer,
which counts every host-side spec violation it sees), the USB488 status byte over
interrupt-IN, a timed-out read aborted with INITIATE_ABORT_BULK_IN, and the peer breaking
the spec (no EOM, wrong bTag, bad bTagInverse, oversized TransferSize, a transfer
ending short of its TransferSize): each a typed error
naming the device within its deadline, after which the device is usable again.
"""

from __future__ import annotations

import gc
import os
import struct
import subprocess
import time
from pathlib import Path
from typing import Callable, Iterator, Sequence

import pytest

from hilbench import (
    DeviceTimeout,
    HarnessError,
    ProtocolError,
    ScpiClient,
    UsbtmcTransport,
    UsbTransport,
    list_usb_devices,
)
from hilbench.emulation import ChildProcess, child_environment, use_umockdev_dir

PEER = Path(__file__).resolve().parent / "peers" / "usbtmc_gi_device.py"
SYSTEM_PYTHON = "/usr/bin/python3"  # the one with python3-gi and gir1.2-umockdev-1.0
VID, PID, SERIAL = 0x1209, 0x000A, "PEER0001"
IDN = "Independent Labs,PEER-TMC,PEER0001,1.0"
NAME = "usbtmc:1209:000a:PEER0001"
TIMEOUT = 1.0  # every exchange's deadline
RECOVERY = 0.5  # UsbtmcTransport's abort/clear budget (its default)

StartPeer = Callable[..., ChildProcess]


@pytest.fixture(scope="module")
def system_gi() -> None:
    """Skips when the system Python cannot run the peer (no PyGObject or UMockdev typelib)."""
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.skip(f"{SYSTEM_PYTHON} not found: the independent USBTMC peer needs it")
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('UMockdev', '1.0'); "
                              "from gi.repository import UMockdev"],
        capture_output=True, text=True, timeout=30, env=child_environment())
    if probe.returncode != 0:
        reason = (probe.stderr.strip().splitlines() or ["?"])[-1]
        pytest.skip(f"{SYSTEM_PYTHON} cannot import gi/UMockdev (install python3-gi and "
                    f"gir1.2-umockdev-1.0): {reason}")


@pytest.fixture
def peer(tmp_path: Path, in_preload: None, system_gi: None) -> Iterator[StartPeer]:
    """Starts the peer (ready line within a deadline) and points this process's libusb at it."""
    started: list[ChildProcess] = []

    def start(*args: str) -> ChildProcess:
        child = ChildProcess([SYSTEM_PYTHON, str(PEER), *args], "usbtmc-gi-peer",
                             log_path=tmp_path / "peer.log")
        child.start(timeout=20)
        started.append(child)
        use_umockdev_dir(child.ready["umockdev_dir"])
        return child

    yield start
    # A USB handle still open when the testbed owner exits kills this process (umockdev
    # 0.17): let handles a failed test left behind go first.
    gc.collect()
    for child in started:
        child.stop()


def open_peer(max_transfer: int = 65536) -> UsbtmcTransport:
    usb = UsbTransport(vendor_id=VID, product_id=PID, serial=SERIAL)
    return UsbtmcTransport(usb, recovery_timeout=RECOVERY, max_transfer=max_transfer)


def peer_violations(transport: UsbtmcTransport) -> str:
    """What the peer says about our client's conformance: '0' when it saw nothing wrong."""
    transport.write(b"PEER:VIOL?\n", timeout=TIMEOUT)
    return transport.read_message(timeout=TIMEOUT).decode().strip()


def frames(capture: Sequence[tuple[str, int, bytes]]) -> list[tuple[str, int, int, int, int]]:
    """(direction, MsgID, bTag, TransferSize, bmTransferAttributes) of each captured bulk
    transfer, decoded here from USBTMC 1.0 tables 1-3 and 9 (not with our codec)."""
    out = []
    for direction, _, data in capture:
        msg_id, tag, inverse, reserved, size, attributes = struct.unpack_from("<BBBBIB", data)
        assert inverse == tag ^ 0xFF and reserved == 0 and tag != 0, data.hex()
        if msg_id == 1 or direction == "rx":  # a data-carrying transfer: header + data + pad
            assert len(data) == 12 + size + (-size % 4), data.hex()
        out.append((direction, msg_id, tag, size, attributes))
    return out


def test_the_peer_is_listed_with_its_identity(peer: StartPeer) -> None:
    ready = peer().ready
    assert (ready["vid"], ready["pid"], ready["serial"]) == (VID, PID, SERIAL)
    assert list_usb_devices() == [{
        "vendor_id": VID, "product_id": PID, "serial": SERIAL,
        "manufacturer": "Independent Labs", "product": "PEER-TMC",
        "bus": ready["bus"], "address": ready["address"], "path": ready["path"]}]


def test_identity_voltage_and_capabilities_through_our_client(peer: StartPeer) -> None:
    peer()
    transport = open_peer()
    assert transport.name == NAME
    assert transport.is_usb488
    # The peer's GET_CAPABILITIES bits differ from our DMM's: each must land in its field.
    assert transport.capabilities == {
        "bcd_usbtmc": 0x0100, "indicator_pulse": False, "talk_only": False,
        "listen_only": False, "term_char": True, "bcd_usb488": 0x0100, "is_488_2": True,
        "ren_control": False, "trigger": True, "scpi": True, "sr1": False, "rl1": False,
        "dt1": True}
    client = ScpiClient(transport, timeout=TIMEOUT)
    assert client.identify() == {"manufacturer": "Independent Labs", "model": "PEER-TMC",
                                 "serial_number": SERIAL, "firmware": "1.0"}
    assert client.query_number("MEAS:VOLT:DC?") == pytest.approx(1.23456, rel=1e-12)
    client.clear_status()
    client.reset()
    with pytest.raises(ProtocolError, match="does not offer"):
        transport.ren_control(True, timeout=TIMEOUT)  # the peer has no REN_CONTROL
    assert peer_violations(transport) == "0"
    assert transport.recoveries == 0
    del client, transport


def test_messages_split_into_many_transfers_both_ways(peer: StartPeer) -> None:
    peer()
    transport = open_peer(max_transfer=5)  # every transfer carries at most 5 bytes
    capture = transport.usb.start_capture()
    transport.write(b"*IDN?\n", timeout=TIMEOUT)
    assert transport.read_message(timeout=TIMEOUT) == (IDN + "\n").encode()
    assert transport.last_eom
    transport.usb.stop_capture()
    seen = frames(capture.drain())
    out = [f for f in seen if f[0] == "tx" and f[1] == 1]
    assert [(size, attributes & 1) for _, _, _, size, attributes in out] == [(5, 0), (1, 1)]
    requests = [f for f in seen if f[0] == "tx" and f[1] == 2]
    replies = [f for f in seen if f[0] == "rx"]
    assert all(size == 5 for _, _, _, size, _ in requests)
    sizes = [5] * 7 + [4]  # 39 bytes, at most 5 per transfer; EOM on the last only
    assert [(tag, size, attributes & 1) for _, _, tag, size, attributes in replies] == \
        [(tag, size, int(i == 7)) for i, ((_, _, tag, _, _), size) in
         enumerate(zip(requests, sizes, strict=True))]
    tags = [f[2] for f in seen if f[0] == "tx"]
    assert all(a != b for a, b in zip(tags, tags[1:]))  # a new bTag for every transfer
    # The same small transfers under the SCPI client (a byte stream over the messages).
    client = ScpiClient(transport, timeout=TIMEOUT)
    assert client.query("*IDN?") == IDN
    assert client.query_number("MEAS:VOLT:DC?") == pytest.approx(1.23456, rel=1e-12)
    assert peer_violations(transport) == "0"
    del client, transport


def test_status_byte_arrives_on_interrupt_in(peer: StartPeer) -> None:
    peer()
    transport = open_peer()
    assert transport.read_status_byte(timeout=TIMEOUT) == 0
    transport.write(b"MEAS:VOLT:DC?\n", timeout=TIMEOUT)
    assert transport.read_status_byte(timeout=TIMEOUT) & 0x10  # MAV: a message is waiting
    assert transport.read_message(timeout=TIMEOUT) == b"+1.23456E+00\n"
    assert transport.read_status_byte(timeout=TIMEOUT) == 0
    assert peer_violations(transport) == "0"
    del transport


def test_a_read_with_nothing_to_read_is_aborted_and_the_device_stays_usable(
        peer: StartPeer) -> None:
    peer()
    transport = open_peer()
    started = time.monotonic()
    with pytest.raises(DeviceTimeout) as timed_out:
        transport.read_message(timeout=0.3)
    assert time.monotonic() - started < 0.3 + RECOVERY + 0.3
    assert timed_out.value.device == NAME and NAME in str(timed_out.value)
    assert transport.recoveries == 1
    assert "abort_bulk_in" in transport.last_recovery
    assert "check_abort_bulk_in_status: success" in transport.last_recovery
    assert ScpiClient(transport, timeout=TIMEOUT).query("*IDN?") == IDN
    assert peer_violations(transport) == "0"
    del transport


def test_btags_wrap_past_255_and_never_repeat(peer: StartPeer) -> None:
    peer()
    transport = open_peer()
    capture = transport.usb.start_capture()
    for _ in range(140):  # two Bulk-OUT transfers each: 280 bTags
        transport.write(b"MEAS:VOLT:DC?\n", timeout=TIMEOUT)
        assert transport.read_message(timeout=TIMEOUT) == b"+1.23456E+00\n"
    transport.usb.stop_capture()
    tags = [tag for direction, _, tag, _, _ in frames(capture.drain()) if direction == "tx"]
    assert len(tags) == 280 and 255 in tags and 0 not in tags
    assert all(b == a % 255 + 1 for a, b in zip(tags, tags[1:]))  # 1..255, 1..
    assert peer_violations(transport) == "0"
    del transport


@pytest.mark.parametrize("violation, error, says, max_transfer", [
    ("wrong-tag", ProtocolError, "bTag", 65536),
    ("bad-inverse", ProtocolError, "bTagInverse", 65536),
    ("oversize", ProtocolError, "TransferSize", 8),
    # Ends 4 bytes before its TransferSize (a short packet): no more bulk-in is waited for.
    ("short", ProtocolError, "TransferSize", 65536),
], ids=["wrong-tag", "bad-inverse", "oversize", "short"])
def test_a_reply_breaking_the_header_rules_is_a_typed_error_naming_the_device(
        peer: StartPeer, violation: str, error: type[HarnessError] | tuple[type[HarnessError], ...],
        says: str, max_transfer: int) -> None:
    peer("--violate", violation, "--violate-times", "1")
    transport = open_peer(max_transfer=max_transfer)
    client = ScpiClient(transport, timeout=TIMEOUT)
    started = time.monotonic()
    with pytest.raises(error) as broken:
        client.query("*IDN?")
    assert time.monotonic() - started < TIMEOUT + 2 * RECOVERY
    assert NAME in str(broken.value) and says in str(broken.value)
    assert transport.recoveries >= 1  # the interface was cleared, not abandoned
    # The peer is back to the rules: the next exchange works over the same handle.
    assert client.query("*IDN?") == IDN
    assert peer_violations(transport) == "0"
    del client, transport


def test_a_message_without_eom_is_a_timeout_naming_the_device(peer: StartPeer) -> None:
    peer("--violate", "no-eom", "--violate-times", "1")
    transport = open_peer()
    transport.write(b"*IDN?\n", timeout=TIMEOUT)
    started = time.monotonic()
    with pytest.raises(DeviceTimeout) as unended:
        transport.read_message(timeout=0.5)
    assert time.monotonic() - started < 0.5 + RECOVERY + 0.3
    assert unended.value.device == NAME and "EOM" in str(unended.value)
    assert not transport.last_eom
    assert ScpiClient(transport, timeout=TIMEOUT).query("*IDN?") == IDN
    assert peer_violations(transport) == "0"
    del transport


def test_a_transfer_ending_short_of_its_transfer_size_is_a_protocol_error_at_once(
        peer: StartPeer) -> None:
    peer("--violate", "short", "--violate-times", "1")
    transport = open_peer()
    transport.write(b"*IDN?\n", timeout=TIMEOUT)
    started = time.monotonic()
    try:
        with pytest.raises(ProtocolError, match="TransferSize"):
            transport.read_message(timeout=TIMEOUT)
        assert time.monotonic() - started < TIMEOUT / 2
    finally:
        del transport
