#pragma once
// One bind_* function per area; module.cpp calls them in dependency order.
#include <pybind11/pybind11.h>

namespace hilbench::python {
void bind_errors(pybind11::module_& m);     // exception classes (first: others raise them)
void bind_transport(pybind11::module_& m);  // Deadline-free Python face of transports
void bind_modbus(pybind11::module_& m);
void bind_scpi(pybind11::module_& m);
void bind_iec62056(pybind11::module_& m);
void bind_journal(pybind11::module_& m);
void bind_faults(pybind11::module_& m);    // fault plans, FaultyTransport (after transport)
void bind_measure(pybind11::module_& m);   // submodule measure: uncertainty, decision rules
void bind_timing(pybind11::module_& m);    // latency histograms, exchange timing (measure/)
void bind_security(pybind11::module_& m);  // TLS probe, port scan
}  // namespace hilbench::python
