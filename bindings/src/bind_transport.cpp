// Transports for Python. Durations are float seconds; bytes are `bytes`. Every blocking call
// releases the GIL. Raw traffic can be captured (start_capture / take_capture) so the
// plugin can journal it without Python callbacks on the I/O path.
#include <pybind11/chrono.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>

#include "bindings.hpp"
#include "hilbench/errors.hpp"
#include "hilbench/recorder.hpp"
#include "hilbench/transport/serial.hpp"
#include "hilbench/transport/tcp.hpp"
#include "py_bytes.hpp"
#include "py_time.hpp"

namespace py = pybind11;

namespace hilbench::python {
namespace {

template <class Enum>
Enum parse_choice(const std::string& value, const char* what,
                  std::initializer_list<std::pair<const char*, Enum>> choices) {
  for (const auto& [name, choice] : choices)
    if (value == name) return choice;
  std::string allowed;
  for (const auto& [name, choice] : choices)
    allowed += std::string(allowed.empty() ? "" : ", ") + name;
  throw ConfigError({"", what, std::nullopt}, "'" + value + "' is not one of: " + allowed);
}

}  // namespace

void bind_transport(py::module_& m) {
  py::class_<Transport, std::shared_ptr<Transport>>(
      m, "Transport", "A byte stream to one device with deadline-bound I/O.")
      .def_property_readonly("name", &Transport::name)
      .def(
          "write",
          [](Transport& t, const py::bytes& data, double timeout) {
            const Bytes bytes = from_bytes(data);
            py::gil_scoped_release release;
            t.write(bytes, deadline_in(timeout));
          },
          py::arg("data"), py::arg("timeout") = 1.0)
      .def(
          "read_exact",
          [](Transport& t, std::size_t count, double timeout) {
            Bytes out;
            {
              py::gil_scoped_release release;
              out = t.read_exact(count, deadline_in(timeout));
            }
            return to_bytes(out);
          },
          py::arg("count"), py::arg("timeout") = 1.0)
      .def(
          "read_until",
          [](Transport& t, const py::bytes& delimiter, std::size_t max_bytes, double timeout) {
            const Bytes delim = from_bytes(delimiter);
            Bytes out;
            {
              py::gil_scoped_release release;
              out = t.read_until(delim, max_bytes, deadline_in(timeout));
            }
            return to_bytes(out);
          },
          py::arg("delimiter"), py::arg("max_bytes") = 4096, py::arg("timeout") = 1.0)
      .def(
          "read_until_silence",
          [](Transport& t, double silence, std::size_t max_bytes, double timeout) {
            const Nanoseconds quiet = seconds_to_ns(silence, "silence");
            Bytes out;
            {
              py::gil_scoped_release release;
              out = t.read_until_silence(quiet, max_bytes, deadline_in(timeout));
            }
            return to_bytes(out);
          },
          py::arg("silence"), py::arg("max_bytes") = 4096, py::arg("timeout") = 1.0)
      .def(
          "drain_until_quiet",
          [](Transport& t, double quiet, double timeout) {
            const Nanoseconds window = seconds_to_ns(quiet, "quiet");
            Transport::Drained drained;
            {
              py::gil_scoped_release release;
              drained = t.drain_until_quiet(window, window, deadline_in(timeout));
            }
            return py::make_tuple(to_bytes(drained.bytes), drained.quiet);
          },
          py::arg("quiet"), py::arg("timeout") = 1.0,
          "Drops input until the line was quiet for `quiet` s; returns (dropped bytes, went "
          "quiet).")
      .def("discard_input",
           [](Transport& t) {
             py::gil_scoped_release release;
             t.discard_input();
           })
      .def(
          "start_capture",
          [](Transport& t) {
            auto recorder = std::make_shared<Recorder<Chunk>>();
            t.set_chunk_sink(recorder->sink());
            return recorder;
          },
          "Starts recording every chunk read or written; returns the capture to drain.")
      .def("stop_capture", [](Transport& t) { t.set_chunk_sink({}); });

  py::class_<Recorder<Chunk>, std::shared_ptr<Recorder<Chunk>>>(m, "ChunkCapture")
      .def(
          "drain",
          [](Recorder<Chunk>& r) {
            py::list out;
            for (const Chunk& chunk : r.drain()) {
              out.append(py::make_tuple(chunk.direction == Direction::tx ? "tx" : "rx",
                                        chunk.monotonic_ns, to_bytes(chunk.bytes)));
            }
            return out;
          },
          "[(direction 'tx'|'rx', monotonic_ns, bytes)], oldest first; empties the capture.");

  py::class_<SerialTransport, Transport, std::shared_ptr<SerialTransport>>(
      m, "SerialTransport", "A serial port through libserialport (real or umockdev-presented).")
      .def(py::init([](const std::string& port, int baud, int data_bits, const std::string& parity,
                       int stop_bits, const std::string& flow_control) {
             SerialSettings settings;
             settings.port = port;
             settings.baud = baud;
             settings.data_bits = data_bits;
             settings.parity = parse_choice<Parity>(parity, "parity",
                                                    {{"none", Parity::none},
                                                     {"odd", Parity::odd},
                                                     {"even", Parity::even},
                                                     {"mark", Parity::mark},
                                                     {"space", Parity::space}});
             settings.stop_bits = stop_bits;
             settings.flow_control = parse_choice<FlowControl>(flow_control, "flow_control",
                                                               {{"none", FlowControl::none},
                                                                {"xon_xoff", FlowControl::xon_xoff},
                                                                {"rts_cts", FlowControl::rts_cts},
                                                                {"dtr_dsr", FlowControl::dtr_dsr}});
             py::gil_scoped_release release;
             return std::make_shared<SerialTransport>(std::move(settings));
           }),
           py::arg("port"), py::arg("baud") = 9600, py::arg("data_bits") = 8,
           py::arg("parity") = "none", py::arg("stop_bits") = 1, py::arg("flow_control") = "none")
      .def_property_readonly("port", [](const SerialTransport& t) { return t.settings().port; })
      .def_property_readonly("baud", [](const SerialTransport& t) { return t.settings().baud; })
      .def_property_readonly(
          "character_time",
          [](const SerialTransport& t) { return ns_to_seconds(t.character_time()); })
      .def_property_readonly(
          "frame_silence",
          [](const SerialTransport& t) { return ns_to_seconds(t.frame_silence()); })
      .def("modem_lines",
           [](SerialTransport& t) {
             ModemLines lines;
             {
               py::gil_scoped_release release;
               lines = t.modem_lines();
             }
             py::dict out;
             out["dtr"] = lines.dtr;
             out["rts"] = lines.rts;
             out["cts"] = lines.cts;
             out["dsr"] = lines.dsr;
             out["dcd"] = lines.dcd;
             out["ri"] = lines.ri;
             return out;
           })
      .def("set_dtr",
           [](SerialTransport& t, bool asserted) {
             py::gil_scoped_release release;
             t.set_dtr(asserted);
           })
      .def("set_rts", [](SerialTransport& t, bool asserted) {
        py::gil_scoped_release release;
        t.set_rts(asserted);
      });

  py::class_<TcpTransport, Transport, std::shared_ptr<TcpTransport>>(
      m, "TcpTransport", "A TCP connection (real socket).")
      .def(py::init([](const std::string& host, std::uint16_t port, double connect_timeout,
                       bool no_delay) {
             TcpSettings settings;
             settings.host = host;
             settings.port = port;
             settings.connect_timeout = seconds_to_ns(connect_timeout, "connect_timeout");
             settings.no_delay = no_delay;
             py::gil_scoped_release release;
             return std::make_shared<TcpTransport>(std::move(settings));
           }),
           py::arg("host"), py::arg("port"), py::arg("connect_timeout") = 3.0,
           py::arg("no_delay") = true)
      .def_property_readonly("host", [](const TcpTransport& t) { return t.settings().host; })
      .def_property_readonly("port", [](const TcpTransport& t) { return t.settings().port; });
}

}  // namespace hilbench::python
