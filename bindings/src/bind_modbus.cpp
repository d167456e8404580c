// Modbus client for Python. Every transaction runs under
// py::call_guard<py::gil_scoped_release>(): arguments and results are converted by pybind11
// while it holds the GIL (PyBytes, DeviceIdentification below), the transaction runs without
// it. Every transaction is also recorded (take_exchanges) so the pytest plugin can journal it
// after the test.
#include <pybind11/stl.h>

#include <memory>
#include <tuple>

#include "bindings.hpp"
#include "hilbench/exchange.hpp"
#include "hilbench/protocol/modbus.hpp"
#include "hilbench/recorder.hpp"
#include "py_bytes.hpp"
#include "py_exchange.hpp"
#include "py_json.hpp"
#include "py_time.hpp"

namespace pybind11::detail {
/// {'conformity_level': int, 'objects': {object_id: str}}. Device strings are untrusted:
/// decoded leniently (U+FFFD for bad UTF-8), never failing.
template <>
struct type_caster<hilbench::modbus::DeviceIdentification> {
  PYBIND11_TYPE_CASTER(hilbench::modbus::DeviceIdentification, const_name("dict[str, Any]"));
  bool load(handle, bool) { return false; }  // result only
  static handle cast(const hilbench::modbus::DeviceIdentification& identity, return_value_policy,
                     handle) {
    dict objects;
    for (const auto& [id, text] : identity.objects) {
      objects[int_(id)] = reinterpret_steal<str>(
          PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), "replace"));
    }
    dict out;
    out["conformity_level"] = identity.conformity_level;
    out["objects"] = objects;
    return out.release();
  }
};
}  // namespace pybind11::detail

namespace py = pybind11;

