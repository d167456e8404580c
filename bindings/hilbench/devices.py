"""Built-in device drivers. A driver binds a DeviceSpec (bench data) to live endpoints.

ModbusDevice: any Modbus RTU/TCP device described by a profile — the emulated EM-1, a real
meter, a third-party simulator. Suites talk to it, not to raw bytes, except where raw
bytes are the point (malformed frames: `serial_transport()`, `tcp_transport()`).
Thread-safety: one test thread at a time (as the clients it hands out).
"""

from __future__ import annotations

from typing import Any, Literal, cast

from ._core import ConfigError, ModbusClient, SerialTransport, TcpTransport, Transport
from .bench import DeviceSpec, SerialEndpoint, TcpEndpoint, register_driver
from .emulation import use_umockdev_dir

INTERFACES = ("rtu", "tcp")
# Validated by the bench/profile loaders before it gets here.
Parity = Literal["none", "odd", "even", "mark", "space"]


@register_driver("modbus")
class ModbusDevice:
    def __init__(self, spec: DeviceSpec, serial: SerialEndpoint | None, tcp: TcpEndpoint | None,
                 timeout: float = 1.0) -> None:
        self.spec = spec
        self.name = spec.name
        self.profile = spec.profile
        self.emulated = spec.emulated
        self.serial_endpoint = serial
        self.tcp_endpoint = tcp
        self.timeout = timeout
        self._transports: dict[str, Transport] = {}
        self._clients: dict[str, ModbusClient] = {}
        self._retired_exchanges: list[dict[str, Any]] = []

    # ---- what the device offers ---------------------------------------------------------
    @property
    def interfaces(self) -> list[str]:
        return [name for name, endpoint in (("rtu", self.serial_endpoint), ("tcp", self.tcp_endpoint))
                if endpoint is not None]

    def endpoints(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.serial_endpoint is not None:
            s = self.serial_endpoint
            out.append({"kind": "serial", "address": s.port,
                        "settings": {"baud": s.baud, "data_bits": s.data_bits, "parity": s.parity,
                                     "stop_bits": s.stop_bits, "umockdev": s.umockdev_dir is not None}})
        if self.tcp_endpoint is not None:
            out.append({"kind": "tcp", "address": f"{self.tcp_endpoint.host}:{self.tcp_endpoint.port}",
                        "settings": {"no_delay": True}})
        return out

    # ---- transports and clients -----------------------------------------------------------
    def serial_transport(self) -> SerialTransport:
        endpoint = self._require("rtu")
        assert isinstance(endpoint, SerialEndpoint)
        if "rtu" not in self._transports:
            if endpoint.umockdev_dir:
                use_umockdev_dir(endpoint.umockdev_dir)
            self._transports["rtu"] = SerialTransport(endpoint.port, baud=endpoint.baud,
                                                      data_bits=endpoint.data_bits,
                                                      parity=cast(Parity, endpoint.parity),
                                                      stop_bits=endpoint.stop_bits)
        transport = self._transports["rtu"]
        assert isinstance(transport, SerialTransport)
        return transport

    def tcp_transport(self) -> TcpTransport:
        endpoint = self._require("tcp")
        assert isinstance(endpoint, TcpEndpoint)
        if "tcp" not in self._transports:
            self._transports["tcp"] = TcpTransport(endpoint.host, endpoint.port,
                                                   connect_timeout=self.timeout)
        transport = self._transports["tcp"]
        assert isinstance(transport, TcpTransport)
        return transport

    def client(self, interface: str) -> ModbusClient:
        """The Modbus client on `interface` ("rtu" or "tcp"); opened on first use."""
        if interface not in self._clients:
            transport = self.serial_transport() if interface == "rtu" else self.tcp_transport()
            framing: Literal["rtu", "tcp"] = "rtu" if interface == "rtu" else "tcp"
            self._clients[interface] = ModbusClient(transport, framing=framing, unit=self.profile.unit,
                                                    timeout=self.timeout)
        return self._clients[interface]

    def _require(self, interface: str) -> SerialEndpoint | TcpEndpoint:
        if interface not in INTERFACES:
            raise ConfigError(f"{self.name}: unknown interface '{interface}' (rtu or tcp)")
        endpoint = self.serial_endpoint if interface == "rtu" else self.tcp_endpoint
        if endpoint is None:
            raise ConfigError(f"{self.name}: has no {interface} interface on this bench "
                              f"(it has: {', '.join(self.interfaces) or 'none'})")
        return endpoint

    # ---- evidence -------------------------------------------------------------------------
    def take_exchanges(self) -> list[dict[str, Any]]:
        """Every Modbus transaction since the last call, across interfaces, in time order."""
        exchanges = self._retired_exchanges
        self._retired_exchanges = []
        for client in self._clients.values():
            exchanges.extend(client.take_exchanges())
        return sorted(exchanges, key=lambda e: e["request_ns"])

    def close(self) -> None:
        """Closes every transport (kept exchanges stay available to take_exchanges)."""
        for client in self._clients.values():
            self._retired_exchanges.extend(client.take_exchanges())
        self._clients.clear()
        self._transports.clear()  # the C++ destructors close ports and sockets
