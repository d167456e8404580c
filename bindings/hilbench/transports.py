"""The transport factory: the one place where a transport is opened.

Drivers never construct SerialTransport or TcpTransport themselves; they ask the bench's
factory to open a resource. That makes this the single point where a fault plan (the
fault-injection issue) wraps a transport in a decorator, whatever the resource kind:
`TransportFactory(wrappers=[...])` applies each wrapper, in order, to every transport it
opens.
"""

from __future__ import annotations

from typing import Callable, Sequence

from ._core import Transport
from .resources import Resource

# (resource, transport just opened) -> the transport drivers get (itself or a decorator)
TransportWrapper = Callable[[Resource, Transport], Transport]


class TransportFactory:
    """Opens resources into transports. Thread-safety: one thread at a time, as transports."""

    def __init__(self, connect_timeout: float = 1.0,
                 wrappers: Sequence[TransportWrapper] = ()) -> None:
        self.connect_timeout = connect_timeout  # seconds, for endpoints that connect
        self.wrappers = list(wrappers)

    def open(self, resource: Resource) -> Transport:
        transport = resource.connect(self.connect_timeout)
        for wrap in self.wrappers:
            transport = wrap(resource, transport)
        return transport
