#!/usr/bin/python3
"""An independent USBTMC/USB488 instrument behind umockdev, to cross-check hilbench's client.

Written from USBTMC 1.0, USB488 1.0 and the Linux usbdevfs ABI only, importing nothing from
hilbench: our emulator's USB engine is ours, so it cannot show that our client reads the spec
right rather than the way our device does (issue 8). Run with the system Python (PyGObject +
UMockdev typelib): `/usr/bin/python3 usbtmc_gi_device.py [--violate MODE [--violate-times N]]
[--trace]`. One umockdev testbed, one high-speed device 1209:000a "PEER0001" (bus 3, device
7, path 3-2), interface 0 USBTMC/USB488 (0xFE/3/1) with bulk-OUT 0x04, bulk-IN 0x85,
interrupt-IN 0x86. Prints one JSON line {"event": "ready", "umockdev_dir", "bus", "address",
"vid", "pid", "serial", "path"}, serves until stdin closes. It answers *IDN?, MEAS:VOLT:DC?,
SYST:ERR?, *CLS, *RST and PEER:VIOL? (host-side spec violations seen: "0" or 'N,"first"';
each also logged on stderr). --violate breaks the spec in the device's first N DEV_DEP_MSG_IN
replies: no-eom, wrong-tag (bTag + 1), bad-inverse, oversize (ignores the host's
TransferSize), short (ends 4 bytes before its TransferSize).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import shutil
import signal
import struct
import sys
import threading
import traceback
from dataclasses import dataclass
from typing import Optional

import gi

gi.require_version("UMockdev", "1.0")
from gi.repository import GLib, UMockdev  # noqa: E402  (needs require_version first)

VID, PID, BCD_DEVICE = 0x1209, 0x000A, 0x0100
MANUFACTURER, PRODUCT, SERIAL = "Independent Labs", "PEER-TMC", "PEER0001"
BUS, DEVNUM, PORT = 3, 7, 2
EP_OUT, EP_IN, EP_INT = 0x04, 0x85, 0x86  # not our emulator's numbers: nothing may be assumed
BULK_PACKET = 512  # high speed
IDN = f"{MANUFACTURER},{PRODUCT},{SERIAL},1.0"
TRACE = False  # --trace: every URB submitted, on stderr


def log(text: str) -> None:
    print(f"usbtmc peer: {text}", file=sys.stderr, flush=True)


def _ioc(direction: int, nr: int, size: int) -> int:
    """Linux _IOC(dir, 'U', nr, size); dir 1 = write (_IOW), 2 = read (_IOR)."""
    return (direction << 30) | (size << 16) | (ord("U") << 8) | nr


URB_SIZE = 56  # struct usbdevfs_urb on LP64: type, endpoint, status@4, buffer@16, lengths@24/28
GET_CAPABILITIES, GETDRIVER = _ioc(2, 26, 4), _ioc(1, 8, 260)
CLAIM, RELEASE, SETCONFIG = _ioc(2, 15, 4), _ioc(2, 16, 4), _ioc(2, 5, 4)
SETINTERFACE, CLEAR_HALT, RESET = _ioc(2, 4, 8), _ioc(2, 21, 4), _ioc(0, 20, 0)
DISCONNECT_CLAIM = _ioc(2, 27, 264)
SUBMITURB, DISCARDURB = _ioc(2, 10, URB_SIZE), _ioc(0, 11, 0)
REAPURB, REAPURBNDELAY = _ioc(1, 12, 8), _ioc(1, 13, 8)
URB_INTERRUPT, URB_CONTROL, URB_BULK = 1, 2, 3
# One URB per transfer, whatever its size (else libusb splits bulk transfers at 16 KiB).
CAPS = 0x04 | 0x08  # USBDEVFS_CAP_NO_PACKET_SIZE_LIM | USBDEVFS_CAP_BULK_SCATTER_GATHER

SUCCESS, FAILED, NOT_IN_PROGRESS = 0x01, 0x80, 0x81  # USBTMC_status (USBTMC 1.0 table 16)


def descriptors() -> tuple[bytes, bytes]:
    """Device descriptor and configuration 1 (USB 2.0 9.6; USBTMC 1.0 5.3; USB488 4.1)."""
    device = struct.pack("<BBHBBBBHHHBBBB", 18, 1, 0x0200, 0, 0, 0, 64, VID, PID, BCD_DEVICE,
                         1, 2, 3, 1)
    interface = struct.pack("<BBBBBBBBB", 9, 4, 0, 0, 3, 0xFE, 3, 1, 0)
    endpoints = (struct.pack("<BBBBHB", 7, 5, EP_OUT, 2, BULK_PACKET, 0)
                 + struct.pack("<BBBBHB", 7, 5, EP_IN, 2, BULK_PACKET, 0)
                 + struct.pack("<BBBBHB", 7, 5, EP_INT, 3, 8, 4))  # 2^(4-1) microframes
    body = interface + endpoints
    config = struct.pack("<BBHBBBBB", 9, 2, 9 + len(body), 1, 1, 0, 0xC0, 0) + body
    return device, config


@dataclass
class Urb:
    """A URB the host submitted: its struct and buffer live in the host's memory."""
    data: UMockdev.IoctlData
    buffer: Optional[UMockdev.IoctlData]
    client: UMockdev.IoctlClient
    kind: int
    endpoint: int
    length: int


