"""The transport factory: the one place where a transport is opened, and reopened.

Drivers never construct SerialTransport or TcpTransport themselves; they ask the bench's
factory to open a resource. That makes this the single point where
- a fault plan (the fault-injection issue) wraps a transport in a decorator, whatever the
  resource kind: `TransportFactory(wrappers=[...])` applies each wrapper, in order, to every
  transport it opens;
- the reconnection policy lives: a transport whose connection was lost (a meter rebooting, a
  USB-serial adapter replugged) is reported here (`lost`), and the next open of that resource
  tries up to `reopen_attempts` times, `reopen_interval` apart. Both the loss and the
  reconnection are handed to `on_event` ("connection_lost", "reconnected"), which the live
  bench journals.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

from ._core import DeviceTimeout, Transport, TransportError
from .resources import Resource

# (resource, transport just opened) -> the transport drivers get (itself or a decorator)
TransportWrapper = Callable[[Resource, Transport], Transport]
EventSink = Callable[[str, dict[str, Any]], object]


class TransportFactory:
    """Opens resources into transports. Thread-safety: one thread at a time, as transports."""

    def __init__(self, connect_timeout: float = 1.0, wrappers: Sequence[TransportWrapper] = (),
                 reopen_attempts: int = 3, reopen_interval: float = 0.5,
                 on_event: EventSink | None = None) -> None:
        self.connect_timeout = connect_timeout  # seconds, for endpoints that connect
        self.wrappers = list(wrappers)
        self.reopen_attempts = max(1, reopen_attempts)
        self.reopen_interval = reopen_interval  # seconds between reopen attempts
        self.on_event: EventSink = on_event or (lambda kind, data: None)
        self._lost: dict[Resource, str] = {}  # resource -> name of the transport that lost it

    def open(self, resource: Resource) -> Transport:
        """A new transport on `resource`. A first open is tried once (an absent device is a
        bench problem to report at once); reopening a lost one is tried reopen_attempts
        times, since the device may still be coming back."""
        if resource not in self._lost:
            return self._wrap(resource, resource.connect(self.connect_timeout))
        for attempt in range(1, self.reopen_attempts + 1):
            try:
                transport = resource.connect(self.connect_timeout)
            except (TransportError, DeviceTimeout) as error:
                if attempt == self.reopen_attempts:
                    self.on_event("reconnect_failed", {
                        "resource": resource.describe(), "attempts": attempt,
                        "error": str(error)})
                    raise
                time.sleep(self.reopen_interval)  # the device is rebooting: give it time
                continue
            previous = self._lost.pop(resource)
            self.on_event("reconnected", {"resource": resource.describe(), "attempts": attempt,
                                          "previous_transport": previous,
                                          "transport": transport.name})
            return self._wrap(resource, transport)
        raise AssertionError("unreachable")

    def lost(self, resource: Resource, transport: Transport, dut: str) -> None:
        """Records that `transport` on `resource` lost its connection; the next open of the
        resource reconnects."""
        self._lost[resource] = transport.name
        self.on_event("connection_lost", {"dut": dut, "resource": resource.describe(),
                                          "transport": transport.name})

    def _wrap(self, resource: Resource, transport: Transport) -> Transport:
        for wrap in self.wrappers:
            transport = wrap(resource, transport)
        return transport
