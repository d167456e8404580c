#pragma once
// Exchange -> Python dict, the same keys for every protocol (docs/journal-schema.md):
// protocol, transport, operation, request, response (bytes), request_ns, response_ns,
// outcome, error, fields (plain dict). Call with the GIL held.
#include <pybind11/pybind11.h>

#include "hilbench/exchange.hpp"
#include "py_bytes.hpp"
#include "py_json.hpp"

namespace hilbench::python {

inline pybind11::dict exchange_to_dict(const Exchange& exchange) {
  pybind11::dict out;
  out["protocol"] = exchange.protocol;
  out["transport"] = exchange.transport;
  out["operation"] = exchange.operation;
  out["request"] = to_bytes(exchange.request);
  out["response"] = to_bytes(exchange.response);
  out["request_ns"] = exchange.request_ns;
  out["response_ns"] = exchange.response_ns;
  out["outcome"] = exchange.outcome;
  out["error"] = exchange.error;
  out["fields"] = to_python(exchange.fields);
  return out;
}

}  // namespace hilbench::python
