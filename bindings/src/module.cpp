#include "bindings.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "hilbench C++ core: transports, protocol clients, evidence journal";
  hilbench::python::bind_errors(m);
  hilbench::python::bind_transport(m);
  hilbench::python::bind_modbus(m);
  hilbench::python::bind_scpi(m);
  hilbench::python::bind_iec62056(m);
  hilbench::python::bind_journal(m);
  hilbench::python::bind_faults(m);
  hilbench::python::bind_measure(m);
  hilbench::python::bind_timing(m);
  hilbench::python::bind_security(m);
}
