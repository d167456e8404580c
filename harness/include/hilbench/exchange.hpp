#pragma once
// Exchange: one request/response transaction as it happened on the wire, whatever the
// protocol (Modbus today; SCPI, IEC 62056-21 and others later). Protocol clients hand every
// transaction they run, whatever its outcome, to an ExchangeSink; the pytest plugin journals
// each one as an `exchange` record (docs/journal-schema.md).
//
// What is protocol-neutral is a field of its own; what only one protocol knows (Modbus
// framing, unit, function, exception code) goes in `fields`, a JSON object the protocol
// documents. Plain data: copy it freely; no thread-safety concerns of its own.
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "hilbench/transport/transport.hpp"

namespace hilbench {

struct Exchange {
  std::string protocol;          ///< "modbus", ...
  std::string transport;         ///< transport name, e.g. "serial:/dev/ttyUSB0" (Transport::name())
  std::string operation;         ///< e.g. "read_holding_registers(0, 10)"
  Bytes request;                 ///< everything sent for this transaction (full frame)
  Bytes response;                ///< everything received for it (may be partial or empty on error)
  std::int64_t request_ns = 0;   ///< CLOCK_MONOTONIC ns when the request was written (0: never)
  std::int64_t response_ns = 0;  ///< CLOCK_MONOTONIC ns when the response was complete (0: none)
  /// "ok" | "device_error" (the device answered with an error of its protocol, e.g. a Modbus
  /// exception response) | "timeout" | "protocol_error" | "transport_error".
  std::string outcome;
  std::string error;  ///< message when outcome != "ok" ("" for a device error returned as data)
  /// Protocol-specific facts, always a JSON object. Modbus: {"framing": "rtu"|"tcp",
  /// "unit": N, "function": N} plus "exception_code": N when the device answered with one.
  nlohmann::json fields = nlohmann::json::object();
};

/// Receives every Exchange; called on the thread that ran the transaction, so keep it short
/// (Recorder<Exchange>::sink() only appends under a mutex).
using ExchangeSink = std::function<void(const Exchange&)>;

}  // namespace hilbench