class Instrument:
    """The USBTMC function: message layer (bulk) and class requests (control), no USB plumbing."""

    def __init__(self, violate: str, violate_times: int) -> None:
        self.violate, self.violate_left = violate, violate_times
        self.message = bytearray()  # DEV_DEP_MSG_OUT payload until EOM
        self.output = bytearray()  # response message not yet sent
        self.errors: list[str] = []
        self.request: Optional[tuple[int, int, Optional[int]]] = None  # bTag, size, TermChar
        self.to_host = bytearray()  # encoded Bulk-IN bytes not yet taken by an IN URB
        self.in_tag, self.in_sent = 0, 0  # the Bulk-IN transfer in progress (for aborts)
        self.last_out_tag = 0
        self.notify = bytearray()  # USB488 interrupt-IN notifications
        self.violations: list[str] = []

    def violation(self, text: str) -> None:
        self.violations.append(text)
        log(f"host violates the spec: {text}")

    # -- Bulk-OUT (USBTMC 1.0 3.2) ------------------------------------------------------------
    def bulk_out(self, data: bytes) -> bool:
        """One Bulk-OUT transfer; False halts the endpoint (the spec's answer to a bad header)."""
        if len(data) < 12:
            self.violation(f"Bulk-OUT transfer of {len(data)} bytes, shorter than a header")
            return False
        msg_id, tag, inverse = data[0], data[1], data[2]
        size = struct.unpack_from("<I", data, 4)[0]
        if tag == 0 or inverse != tag ^ 0xFF or data[3] != 0:
            self.violation(f"bad Bulk-OUT header {data[:12].hex()} (bTag 0 or inverse wrong)")
            return False
        if tag == self.last_out_tag:  # 3.2: each transfer's bTag differs from the last one's
            self.violation(f"bTag {tag} reused by consecutive Bulk-OUT transfers")
        self.last_out_tag = tag
        if msg_id == 1:  # DEV_DEP_MSG_OUT (table 3)
            if data[8] & 0xFE or data[9:12] != b"\0\0\0":
                self.violation(f"DEV_DEP_MSG_OUT reserved bits set: {data[:12].hex()}")
                return False
            if len(data) < 12 + size:
                self.violation(f"DEV_DEP_MSG_OUT TransferSize {size} > {len(data) - 12} bytes sent")
                return False
            if len(data) % 4 or len(data) - 12 - size > 3:  # 3.2.1.1: 0-3 alignment bytes
                self.violation(f"DEV_DEP_MSG_OUT of {len(data)} bytes for {size}: bad padding")
            self.message += data[12:12 + size]
            if data[8] & 0x01:  # EOM: the message is complete
                message, self.message = bytes(self.message), bytearray()
                self.execute(message)
            return True
        if msg_id == 2:  # REQUEST_DEV_DEP_MSG_IN (table 4)
            if size == 0 or len(data) != 12:
                self.violation(f"REQUEST_DEV_DEP_MSG_IN {data.hex()}: zero size or trailing bytes")
            self.request = (tag, size, data[9] if data[8] & 0x02 else None)
            self.produce()
            return True
        if msg_id == 128:  # USB488 TRIGGER: accepted, nothing to measure anew
            return True
        self.violation(f"unknown MsgID {msg_id}")
        return False

    def execute(self, message: bytes) -> None:
        """IEEE 488.2 message exchange, minimal: units split at ';', one response message."""
        if self.output:  # 488.2 6.3.2.3: a new message interrupts an unread response
            self.output.clear()
            self.errors.append('-410,"Query INTERRUPTED"')
        replies: list[str] = []
        volts = "+1.23456E+00"
        fixed = {"*IDN?": IDN, "MEAS:VOLT:DC?": volts, "MEASURE:VOLTAGE:DC?": volts}
        for unit in message.decode("ascii", "replace").strip().split(";"):
            header = unit.strip().upper()
            if header in fixed:
                replies.append(fixed[header])
            elif header in ("SYST:ERR?", "SYSTEM:ERROR?", "SYST:ERR:NEXT?"):
                replies.append(self.errors.pop(0) if self.errors else '+0,"No error"')
            elif header == "PEER:VIOL?":
                first = f',"{self.violations[0]}"' if self.violations else ""
                replies.append(f"{len(self.violations)}{first}")
            elif header == "*CLS":
                self.errors.clear()
            elif header not in ("*RST", ""):
                self.errors.append('-113,"Undefined header"')
        if replies:
            self.output += (";".join(replies) + "\n").encode()
        self.produce()

    def produce(self) -> None:
        """Answers a pending REQUEST_DEV_DEP_MSG_IN once there is something to send (3.3)."""
        if self.request is None or not self.output:
            return  # a real device NAKs Bulk-IN until then; the host's timeout decides
        tag, size, term = self.request
        self.request = None
        bad = self.violate != "none" and self.violate_left > 0
        if bad:
            self.violate_left -= 1
        n = min(size, len(self.output))
        if bad and self.violate == "oversize":
            n = len(self.output)  # ignores the host's TransferSize
        chunk = bytes(self.output[:n])
        attributes = 0
        if term is not None and term in chunk:  # table 9: the transfer ends at TermChar
            chunk = chunk[:chunk.index(term) + 1]
            attributes |= 0x02
        del self.output[:len(chunk)]
        if not self.output and not (bad and self.violate == "no-eom"):
            attributes |= 0x01  # EOM: the last byte of the message is in this transfer
        sent_tag = tag % 255 + 1 if bad and self.violate == "wrong-tag" else tag
        inverse = (sent_tag ^ 0xFF) ^ (0x01 if bad and self.violate == "bad-inverse" else 0)
        header = struct.pack("<BBBBIBBBB", 2, sent_tag, inverse, 0, len(chunk), attributes, 0, 0, 0)
        if bad and self.violate == "short":  # ends (short packet) 4 bytes before TransferSize
            chunk = chunk[:-4]  # a whole alignment unit: the length shows it, padding or not
        self.to_host += header + chunk + b"\0" * (-len(chunk) % 4)
        self.in_tag, self.in_sent = tag, 0

    def take(self, interrupt: bool, room: int) -> Optional[bytes]:
        """Bytes for a waiting IN URB of `room` bytes (a transfer may span URBs), or None."""
        queue = self.notify if interrupt else self.to_host
        if not queue:
            return None
        data = bytes(queue[:room])
        del queue[:room]
        self.in_sent += 0 if interrupt else len(data)
        return data

    # -- Class requests (USBTMC 1.0 4.2.1, USB488 4.3) -----------------------------------------
    def control(self, rtype: int, request: int, value: int, index: int,
                length: int) -> Optional[bytes]:
        """The reply of a class request, or None to stall it."""
        to_interface, to_endpoint = rtype == 0xA1, rtype == 0xA2
        expected = {7: 0x18, 1: 2, 2: 8, 3: 2, 4: 8, 5: 1, 6: 2, 128: 3}.get(request)
        if expected is not None and length != expected:
            self.violation(f"class request {request} with wLength {length}, not {expected}")
        if to_interface and index != 0 or to_endpoint and index not in (EP_IN, EP_OUT):
            self.violation(f"class request {request} with wIndex 0x{index:04x}")
            return None
        if request == 7 and to_interface:  # GET_CAPABILITIES (table 37 + USB488 table 8)
            return struct.pack("<BBHBB6xHBB8x", SUCCESS, 0, 0x0100, 0x00, 0x01, 0x0100,
                               0x05, 0x09)  # TermChar; USB488: 488.2 + TRIGGER; SCPI + DT1
        if request == 3 and to_endpoint and index == EP_IN:  # INITIATE_ABORT_BULK_IN
            tag = value & 0xFF
            pending = self.request is not None and self.request[0] == tag
            if pending or (self.to_host and self.in_tag == tag):
                self.request = None
                self.to_host.clear()
                self.output.clear()  # the rest of the aborted message is not sent later
                return bytes([SUCCESS, tag])
            return bytes([FAILED if not self.to_host else NOT_IN_PROGRESS, self.in_tag])
        if request == 4 and to_endpoint and index == EP_IN:  # CHECK_ABORT_BULK_IN_STATUS
            return struct.pack("<BBxxI", SUCCESS, 0, self.in_sent)  # D0 = 0: FIFO empty
        if request == 1 and to_endpoint and index == EP_OUT:  # INITIATE_ABORT_BULK_OUT
            # Every Bulk-OUT transfer is taken whole as it arrives: none is ever in progress.
            return bytes([FAILED, value & 0xFF])
        if request == 2 and to_endpoint and index == EP_OUT:  # CHECK_ABORT_BULK_OUT_STATUS
            return struct.pack("<B3xI", SUCCESS, 0)
        if request == 5 and to_interface:  # INITIATE_CLEAR: everything in flight goes
            self.message, self.output, self.to_host = bytearray(), bytearray(), bytearray()
            self.request = None
            return bytes([SUCCESS])
        if request == 6 and to_interface:  # CHECK_CLEAR_STATUS
            return bytes([SUCCESS, 0])
        if request == 128 and to_interface:  # USB488 READ_STATUS_BYTE, answered on interrupt-IN
            tag = value & 0x7F
            if not 2 <= value <= 127:
                self.violation(f"READ_STATUS_BYTE bTag {value} outside 2..127")
            stb = 0x10 if self.output or self.to_host else 0  # MAV
            self.notify += bytes([0x80 | tag, stb])
            return bytes([SUCCESS, tag, 0])
        return None  # INDICATOR_PULSE, REN_CONTROL, ...: not offered (capabilities)


