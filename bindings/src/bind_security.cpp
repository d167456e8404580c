// Security probes for Python: hilbench.probe_tls(host, port, ...) -> dict. The probe runs with
// the GIL released (its handshakes take seconds); the result crosses as JsonDict, converted to
// Python objects once the GIL is held again.
#include <pybind11/stl.h>

#include <chrono>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "hilbench/measure/security/port_scan.hpp"
#include "hilbench/measure/security/tls_probe.hpp"
#include "py_json.hpp"

namespace py = pybind11;

namespace hilbench::python {

void bind_security(py::module_& m) {
  m.def(
      "probe_tls",
      [](const std::string& host, std::uint16_t port, const std::string& server_name,
         double attempt_timeout_s, double deadline_s, const std::vector<std::string>& groups) {
        security::TlsProbeOptions options;
        options.host = host;
        options.port = port;
        options.server_name = server_name;
        options.attempt_timeout =
            std::chrono::milliseconds(static_cast<std::int64_t>(attempt_timeout_s * 1000.0));
        options.deadline =
            std::chrono::milliseconds(static_cast<std::int64_t>(deadline_s * 1000.0));
        options.groups = groups;
        return JsonDict{security::probe_tls(options)};
      },
      py::arg("host"), py::arg("port"), py::kw_only(), py::arg("server_name") = "",
      py::arg("attempt_timeout_s") = 2.0, py::arg("deadline_s") = 60.0,
      py::arg("groups") = std::vector<std::string>{}, py::call_guard<py::gil_scoped_release>(),
      "Probes the TLS endpoint host:port (numeric address): versions, cipher suites, groups, "
      "certificate facts, renegotiation, compression. Returns plain data; judges nothing "
      "(hilbench.security.tls_baseline judges it). Raises TransportError, DeviceTimeout, "
      "ConfigError.");

  m.def(
      "scan_tcp_ports",
      [](const std::string& host, std::uint16_t first_port, std::uint16_t last_port,
         double attempt_timeout_s, double deadline_s, std::size_t parallel) {
        security::PortScanOptions options;
        options.host = host;
        options.first_port = first_port;
        options.last_port = last_port;
        options.parallel = parallel;
        options.attempt_timeout =
            std::chrono::milliseconds(static_cast<std::int64_t>(attempt_timeout_s * 1000.0));
        options.deadline =
            std::chrono::milliseconds(static_cast<std::int64_t>(deadline_s * 1000.0));
        const auto result = security::scan_tcp_ports(options);
        nlohmann::json out{
            {"host", host},        {"first_port", first_port},    {"last_port", last_port},
            {"open", result.open}, {"filtered", result.filtered}, {"scanned", result.scanned}};
        return JsonDict{std::move(out)};
      },
      py::arg("host"), py::arg("first_port"), py::arg("last_port"), py::kw_only(),
      py::arg("attempt_timeout_s") = 0.5, py::arg("deadline_s") = 30.0, py::arg("parallel") = 256,
      py::call_guard<py::gil_scoped_release>(),
      "TCP connect scan of a loopback address (127.0.0.0/8, ::1; any other address is a "
      "ConfigError) over first_port..last_port. Returns {open, filtered, scanned, ...}.");
}

}  // namespace hilbench::python
