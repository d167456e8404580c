// IEC 62056-21 mode C client for Python: hilbench.Iec62056Client(transport, ...). Every
// session step runs under py::call_guard<py::gil_scoped_release>(); results become plain
// dicts while pybind11 holds the GIL. Device text is untrusted: decoded leniently (U+FFFD for
// bad bytes), never failing. Every exchange is recorded (take_exchanges), like ModbusClient.
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "hilbench/protocol/iec62056.hpp"
#include "hilbench/recorder.hpp"
#include "py_bytes.hpp"
#include "py_exchange.hpp"
#include "py_time.hpp"

namespace py = pybind11;

namespace hilbench::python {

static py::str text(const std::string& value) {
  return py::reinterpret_steal<py::str>(
      PyUnicode_DecodeUTF8(value.data(), static_cast<Py_ssize_t>(value.size()), "replace"));
}

static py::dict identification_dict(const iec62056::Identification& id) {
  py::dict out;
  out["raw"] = text(id.raw);
  out["manufacturer"] = text(id.manufacturer);
  out["baud_character"] = text(std::string(1, id.baud_character));
  out["max_baud"] = id.max_baud;
  out["reaction_20ms"] = id.reaction_20ms;
  out["identifier"] = text(id.identifier);
  return out;
}

static py::dict data_set_dict(const iec62056::DataSet& set) {
  py::list values;
  for (const iec62056::Value& value : set.values) {
    py::dict entry;
    entry["value"] = text(value.value);
    entry["unit"] = text(value.unit);
    values.append(entry);
  }
  py::dict out;
  out["address"] = text(set.address);
  out["values"] = values;
  return out;
}

}  // namespace hilbench::python

namespace pybind11::detail {
template <>
struct type_caster<hilbench::iec62056::Identification> {
  PYBIND11_TYPE_CASTER(hilbench::iec62056::Identification, const_name("dict[str, Any]"));
  bool load(handle, bool) { return false; }
  static handle cast(const hilbench::iec62056::Identification& id, return_value_policy, handle) {
    return hilbench::python::identification_dict(id).release();
  }
};
template <>
struct type_caster<hilbench::iec62056::DataSet> {
  PYBIND11_TYPE_CASTER(hilbench::iec62056::DataSet, const_name("dict[str, Any]"));
  bool load(handle, bool) { return false; }
  static handle cast(const hilbench::iec62056::DataSet& set, return_value_policy, handle) {
    return hilbench::python::data_set_dict(set).release();
  }
};
template <>
struct type_caster<hilbench::iec62056::Readout> {
  PYBIND11_TYPE_CASTER(hilbench::iec62056::Readout, const_name("dict[str, Any]"));
  bool load(handle, bool) { return false; }
  static handle cast(const hilbench::iec62056::Readout& readout, return_value_policy, handle) {
    dict out;
    out["identification"] = hilbench::python::identification_dict(readout.identification);
    out["baud"] = readout.baud;
    list sets;
    for (const auto& set : readout.data_sets) sets.append(hilbench::python::data_set_dict(set));
    out["data_sets"] = sets;
    out["message"] =
        bytes(reinterpret_cast<const char*>(readout.message.data()), readout.message.size());
    return out.release();
  }
};
}  // namespace pybind11::detail

namespace hilbench::python {
namespace {

struct RecordingIecClient {
  RecordingIecClient(std::shared_ptr<Transport> transport, iec62056::ClientOptions options)
      : client(std::move(transport), std::move(options)) {
    client.set_exchange_sink(exchanges.sink());
  }
  iec62056::Client client;
  Recorder<Exchange> exchanges;
};

using release_gil = py::call_guard<py::gil_scoped_release>;

}  // namespace

void bind_iec62056(py::module_& m) {
  py::class_<RecordingIecClient, std::shared_ptr<RecordingIecClient>>(
      m, "Iec62056Client",
      "IEC 62056-21 mode C client over a Transport (a serial port for the baud switch). "
      "readout() runs a whole session: sign-on at 300 7E1, identification, ACK, baud switch, "
      "readout with its BCC checked. Programming: open_programming(password), "
      "read_register/write_register (R1/W1), end_programming (B0). Times are seconds. Not "
      "thread-safe: one thread per client.")
      .def(py::init([](std::shared_ptr<Transport> transport, const std::string& address,
                       int max_baud, double reaction_time_max, double inter_character_max,
                       double baud_switch_margin) {
             if (!transport) throw std::invalid_argument("transport must not be None");
             iec62056::ClientOptions options;
             options.address = address;
             options.max_baud = max_baud;
             options.reaction_time_max = seconds_to_ns(reaction_time_max, "reaction_time_max");
             options.inter_character_max =
                 seconds_to_ns(inter_character_max, "inter_character_max");
             options.baud_switch_margin = seconds_to_ns(baud_switch_margin, "baud_switch_margin");
             return std::make_shared<RecordingIecClient>(std::move(transport), options);
           }),
           py::arg("transport"), py::arg("address") = "", py::arg("max_baud") = 19200,
           py::arg("reaction_time_max") = 1.5, py::arg("inter_character_max") = 1.5,
           py::arg("baud_switch_margin") = 0.005)
      .def_property_readonly(
          "transport_name", [](RecordingIecClient& self) { return self.client.transport().name(); })
      .def_property_readonly("programming",
                             [](RecordingIecClient& self) { return self.client.programming(); })
      .def(
          "identify", [](RecordingIecClient& self) { return self.client.identify(); },
          release_gil(), "Sign-on and identification only (no ACK).")
      .def(
          "readout", [](RecordingIecClient& self) { return self.client.readout(); }, release_gil(),
          "A whole readout session: {'identification', 'baud', 'data_sets': [{'address', "
          "'values': [{'value', 'unit'}]}], 'message': bytes (STX .. BCC)}.")
      .def(
          "open_programming",
          [](RecordingIecClient& self, const std::string& password) {
            return self.client.open_programming(password);
          },
          py::arg("password"), release_gil(),
          "Opens programming mode with P1(password); returns the P0 operand.")
      .def(
          "read_register",
          [](RecordingIecClient& self, const std::string& address) {
            return self.client.read_register(address);
          },
          py::arg("address"), release_gil(), "R1: {'address', 'values': [{'value', 'unit'}]}.")
      .def(
          "write_register",
          [](RecordingIecClient& self, const std::string& address, const std::string& value) {
            self.client.write_register(address, value);
          },
          py::arg("address"), py::arg("value"), release_gil(), "W1 address(value); ACK expected.")
      .def(
          "end_programming", [](RecordingIecClient& self) { self.client.end_programming(); },
          release_gil(), "B0: ends programming mode; the line returns to 300 7E1.")
      .def(
          "take_exchanges",
          [](RecordingIecClient& self) {
            py::list out;
            for (const Exchange& exchange : self.exchanges.drain())
              out.append(exchange_to_dict(exchange));
            return out;
          },
          "Every exchange since the last call, oldest first, as dicts.");
}

}  // namespace hilbench::python