namespace hilbench::python {
namespace {

using modbus::Client;

// The client plus the recorder its exchange sink feeds.
struct RecordingClient {
  RecordingClient(std::shared_ptr<Transport> transport, modbus::ClientOptions options)
      : client(std::move(transport), options) {
    client.set_exchange_sink(exchanges.sink());
  }
  Client client;
  Recorder<Exchange> exchanges;
};

using release_gil = py::call_guard<py::gil_scoped_release>;

modbus::DeviceIdCategory parse_category(const std::string& name) {
  if (name == "basic") return modbus::DeviceIdCategory::basic;
  if (name == "regular") return modbus::DeviceIdCategory::regular;
  if (name == "extended") return modbus::DeviceIdCategory::extended;
  throw std::invalid_argument("category must be 'basic', 'regular' or 'extended', got '" + name +
                              "'");
}

}  // namespace

void bind_modbus(py::module_& m) {
  m.def(
      "crc16", [](const py::bytes& data) { return modbus::crc16(from_bytes(data)); },
      "CRC-16/MODBUS of data (append low byte first).");
  m.def("exception_name", &modbus::exception_name);
  m.def(
      "encode_rtu",
      [](std::uint8_t unit, std::uint8_t function, const py::bytes& data) {
        return to_bytes(modbus::encode_rtu(unit, modbus::Pdu{function, from_bytes(data)}));
      },
      py::arg("unit"), py::arg("function"), py::arg("data"), "RTU ADU: unit, PDU, CRC.");
  m.def(
      "encode_tcp",
      [](std::uint16_t transaction_id, std::uint8_t unit, std::uint8_t function,
         const py::bytes& data) {
        return to_bytes(
            modbus::encode_tcp(transaction_id, unit, modbus::Pdu{function, from_bytes(data)}));
      },
      py::arg("transaction_id"), py::arg("unit"), py::arg("function"), py::arg("data"));

  py::class_<RecordingClient, std::shared_ptr<RecordingClient>>(
      m, "ModbusClient",
      "Modbus RTU/TCP client over a Transport. timeout and rtu_silence are seconds. "
      "Not thread-safe: one thread per client.")
      .def(py::init([](std::shared_ptr<Transport> transport, const std::string& framing,
                       std::uint8_t unit, double timeout, double rtu_silence) {
             if (!transport) throw std::invalid_argument("transport must not be None");
             modbus::ClientOptions options;
             if (framing == "rtu") {
               options.framing = modbus::Framing::rtu;
             } else if (framing == "tcp") {
               options.framing = modbus::Framing::tcp;
             } else {
               throw std::invalid_argument("framing must be 'rtu' or 'tcp', got '" + framing + "'");
             }
             options.unit = unit;
             options.timeout = seconds_to_ns(timeout, "timeout");
             options.rtu_silence = seconds_to_ns(rtu_silence, "rtu_silence");
             return std::make_shared<RecordingClient>(std::move(transport), options);
           }),
           py::arg("transport"), py::arg("framing") = "tcp", py::arg("unit") = 1,
           py::arg("timeout") = 1.0, py::arg("rtu_silence") = 0.0)
      .def_property_readonly("framing",
                             [](const RecordingClient& self) {
                               return self.client.options().framing == modbus::Framing::rtu ? "rtu"
                                                                                            : "tcp";
                             })
      .def_property(
          "unit", [](const RecordingClient& self) { return self.client.options().unit; },
          [](RecordingClient& self, std::uint8_t unit) { self.client.set_unit(unit); })
      .def_property(
          "timeout",
          [](const RecordingClient& self) { return ns_to_seconds(self.client.options().timeout); },
          [](RecordingClient& self, double timeout) {
            self.client.set_timeout(seconds_to_ns(timeout, "timeout"));
          })
      .def_property_readonly("transport_name",
                             [](RecordingClient& self) { return self.client.transport().name(); })
      .def_property_readonly(
          "frame_silence",
          [](const RecordingClient& self) { return ns_to_seconds(self.client.frame_silence()); },
          "RTU t3.5 in seconds the client uses now: rtu_silence if given, else from the "
          "transport's serial line (through decorators), else 0.00175.")
      .def(
          "read_coils",
          [](RecordingClient& self, std::uint16_t address, std::uint16_t count) {
            return self.client.read_coils(address, count);
          },
          py::arg("address"), py::arg("count"), release_gil())
      .def(
          "read_discrete_inputs",
          [](RecordingClient& self, std::uint16_t address, std::uint16_t count) {
            return self.client.read_discrete_inputs(address, count);
          },
          py::arg("address"), py::arg("count"), release_gil())
      .def(
          "read_holding_registers",
          [](RecordingClient& self, std::uint16_t address, std::uint16_t count) {
            return self.client.read_holding_registers(address, count);
          },
          py::arg("address"), py::arg("count"), release_gil())
      .def(
          "read_input_registers",
          [](RecordingClient& self, std::uint16_t address, std::uint16_t count) {
            return self.client.read_input_registers(address, count);
          },
          py::arg("address"), py::arg("count"), release_gil())
      .def(
          "write_single_coil",
          [](RecordingClient& self, std::uint16_t address, bool value) {
            self.client.write_single_coil(address, value);
          },
          py::arg("address"), py::arg("value"), release_gil())
      .def(
          "write_single_register",
          [](RecordingClient& self, std::uint16_t address, std::uint16_t value) {
            self.client.write_single_register(address, value);
          },
          py::arg("address"), py::arg("value"), release_gil())
      .def(
          "write_multiple_coils",
          [](RecordingClient& self, std::uint16_t address, const std::vector<bool>& values) {
            self.client.write_multiple_coils(address, values);
          },
          py::arg("address"), py::arg("values"), release_gil())
      .def(
          "write_multiple_registers",
          [](RecordingClient& self, std::uint16_t address,
             const std::vector<std::uint16_t>& values) {
            self.client.write_multiple_registers(address, values);
          },
          py::arg("address"), py::arg("values"), release_gil())
      .def(
          "read_device_identification",
          [](RecordingClient& self, const std::string& category) {
            return self.client.read_device_identification(parse_category(category));
          },
          py::arg("category") = "basic", release_gil(),
          "{'conformity_level': int, 'objects': {object_id: str}} for all objects of the category.")
      .def(
          "transact",
          [](RecordingClient& self, std::uint8_t function, const PyBytes& data) {
            const modbus::Pdu response = self.client.transact(modbus::Pdu{function, data.value});
            return std::make_tuple(response.function, PyBytes{response.data});
          },
          py::arg("function"), py::arg("data") = py::bytes(), release_gil(),
          "Sends any PDU; returns (function, data) as received, exception responses included.")
      .def(
          "take_exchanges",
          [](RecordingClient& self) {
            py::list out;
            for (const Exchange& exchange : self.exchanges.drain())
              out.append(exchange_to_dict(exchange));
            return out;
          },
          "Every transaction since the last call, oldest first, as dicts.");
}

}  // namespace hilbench::python
