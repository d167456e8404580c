// SCPI client for Python: hilbench.ScpiClient(transport, timeout=1.0, terminator="\n").
// Every command and query runs under py::call_guard<py::gil_scoped_release>(); results are
// converted by the casters below while pybind11 holds the GIL. Device text is untrusted:
// decoded leniently (U+FFFD for bad UTF-8), never failing. Every transaction is recorded
// (take_exchanges), like ModbusClient.
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "hilbench/protocol/scpi.hpp"
#include "hilbench/recorder.hpp"
#include "py_bytes.hpp"
#include "py_exchange.hpp"
#include "py_time.hpp"

namespace hilbench::python {
/// Text a device sent, as a Python str decoded leniently.
struct DeviceText {
  std::string value;
};
inline pybind11::str lenient_str(const std::string& text) {
  return pybind11::reinterpret_steal<pybind11::str>(
      PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), "replace"));
}
}  // namespace hilbench::python

namespace pybind11::detail {
template <>
struct type_caster<hilbench::python::DeviceText> {
  PYBIND11_TYPE_CASTER(hilbench::python::DeviceText, const_name("str"));
  bool load(handle, bool) { return false; }  // result only
  static handle cast(const hilbench::python::DeviceText& text, return_value_policy, handle) {
    return hilbench::python::lenient_str(text.value).release();
  }
};

/// {'manufacturer', 'model', 'serial_number', 'firmware'}: str each.
template <>
struct type_caster<hilbench::scpi::Identity> {
  PYBIND11_TYPE_CASTER(hilbench::scpi::Identity, const_name("dict[str, str]"));
  bool load(handle, bool) { return false; }
  static handle cast(const hilbench::scpi::Identity& identity, return_value_policy, handle) {
    using hilbench::python::lenient_str;
    dict out;
    out["manufacturer"] = lenient_str(identity.manufacturer);
    out["model"] = lenient_str(identity.model);
    out["serial_number"] = lenient_str(identity.serial_number);
    out["firmware"] = lenient_str(identity.firmware);
    return out.release();
  }
};

/// (code, message).
template <>
struct type_caster<hilbench::scpi::ErrorEntry> {
  PYBIND11_TYPE_CASTER(hilbench::scpi::ErrorEntry, const_name("tuple[int, str]"));
  bool load(handle, bool) { return false; }
  static handle cast(const hilbench::scpi::ErrorEntry& entry, return_value_policy, handle) {
    return make_tuple(entry.code, hilbench::python::lenient_str(entry.message)).release();
  }
};
}  // namespace pybind11::detail

namespace py = pybind11;

namespace hilbench::python {
namespace {

struct RecordingScpiClient {
  RecordingScpiClient(std::shared_ptr<Transport> transport, scpi::ClientOptions options)
      : client(std::move(transport), std::move(options)) {
    client.set_exchange_sink(exchanges.sink());
  }
  scpi::Client client;
  Recorder<Exchange> exchanges;
};

using release_gil = py::call_guard<py::gil_scoped_release>;

}  // namespace

void bind_scpi(py::module_& m) {
  py::class_<RecordingScpiClient, std::shared_ptr<RecordingScpiClient>>(
      m, "ScpiClient",
      "SCPI / IEEE 488.2 client over a Transport. timeout is seconds per message (each "
      "SYST:ERR? of the drain gets its own). After every command and query the error queue is "
      "drained (SYST:ERR?); entries raise ScpiError. After a timeout or protocol error the next "
      "message waits for resync_quiet seconds of quiet line first. Not thread-safe: one thread "
      "per client.")
      .def(py::init([](std::shared_ptr<Transport> transport, double timeout,
                       const std::string& terminator, bool check_errors,
                       std::size_t max_error_queue, double resync_quiet) {
             if (!transport) throw std::invalid_argument("transport must not be None");
             scpi::ClientOptions options;
             options.timeout = seconds_to_ns(timeout, "timeout");
             options.terminator = terminator;
             options.check_errors = check_errors;
             options.max_error_queue = max_error_queue;
             options.resync_quiet = seconds_to_ns(resync_quiet, "resync_quiet");
             return std::make_shared<RecordingScpiClient>(std::move(transport), options);
           }),
           py::arg("transport"), py::arg("timeout") = 1.0, py::arg("terminator") = "\n",
           py::arg("check_errors") = true, py::arg("max_error_queue") = 32,
           py::arg("resync_quiet") = 0.1)
      .def_property(
          "timeout",
          [](const RecordingScpiClient& self) {
            return ns_to_seconds(self.client.options().timeout);
          },
          [](RecordingScpiClient& self, double timeout) {
            self.client.set_timeout(seconds_to_ns(timeout, "timeout"));
          })
      .def_property_readonly(
          "terminator",
          [](const RecordingScpiClient& self) { return self.client.options().terminator; })
      .def_property_readonly(
          "transport_name",
          [](RecordingScpiClient& self) { return self.client.transport().name(); })
      .def(
          "command",
          [](RecordingScpiClient& self, const std::string& command) {
            self.client.command(command);
          },
          py::arg("command"), release_gil(),
          "Sends a command (no response), then drains the error queue.")
      .def(
          "query",
          [](RecordingScpiClient& self, const std::string& query) {
            return DeviceText{self.client.query(query)};
          },
          py::arg("query"), release_gil(), "The response text, terminator removed.")
      .def(
          "query_number",
          [](RecordingScpiClient& self, const std::string& query) {
            return self.client.query_number(query);
          },
          py::arg("query"), release_gil(), "A query whose response is one NR1/NR2/NR3 number.")
      .def(
          "query_integer",
          [](RecordingScpiClient& self, const std::string& query) {
            return self.client.query_integer(query);
          },
          py::arg("query"), release_gil())
      .def(
          "query_block",
          [](RecordingScpiClient& self, const std::string& query) {
            return PyBytes{self.client.query_block(query)};
          },
          py::arg("query"), release_gil(), "A query whose response is one arbitrary block.")
      .def(
          "identify", [](RecordingScpiClient& self) { return self.client.identify(); },
          release_gil(), "*IDN?: {'manufacturer', 'model', 'serial_number', 'firmware'}.")
      .def(
          "reset", [](RecordingScpiClient& self) { self.client.reset(); }, release_gil(), "*RST")
      .def(
          "clear_status", [](RecordingScpiClient& self) { self.client.clear_status(); },
          release_gil(), "*CLS")
      .def(
          "operation_complete",
          [](RecordingScpiClient& self) { return self.client.operation_complete(); }, release_gil(),
          "*OPC? == 1")
      .def(
          "event_status_register",
          [](RecordingScpiClient& self) { return self.client.event_status_register(); },
          release_gil(), "*ESR? (0..255; reading clears it on the device)")
      .def(
          "status_byte", [](RecordingScpiClient& self) { return self.client.status_byte(); },
          release_gil(), "*STB? (0..255)")
      .def(
          "errors", [](RecordingScpiClient& self) { return self.client.errors(); }, release_gil(),
          "Drains the error queue: [(code, message), ...], oldest first.")
      .def(
          "take_exchanges",
          [](RecordingScpiClient& self) {
            py::list out;
            for (const Exchange& exchange : self.exchanges.drain())
              out.append(exchange_to_dict(exchange));
            return out;
          },
          "Every transaction since the last call, oldest first, as dicts.");
}

}  // namespace hilbench::python
