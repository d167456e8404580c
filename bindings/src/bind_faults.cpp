// Fault plans and the FaultyTransport for Python (docs/faults.md). A plan crosses as a dict
// (JsonDict, converted with the GIL held); parse_fault_plan validates it and returns its
// canonical form. FaultyTransport keeps a Recorder of the faults it applied, drained by
// take_applied() (no Python callback on the I/O path).
#include <pybind11/stl.h>

#include <memory>
#include <string>

#include "bindings.hpp"
#include "hilbench/faults/faulty_transport.hpp"
#include "hilbench/recorder.hpp"
#include "py_json.hpp"

namespace py = pybind11;

namespace hilbench::python {
namespace {

using faults::AppliedFault;
using faults::FaultyTransport;

// The recorder is a base so it exists before FaultyTransport's constructor takes its sink.
struct AppliedRecorder {
  Recorder<AppliedFault> applied;
};

class RecordingFaultyTransport : private AppliedRecorder, public FaultyTransport {
 public:
  RecordingFaultyTransport(std::shared_ptr<Transport> inner, faults::FaultPlan plan,
                           std::size_t max_records)
      : AppliedRecorder{},
        FaultyTransport(std::move(inner), std::move(plan), applied.sink(), max_records) {}
  std::vector<AppliedFault> take() { return applied.drain(); }
};

}  // namespace

void bind_faults(py::module_& m) {
  m.def(
      "parse_fault_plan",
      [](const JsonDict& plan, const std::string& source) {
        return JsonDict{faults::to_json(faults::parse_fault_plan(plan.value, source))};
      },
      py::arg("plan"), py::arg("source") = "",
      "Validates a fault plan dict and returns its canonical form; ConfigError names `source` "
      "(a file) and the key path.");

  py::class_<RecordingFaultyTransport, TransportDecorator,
             std::shared_ptr<RecordingFaultyTransport>>(
      m, "FaultyTransport",
      "Applies a fault plan to the bytes through `inner` (name 'faults(inner name)'). Every "
      "fault applied is recorded; take_applied() drains them.")
      .def(py::init([](std::shared_ptr<Transport> inner, const JsonDict& plan,
                       const std::string& source, std::size_t max_records) {
             return std::make_shared<RecordingFaultyTransport>(
                 std::move(inner), faults::parse_fault_plan(plan.value, source), max_records);
           }),
           py::arg("inner"), py::arg("plan"), py::arg("source") = "",
           py::arg("max_records") = FaultyTransport::default_max_records)
      .def_property_readonly(
          "plan",
          [](const RecordingFaultyTransport& t) { return JsonDict{faults::to_json(t.plan())}; })
      .def_property_readonly("suppressed_records", &RecordingFaultyTransport::suppressed_records)
      .def_property_readonly("held_bytes", &RecordingFaultyTransport::held_bytes,
                             "Bytes held by delays (towards the host or the device).")
      .def(
          "take_applied",
          [](RecordingFaultyTransport& t) {
            py::list out;
            for (const AppliedFault& a : t.take()) {
              py::dict entry;
              entry["monotonic_ns"] = a.monotonic_ns;
              entry["fault"] = a.fault;
              entry["kind"] = std::string(faults::kind_name(a.kind));
              entry["direction"] = std::string(faults::direction_name(a.direction));
              entry["offset"] = a.offset;
              entry["change"] = to_python(a.change);
              out.append(std::move(entry));
            }
            return out;
          },
          "[{'monotonic_ns', 'fault', 'kind', 'direction', 'offset', 'change'}], oldest first; "
          "empties the record.");
}

}  // namespace hilbench::python
