"""hilbench: hardware-in-the-loop conformance test harness.

The C++ core lives in :mod:`hilbench._core`; this package re-exports it and adds the thin
Python layer labs use: bench descriptions, device profiles and the emulated bench.
Durations are float seconds everywhere in Python.
"""

from importlib.metadata import PackageNotFoundError, version

from ._core import (
    ChunkCapture,
    ConfigError,
    ConnectionClosed,
    DeviceError,
    DeviceTimeout,
    FaultyTransport,
    HarnessError,
    Iec62056Client,
    Iec62056Error,
    JournalError,
    LatencyHistogram,
    ModbusClient,
    ModbusException,
    PortNotFound,
    ProtocolError,
    ScpiClient,
    ScpiError,
    SerialTransport,
    TcpTransport,
    Transport,
    TransportDecorator,
    TransportError,
    UsbtmcTransport,
    UsbTransport,
    canonical_json,
    crc16,
    encode_rtu,
    encode_tcp,
    exception_name,
    exchange_timings,
    find_serial_port,
    list_serial_ports,
    list_usb_devices,
    rtu_limits_ns,
    probe_tls,
    scan_tcp_ports,
    sha256_hex,
    verify_journal,
    Journal,
)

try:
    __version__ = version("hilbench")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"

__all__ = [
    "ChunkCapture",
    "ConfigError",
    "ConnectionClosed",
    "DeviceError",
    "DeviceTimeout",
    "FaultyTransport",
    "HarnessError",
    "Iec62056Client",
    "Iec62056Error",
    "Journal",
    "JournalError",
    "LatencyHistogram",
    "ModbusClient",
    "ModbusException",
    "PortNotFound",
    "ProtocolError",
    "ScpiClient",
    "ScpiError",
    "SerialTransport",
    "TcpTransport",
    "Transport",
    "TransportDecorator",
    "TransportError",
    "UsbTransport",
    "UsbtmcTransport",
    "__version__",
    "canonical_json",
    "crc16",
    "encode_rtu",
    "encode_tcp",
    "exception_name",
    "exchange_timings",
    "find_serial_port",
    "list_serial_ports",
    "list_usb_devices",
    "rtu_limits_ns",
    "sha256_hex",
    "verify_journal",
    "probe_tls",
    "scan_tcp_ports",
]
