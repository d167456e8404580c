"""Journal record shapes that more than one package reads or writes: one definition.

The pytest plugin writes these records, docs/journal-schema.md documents them and
hilbench_reports reads them. The envelope (schema, seq, hash chain) is the C++ Journal's;
its schema version is _core.JOURNAL_SCHEMA_VERSION.

Schema 2 made the `exchange` record protocol-neutral: `protocol`, `transport`, request and
response bytes with timestamps, outcome, and a protocol-specific `fields` object. Journals
of schema 1 (Modbus-only exchanges) are still read: `upgrade` turns their records into the
schema-2 shape, so old evidence still verifies and reports.
"""

from __future__ import annotations

from typing import Any, Mapping

from ._core import JOURNAL_SCHEMA_VERSION

JOURNAL_SCHEMA = JOURNAL_SCHEMA_VERSION
# The `measurement` record (hilbench.measure) is versioned inside its payload
# (`measurement_schema`): a record type added to schema 2, which readers of schema 2 keep
# without using it in verdicts (docs/journal-schema.md, "Older schemas").
READABLE_SCHEMAS = (1, JOURNAL_SCHEMA)

# `exchange` data, in the order reports show them (frames separately, as hex).
EXCHANGE_KEYS = ("nodeid", "dut", "protocol", "transport", "operation", "outcome", "error",
                 "request_ns", "response_ns", "fields")
EXCHANGE_FRAMES = ("request_hex", "response_hex")
EXCHANGE_OUTCOMES = ("ok", "device_error", "timeout", "protocol_error", "transport_error")


def exchange_record(nodeid: str | None, dut: str, exchange: Mapping[str, Any]) -> dict[str, Any]:
    """The `exchange` record data for one exchange dict as drivers hand them out
    (protocol, transport, operation, request, response, request_ns, response_ns, outcome,
    error, fields)."""
    return {
        "nodeid": nodeid, "dut": dut, "protocol": exchange["protocol"],
        "transport": exchange["transport"], "operation": exchange["operation"],
        "request_hex": bytes(exchange["request"]).hex(),
        "response_hex": bytes(exchange["response"]).hex(),
        "request_ns": exchange["request_ns"], "response_ns": exchange["response_ns"],
        "outcome": exchange["outcome"], "error": exchange["error"],
        "fields": dict(exchange["fields"]),
    }


def upgrade(schema: int, record_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """A record's data in the current schema's shape (schema 1: Modbus-only exchanges)."""
    if schema == 1 and record_type == "exchange":
        fields = {k: data[k] for k in ("framing", "unit", "function") if k in data}
        outcome = data.get("outcome")
        upgraded = {k: v for k, v in data.items() if k not in fields}
        upgraded.update(protocol="modbus", fields=fields,
                        outcome="device_error" if outcome == "exception" else outcome)
        return upgraded
    return data
