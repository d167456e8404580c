// Transports for Python. Durations are float seconds; bytes are `bytes`. Every blocking call
// runs under py::call_guard<py::gil_scoped_release>() (arguments and results are converted
// by pybind11 with the GIL held: PyBytes, std::tuple). Constructors that open a port or a
// connection release the GIL by hand around the open alone, because pybind11's instance
// set-up after the factory must run with the GIL. Raw traffic can be captured (start_capture
// / take_capture) so the plugin can journal it without Python callbacks on the I/O path.
#include <pybind11/chrono.h>
#include <pybind11/stl.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>

#include "bindings.hpp"
#include "hilbench/errors.hpp"
#include "hilbench/protocol/modbus.hpp"
#include "hilbench/protocol/usbtmc.hpp"
#include "hilbench/recorder.hpp"
#include "hilbench/transport/decorator.hpp"
#include "hilbench/transport/serial.hpp"
#include "hilbench/transport/serial_line.hpp"
#include "hilbench/transport/serial_ports.hpp"
#include "hilbench/transport/tcp.hpp"
#include "hilbench/transport/usb.hpp"
#include "py_bytes.hpp"
#include "py_time.hpp"

namespace py = pybind11;

namespace hilbench::python {
namespace {

using release_gil = py::call_guard<py::gil_scoped_release>;

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

constexpr std::initializer_list<std::pair<const char*, Parity>> parity_names = {
    {"none", Parity::none},
    {"odd", Parity::odd},
    {"even", Parity::even},
    {"mark", Parity::mark},
    {"space", Parity::space}};
constexpr std::initializer_list<std::pair<const char*, FlowControl>> flow_control_names = {
    {"none", FlowControl::none},
    {"xon_xoff", FlowControl::xon_xoff},
    {"rts_cts", FlowControl::rts_cts},
    {"dtr_dsr", FlowControl::dtr_dsr}};

template <class Enum>
const char* name_of(Enum value, std::initializer_list<std::pair<const char*, Enum>> choices) {
  for (const auto& [name, choice] : choices)
    if (choice == value) return name;
  return "?";
}

/// {'baud', 'data_bits', 'parity', 'stop_bits', 'flow_control'} or None.
py::object line_settings_dict(Transport& transport) {
  const SerialLine* line = transport.serial_line();
  if (line == nullptr) return py::none();
  const LineSettings settings = line->line_settings();
  py::dict out;
  out["baud"] = settings.baud;
  out["data_bits"] = settings.data_bits;
  out["parity"] = name_of(settings.parity, parity_names);
  out["stop_bits"] = settings.stop_bits;
  out["flow_control"] = name_of(settings.flow_control, flow_control_names);
  return out;
}

py::dict usb_device_dict(const UsbDeviceInfo& info) {
  py::dict entry;
  entry["vendor_id"] = info.vendor_id;
  entry["product_id"] = info.product_id;
  entry["serial"] = info.serial;
  entry["manufacturer"] = info.manufacturer;
  entry["product"] = info.product;
  entry["bus"] = info.bus;
  entry["address"] = info.address;
  entry["path"] = info.path;
  return entry;
}

py::dict capabilities_dict(const usbtmc::Capabilities& c) {
  py::dict out;
  out["bcd_usbtmc"] = c.bcd_usbtmc;
  out["indicator_pulse"] = c.indicator_pulse;
  out["talk_only"] = c.talk_only;
  out["listen_only"] = c.listen_only;
  out["term_char"] = c.term_char;
  out["bcd_usb488"] = c.bcd_usb488;
  out["is_488_2"] = c.is_488_2;
  out["ren_control"] = c.ren_control;
  out["trigger"] = c.trigger;
  out["scpi"] = c.scpi;
  out["sr1"] = c.sr1;
  out["rl1"] = c.rl1;
  out["dt1"] = c.dt1;
  return out;
}

}  // namespace

void bind_transport(py::module_& m) {
  py::class_<Transport, std::shared_ptr<Transport>>(
      m, "Transport", "A byte stream to one device with deadline-bound I/O.")
      .def_property_readonly("name", &Transport::name)
      .def(
          "write",
          [](Transport& t, const PyBytes& data, double timeout) {
            t.write(data.value, deadline_in(timeout));
          },
          py::arg("data"), py::arg("timeout") = 1.0, release_gil())
      .def(
          "read_exact",
          [](Transport& t, std::size_t count, double timeout) {
            return PyBytes{t.read_exact(count, deadline_in(timeout))};
          },
          py::arg("count"), py::arg("timeout") = 1.0, release_gil())
      .def(
          "read_until",
          [](Transport& t, const PyBytes& delimiter, std::size_t max_bytes, double timeout) {
            return PyBytes{t.read_until(delimiter.value, max_bytes, deadline_in(timeout))};
          },
          py::arg("delimiter"), py::arg("max_bytes") = 4096, py::arg("timeout") = 1.0,
          release_gil())
      .def(
          "read_until_silence",
          [](Transport& t, double silence, std::size_t max_bytes, double timeout) {
            const Nanoseconds quiet = seconds_to_ns(silence, "silence");
            return PyBytes{t.read_until_silence(quiet, max_bytes, deadline_in(timeout))};
          },
          py::arg("silence"), py::arg("max_bytes") = 4096, py::arg("timeout") = 1.0, release_gil())
      .def(
          "drain_until_quiet",
          [](Transport& t, double quiet, double timeout) {
            const Nanoseconds window = seconds_to_ns(quiet, "quiet");
            Transport::Drained drained = t.drain_until_quiet(window, window, deadline_in(timeout));
            return std::make_tuple(PyBytes{std::move(drained.bytes)}, drained.quiet);
          },
          py::arg("quiet"), py::arg("timeout") = 1.0, release_gil(),
          "Drops input until the line was quiet for `quiet` s; returns (dropped bytes, went "
          "quiet).")
      .def("discard_input", &Transport::discard_input, release_gil())
      .def("serial_line_settings", &line_settings_dict,
           "The serial line's settings {'baud', 'data_bits', 'parity', 'stop_bits', "
           "'flow_control'}, or None if the transport has no serial line (TCP).")
      .def_property_readonly(
          "character_time",
          [](Transport& t) -> std::optional<double> {
            const SerialLine* line = t.serial_line();
            if (line == nullptr) return std::nullopt;
            return ns_to_seconds(line->character_time());
          },
          "Seconds per character on the serial line at its current settings, or None.")
      .def_property_readonly(
          "connection_lost", &Transport::connection_lost,
          "True once the connection is known gone (an I/O error, or the peer closed or hung "
          "up): open a new transport. Non-blocking.")
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
             settings.parity = parse_choice<Parity>(parity, "parity", parity_names);
             settings.stop_bits = stop_bits;
             settings.flow_control =
                 parse_choice<FlowControl>(flow_control, "flow_control", flow_control_names);
             py::gil_scoped_release release;  // the open only (see the top of this file)
             return std::make_shared<SerialTransport>(std::move(settings));
           }),
           py::arg("port"), py::arg("baud") = 9600, py::arg("data_bits") = 8,
           py::arg("parity") = "none", py::arg("stop_bits") = 1, py::arg("flow_control") = "none")
      .def_property_readonly("port", [](const SerialTransport& t) { return t.settings().port; })
      .def_property_readonly("baud", [](const SerialTransport& t) { return t.settings().baud; })
      .def_property_readonly(
          "frame_silence",
          [](const SerialTransport& t) {
            return ns_to_seconds(modbus::rtu_frame_silence(t.line_settings()));
          },
          "Modbus RTU t3.5 in seconds at the current settings (1750 us above 19200 baud).")
      .def(
          "reconfigure",
          [](SerialTransport& t, std::optional<int> baud, std::optional<int> data_bits,
             std::optional<std::string> parity, std::optional<int> stop_bits) {
            LineSettings settings = t.line_settings();
            if (baud) settings.baud = *baud;
            if (data_bits) settings.data_bits = *data_bits;
            if (parity) settings.parity = parse_choice<Parity>(*parity, "parity", parity_names);
            if (stop_bits) settings.stop_bits = *stop_bits;
            t.reconfigure(settings);
          },
          py::kw_only(), py::arg("baud") = py::none(), py::arg("data_bits") = py::none(),
          py::arg("parity") = py::none(), py::arg("stop_bits") = py::none(), release_gil(),
          "Changes line settings while the port stays open (omitted = unchanged); reads them "
          "back and raises TransportError naming a setting that did not stick.")
      .def(
          "modem_lines",
          [](SerialTransport& t) {
            const ModemLines lines = t.modem_lines();
            return std::map<std::string, bool>{{"dtr", lines.dtr}, {"rts", lines.rts},
                                               {"cts", lines.cts}, {"dsr", lines.dsr},
                                               {"dcd", lines.dcd}, {"ri", lines.ri}};
          },
          release_gil(), "{'dtr', 'rts', 'cts', 'dsr', 'dcd', 'ri': bool} (True = asserted).")
      .def("set_dtr", &SerialTransport::set_dtr, py::arg("asserted"), release_gil())
      .def("set_rts", &SerialTransport::set_rts, py::arg("asserted"), release_gil());

  py::class_<TcpTransport, Transport, std::shared_ptr<TcpTransport>>(
      m, "TcpTransport", "A TCP connection (real socket).")
      .def(py::init([](const std::string& host, std::uint16_t port, double connect_timeout,
                       bool no_delay) {
             TcpSettings settings;
             settings.host = host;
             settings.port = port;
             settings.connect_timeout = seconds_to_ns(connect_timeout, "connect_timeout");
             settings.no_delay = no_delay;
             py::gil_scoped_release release;  // the connect only (see the top of this file)
             return std::make_shared<TcpTransport>(std::move(settings));
           }),
           py::arg("host"), py::arg("port"), py::arg("connect_timeout") = 3.0,
           py::arg("no_delay") = true)
      .def_property_readonly("host", [](const TcpTransport& t) { return t.settings().host; })
      .def_property_readonly("port", [](const TcpTransport& t) { return t.settings().port; });

  py::class_<TransportDecorator, Transport, std::shared_ptr<TransportDecorator>>(
      m, "TransportDecorator",
      "Wraps a transport and passes everything through (the base of fault injection). Its "
      "name is 'label(inner name)'; its serial line is the inner transport's.")
      .def(py::init([](std::shared_ptr<Transport> inner, const std::string& label) {
             return std::make_shared<TransportDecorator>(std::move(inner), label);
           }),
           py::arg("inner"), py::arg("label") = "pass")
      .def_property_readonly("inner", &TransportDecorator::inner)
      .def_property_readonly("label", &TransportDecorator::label);

  py::class_<UsbTransport, Transport, std::shared_ptr<UsbTransport>>(
      m, "UsbTransport",
      "One interface of a USB device over libusb-1.0 (own context; synchronous event "
      "handling with the GIL released). Found by VID:PID, serial and/or bus/port path.")
      .def(py::init([](std::optional<std::uint16_t> vendor_id,
                       std::optional<std::uint16_t> product_id, const std::string& serial,
                       const std::string& path, std::optional<int> interface_number,
                       bool detach_kernel_driver) {
             UsbSettings settings;
             settings.query.vendor_id = vendor_id;
             settings.query.product_id = product_id;
             settings.query.serial = serial;
             settings.query.path = path;
             settings.interface_number = interface_number;
             settings.detach_kernel_driver = detach_kernel_driver;
             py::gil_scoped_release release;  // the open only (see the top of this file)
             return std::make_shared<UsbTransport>(std::move(settings));
           }),
           py::arg("vendor_id") = py::none(), py::arg("product_id") = py::none(),
           py::arg("serial") = "", py::arg("path") = "", py::arg("interface_number") = py::none(),
           py::arg("detach_kernel_driver") = true)
      .def_property_readonly("device",
                             [](const UsbTransport& t) { return usb_device_dict(t.device()); })
      .def_property_readonly("interface_number", &UsbTransport::interface_number);

  py::class_<usbtmc::UsbtmcTransport, Transport, std::shared_ptr<usbtmc::UsbtmcTransport>>(
      m, "UsbtmcTransport",
      "USBTMC/USB488 messages over a UsbTransport: each write is one message, reads ask the "
      "device for one; timed-out transfers are aborted (or the interface cleared).")
      .def(py::init([](std::shared_ptr<UsbTransport> usb, double recovery_timeout,
                       std::uint32_t max_transfer) {
             usbtmc::UsbtmcSettings settings;
             settings.recovery_timeout = seconds_to_ns(recovery_timeout, "recovery_timeout");
             settings.max_transfer = max_transfer;
             py::gil_scoped_release release;
             return std::make_shared<usbtmc::UsbtmcTransport>(std::move(usb), settings);
           }),
           py::arg("usb"), py::arg("recovery_timeout") = 0.5, py::arg("max_transfer") = 65536)
      .def_property_readonly("usb", &usbtmc::UsbtmcTransport::usb_transport)
      .def_property_readonly(
          "capabilities",
          [](const usbtmc::UsbtmcTransport& t) { return capabilities_dict(t.capabilities()); })
      .def_property_readonly("is_usb488", &usbtmc::UsbtmcTransport::is_usb488)
      .def_property_readonly("recoveries", &usbtmc::UsbtmcTransport::recoveries)
      .def_property_readonly("last_recovery", &usbtmc::UsbtmcTransport::last_recovery)
      .def_property_readonly("last_eom", &usbtmc::UsbtmcTransport::last_eom)
      .def(
          "read_message",
          [](usbtmc::UsbtmcTransport& t, double timeout) {
            return PyBytes{t.read_message(deadline_in(timeout))};
          },
          py::arg("timeout") = 1.0, release_gil(), "One whole message (until EOM).")
      .def(
          "read_status_byte",
          [](usbtmc::UsbtmcTransport& t, double timeout) {
            return t.read_status_byte(deadline_in(timeout));
          },
          py::arg("timeout") = 1.0, release_gil())
      .def(
          "ren_control",
          [](usbtmc::UsbtmcTransport& t, bool enable, double timeout) {
            t.ren_control(enable, deadline_in(timeout));
          },
          py::arg("enable"), py::arg("timeout") = 1.0, release_gil())
      .def(
          "go_to_local",
          [](usbtmc::UsbtmcTransport& t, double timeout) { t.go_to_local(deadline_in(timeout)); },
          py::arg("timeout") = 1.0, release_gil())
      .def(
          "clear",
          [](usbtmc::UsbtmcTransport& t, double timeout) { t.clear(deadline_in(timeout)); },
          py::arg("timeout") = 1.0, release_gil());

  m.def(
      "list_usb_devices",
      []() {
        std::vector<UsbDeviceInfo> devices;
        {
          py::gil_scoped_release release;
          devices = list_usb_devices();
        }
        py::list out;
        for (const UsbDeviceInfo& info : devices) out.append(usb_device_dict(info));
        return out;
      },
      "The USB devices libusb sees now (or those of a umockdev testbed): vendor_id, "
      "product_id, serial, manufacturer, product, bus, address, path.");
  m.def(
      "list_serial_ports",
      []() {
        py::list out;
        for (const SerialPortInfo& port : list_serial_ports()) {
          py::dict entry;
          entry["name"] = port.name;
          entry["description"] = port.description;
          entry["transport"] = port.transport;
          entry["usb_vendor_id"] = port.usb_vendor_id ? py::cast(*port.usb_vendor_id) : py::none();
          entry["usb_product_id"] =
              port.usb_product_id ? py::cast(*port.usb_product_id) : py::none();
          entry["usb_serial"] = port.usb_serial;
          entry["usb_manufacturer"] = port.usb_manufacturer;
          entry["usb_product"] = port.usb_product;
          entry["usb_bus"] = port.usb_bus ? py::cast(*port.usb_bus) : py::none();
          entry["usb_address"] = port.usb_address ? py::cast(*port.usb_address) : py::none();
          out.append(std::move(entry));
        }
        return out;
      },
      "The serial ports the OS (or a umockdev testbed) shows now, with USB adapter identity.");
  m.def(
      "find_serial_port",
      [](const std::string& usb_serial, std::optional<std::uint16_t> usb_vendor_id,
         std::optional<std::uint16_t> usb_product_id) {
        SerialPortQuery query;
        query.usb_serial = usb_serial;
        query.usb_vendor_id = usb_vendor_id;
        query.usb_product_id = usb_product_id;
        return find_serial_port(query);
      },
      py::arg("usb_serial") = "", py::arg("usb_vendor_id") = py::none(),
      py::arg("usb_product_id") = py::none(), py::call_guard<py::gil_scoped_release>(),
      "OS name of the one port whose USB adapter matches; PortNotFound / ConfigError list "
      "the ports seen.");
}

}  // namespace hilbench::python
