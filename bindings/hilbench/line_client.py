"""LineClient: request/response over a line-based ASCII protocol (one request line, one
response line), on any bound Transport, every exchange recorded for the journal.

Framing is the C++ Transport's delimiter read (`read_until`) with a deadline per exchange;
errors are the harness's typed errors (DeviceTimeout, TransportError from the transport;
ProtocolError for an over-long or non-text answer; DeviceError for a device's `ERR <code>`
answer). Every exchange, whatever its outcome, is recorded as a protocol-neutral exchange
dict (hilbench.records.exchange_record's input: protocol "ascii-line", fields {"command",
"response", "error_code"}) and handed out by take_exchanges(), like the C++ clients'.
Stale input is dropped before each request, so a late answer is never taken for this one's.
Thread-safety: one thread at a time.
"""

from __future__ import annotations

import time
from typing import Any

from ._core import DeviceTimeout, HarnessError, ProtocolError, Transport, TransportError

MAX_LINE = 4096


class LineDeviceError(ProtocolError):
    """The device answered `ERR <code>`: a device error of the line protocol."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class LineClient:
    def __init__(self, transport: Transport, timeout: float = 1.0,
                 terminator: bytes = b"\r\n") -> None:
        self.transport = transport
        self.timeout = timeout  # seconds, per exchange (write + whole answer)
        self.terminator = terminator  # appended to requests; answers end at its last byte
        self._exchanges: list[dict[str, Any]] = []

    def query(self, command: str) -> str:
        """Sends `command` and returns the answer line without its terminator. Raises
        LineDeviceError for `ERR <code>`, DeviceTimeout when no full line arrives in time."""
        request = command.encode("ascii") + self.terminator
        exchange: dict[str, Any] = {
            "protocol": "ascii-line", "transport": self.transport.name,
            "operation": f"query({command})", "request": request, "response": b"",
            "request_ns": 0, "response_ns": 0, "outcome": "ok", "error": "",
            "fields": {"command": command, "response": None, "error_code": None}}
        deadline = time.monotonic() + self.timeout
        try:
            self.transport.discard_input()
            exchange["request_ns"] = time.monotonic_ns()
            self.transport.write(request, timeout=self.timeout)
            remaining = max(0.001, deadline - time.monotonic())
            answer = self.transport.read_until(self.terminator[-1:], max_bytes=MAX_LINE,
                                               timeout=remaining)
            exchange["response_ns"] = time.monotonic_ns()
            exchange["response"] = answer
            try:
                text = answer.decode("ascii").rstrip("\r\n")
            except UnicodeDecodeError:
                raise ProtocolError(f"{self.transport.name}: query({command}): answer is not "
                                    f"ASCII: {answer!r}") from None
            exchange["fields"]["response"] = text
            if text.startswith("ERR"):
                code_text = text[3:].strip()
                code = int(code_text) if code_text.isdigit() else -1
                exchange["fields"]["error_code"] = code
                raise LineDeviceError(f"{self.transport.name}: query({command}): device "
                                      f"answered {text}", code)
            return text
        except LineDeviceError as error:
            exchange.update(outcome="device_error", error=str(error))
            raise
        except DeviceTimeout as error:
            exchange.update(outcome="timeout", error=str(error))
            raise
        except TransportError as error:
            exchange.update(outcome="transport_error", error=str(error))
            raise
        except HarnessError as error:
            exchange.update(outcome="protocol_error", error=str(error))
            raise
        finally:
            self._exchanges.append(exchange)

    def take_exchanges(self) -> list[dict[str, Any]]:
        exchanges, self._exchanges = self._exchanges, []
        return exchanges