def standard_control(rtype: int, request: int, value: int, length: int) -> Optional[bytes]:
    """USB 2.0 chapter 9 requests the host may send; None stalls."""
    if not rtype & 0x80:
        return b""  # SET_CONFIGURATION/INTERFACE/FEATURE, CLEAR_FEATURE: nothing to do
    device, config = descriptors()
    strings = {(3, i): bytes([2 + 2 * len(t), 3]) + t.encode("utf-16-le")
               for i, t in enumerate((MANUFACTURER, PRODUCT, SERIAL), start=1)}
    descriptor = {(1, 0): device, (2, 0): config, (3, 0): bytes([4, 3, 0x09, 0x04]), **strings}
    replies = {0: b"\0\0", 8: b"\x01", 10: b"\x00"}  # GET_STATUS, _CONFIGURATION, _INTERFACE
    reply = descriptor.get((value >> 8, value & 0xFF)) if request == 6 else replies.get(request)
    return None if reply is None else reply[:length]


class UsbDevice:
    """usbdevfs for one device: the ioctls libusb sends, URBs completed into host memory."""

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.lock = threading.Lock()  # handlers run on umockdev's worker thread
        self.waiting: list[Urb] = []  # IN URBs waiting for data
        self.done: list[Urb] = []  # completed, not reaped
        self.halted: set[int] = set()
        self.testbed = UMockdev.Testbed.new()
        self.root: str = self.testbed.get_root_dir()
        self.devnode = f"/dev/bus/usb/{BUS:03d}/{DEVNUM:03d}"
        # The node is a FIFO kept full while nothing is reapable: libusb polls it for POLLOUT
        # and so sleeps instead of spinning on REAPURBNDELAY.
        node = self.root + self.devnode
        os.makedirs(os.path.dirname(node), exist_ok=True)
        os.mkfifo(node)
        self.fifo = os.open(node, os.O_RDWR | os.O_NONBLOCK)
        self.set_reapable(False)
        self.handler = UMockdev.IoctlBase()
        self.handler.connect("handle-ioctl", self.on_ioctl)
        self.testbed.attach_ioctl(self.devnode, self.handler)  # before the device appears
        device, config = descriptors()
        path = f"/devices/pci0000:00/0000:00:1d.0/usb{BUS}/{BUS}-{PORT}"
        attributes = {"busnum": BUS, "devnum": DEVNUM, "idVendor": f"{VID:04x}",
                      "idProduct": f"{PID:04x}", "bcdDevice": f"{BCD_DEVICE:04x}",
                      "manufacturer": MANUFACTURER, "product": PRODUCT, "serial": SERIAL,
                      "speed": 480, "bConfigurationValue": 1, "bNumConfigurations": 1}
        record = [f"P: {path}", f"E: DEVNAME={self.devnode}", "E: DEVTYPE=usb_device",
                  "E: SUBSYSTEM=usb", f"E: BUSNUM={BUS:03d}", f"E: DEVNUM={DEVNUM:03d}",
                  *(f"A: {k}={v}\\n" for k, v in attributes.items()),
                  f"H: descriptors={(device + config).hex()}"]
        self.testbed.add_from_string("\n".join(record) + "\n\n")

    def set_reapable(self, reapable: bool) -> None:
        try:
            while os.read(self.fifo, 65536) if reapable else os.write(self.fifo, b"\0" * 65536):
                pass
        except BlockingIOError:
            pass

    def finish(self, urb: Urb, status: int, data: bytes = b"", offset: int = 0,
               actual: Optional[int] = None) -> None:
        """Completes a URB in the host's memory (synced on reap) and makes it reapable."""
        if data and urb.buffer is not None:
            urb.buffer.update(offset, data)
        urb.data.update(4, struct.pack("<i", status))
        urb.data.update(28, struct.pack("<i", len(data) if actual is None else actual))
        self.done.append(urb)
        self.set_reapable(True)

    def serve(self) -> None:
        for urb in list(self.waiting):
            data = self.instrument.take(urb.kind == URB_INTERRUPT, urb.length)
            if data is not None:
                self.waiting.remove(urb)
                self.finish(urb, 0, data)

    def reap(self, client: UMockdev.IoctlClient) -> bool:
        urb = next((u for u in self.done if u.client == client), None)
        if urb is None:
            return False
        self.done.remove(urb)
        if not self.done:
            self.set_reapable(False)
        slot = client.get_arg().resolve(0, 8)  # the host's `struct usbdevfs_urb *` variable
        slot.set_ptr(0, urb.data)  # now points at the completed URB, written back on complete
        client.complete(0, 0)
        return True

    def on_ioctl(self, _handler: UMockdev.IoctlBase, client: UMockdev.IoctlClient) -> bool:
        try:
            with self.lock:
                self.dispatch(client)
        except Exception:  # noqa: BLE001  (a bug here must not leave the host hanging)
            traceback.print_exc()
            client.complete(-1, errno.EIO)
        return True

    def dispatch(self, client: UMockdev.IoctlClient) -> None:
        request = client.get_request()
        # umockdev 0.17 reports no close: URBs of a host that went away are dropped here.
        self.waiting = [u for u in self.waiting if u.client.get_connected()]
        self.done = [u for u in self.done if u.client.get_connected()]
        if request in (REAPURB, REAPURBNDELAY):  # libusb only sends the non-blocking one
            if not self.reap(client):
                client.complete(-1, errno.EAGAIN)
        elif request == GET_CAPABILITIES:
            client.get_arg().resolve(0, 4).update(0, struct.pack("<I", CAPS))
            client.complete(0, 0)
        elif request == GETDRIVER:
            client.complete(-1, errno.ENODATA)  # no kernel driver bound
        elif request == CLEAR_HALT:
            endpoint = struct.unpack("<I", client.get_arg().resolve(0, 4).retrieve())[0]
            if TRACE:
                log(f"CLEAR_HALT 0x{endpoint:02x}")
            self.halted.discard(endpoint & 0xFF)
            client.complete(0, 0)
            self.serve()
        elif request in (CLAIM, RELEASE, SETCONFIG, SETINTERFACE, RESET, DISCONNECT_CLAIM):
            client.complete(0, 0)
        elif request == DISCARDURB:
            address = struct.unpack("<Q", client.get_arg().retrieve()[:8])[0]
            urb = next((u for u in self.waiting if u.data.client_addr == address), None)
            if urb is None:
                client.complete(-1, errno.EINVAL)
                return
            self.waiting.remove(urb)
            client.complete(0, 0)
            self.finish(urb, -errno.ENOENT)  # libusb reports LIBUSB_ERROR_TIMEOUT
        elif request == SUBMITURB:
            self.submit(client)
        else:
            log(f"ioctl 0x{request:08x} not handled")
            client.complete(-1, errno.ENOTTY)

    def submit(self, client: UMockdev.IoctlClient) -> None:
        data = client.get_arg().resolve(0, URB_SIZE)
        kind, endpoint = struct.unpack_from("<BB", data.retrieve())
        length = struct.unpack_from("<i", data.retrieve(), 24)[0]
        buffer = data.resolve(16, length) if length > 0 else None
        urb = Urb(data, buffer, client, kind, endpoint, length)
        client.complete(0, 0)  # submitted; the completion comes through a reap
        sent_by_host = kind == URB_CONTROL or not endpoint & 0x80  # (an IN buffer is ours to fill)
        content = buffer.retrieve() if buffer is not None and sent_by_host else b""
        if TRACE:  # the setup packet or the start of what the host sent
            log(f"URB type {kind} ep 0x{endpoint:02x} len {length} {content[:16].hex()}")
        if kind == URB_CONTROL:
            if length < 8:
                self.finish(urb, -errno.EPIPE)
                return
            rtype, request, value, index, wlength = struct.unpack_from("<BBHHH", content)
            reply = (standard_control(rtype, request, value, wlength) if rtype & 0x60 == 0
                     else self.instrument.control(rtype, request, value, index, wlength))
            if reply is None:
                self.finish(urb, -errno.EPIPE)  # a STALL of this request only
            else:
                self.finish(urb, 0, reply, offset=8)  # the data stage follows the setup
        elif kind == URB_BULK and endpoint == EP_OUT:
            if endpoint in self.halted or not self.instrument.bulk_out(content):
                self.halted.add(endpoint)  # STALL until the host clears the halt
                self.finish(urb, -errno.EPIPE)
            else:
                self.finish(urb, 0, actual=length)  # all of it was taken
        elif (kind, endpoint) in ((URB_BULK, EP_IN), (URB_INTERRUPT, EP_INT)):
            self.waiting.append(urb)
        else:
            self.finish(urb, -errno.EINVAL)
        self.serve()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--violate", default="none",
                        choices=["none", "no-eom", "wrong-tag", "bad-inverse", "oversize", "short"])
    parser.add_argument("--violate-times", type=int, default=1 << 30,
                        help="break the spec in the first N DEV_DEP_MSG_IN replies only")
    parser.add_argument("--trace", action="store_true", help="log every URB on stderr")
    args = parser.parse_args()
    global TRACE
    TRACE = args.trace
    device = UsbDevice(Instrument(args.violate, args.violate_times))
    loop = GLib.MainLoop()

    def on_stdin(fd: int, _condition: GLib.IOCondition) -> bool:
        if os.read(fd, 4096):
            return True
        loop.quit()  # our parent is gone (or closed the pipe): leave with it
        return False

    GLib.io_add_watch(sys.stdin.fileno(), GLib.PRIORITY_DEFAULT,
                      GLib.IOCondition.IN | GLib.IOCondition.HUP | GLib.IOCondition.ERR, on_stdin)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, lambda: loop.quit() or False)
    print(json.dumps({"event": "ready", "umockdev_dir": device.root, "bus": BUS,
                      "address": DEVNUM, "vid": VID, "pid": PID, "serial": SERIAL,
                      "path": f"{BUS}-{PORT}", "violate": args.violate}), flush=True)
    loop.run()
    # The testbed's finalizer would remove its directory, but objects are not reliably
    # finalized at interpreter exit: remove it here (a host still holding the node is gone).
    os.close(device.fifo)
    shutil.rmtree(device.root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
