// Python face of the timing half of harness/measure: LatencyHistogram and per-exchange
// timing from a ChunkCapture's drained chunks. Adapts only: durations are integer
// nanoseconds (`*_ns`) on both sides (timing evidence keeps the transport's resolution),
// JSON goes through py_json.hpp. Everything runs with the GIL held: the work is in memory
// and short. std::invalid_argument surfaces as Python ValueError (pybind11's default).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "hilbench/measure/histogram.hpp"
#include "hilbench/measure/latency.hpp"
#include "py_json.hpp"

namespace hilbench::python {

namespace {

using measure::ExchangeTiming;
using measure::LatencyHistogram;
using std::chrono::nanoseconds;

/// ChunkCapture.drain()'s [(direction, monotonic_ns, bytes)] -> chunks.
std::vector<Chunk> to_chunks(const py::list& chunks) {
  std::vector<Chunk> out;
  out.reserve(chunks.size());
  for (const auto& item : chunks) {
    const auto tuple = item.cast<py::tuple>();
    if (tuple.size() != 3) throw py::value_error("a chunk is (direction, monotonic_ns, bytes)");
    const auto direction = tuple[0].cast<std::string>();
    if (direction != "tx" && direction != "rx")
      throw py::value_error("chunk direction must be 'tx' or 'rx', got " + direction);
    const auto data = tuple[2].cast<std::string>();
    out.push_back(Chunk{direction == "tx" ? Direction::tx : Direction::rx,
                        tuple[1].cast<std::int64_t>(), Bytes(data.begin(), data.end())});
  }
  return out;
}

py::dict exchange_dict(const ExchangeTiming& e, std::optional<double> character_time) {
  py::dict d;
  d["request_end_ns"] = e.request_end_ns;
  d["request_bytes"] = e.request_bytes;
  d["answered"] = e.answered();
  d["response_first_ns"] = e.response_first_ns;
  d["response_last_ns"] = e.response_last_ns;
  d["response_bytes"] = e.response_bytes;
  d["response_chunks"] = e.response_chunks;
  d["to_first_ns"] = e.to_first().count();
  d["to_last_ns"] = e.to_last().count();
  if (character_time) {
    const auto tc =
        std::chrono::duration_cast<nanoseconds>(std::chrono::duration<double>(*character_time));
    const auto line = measure::serial_line_timing(e, tc);
    d["character_time_ns"] = tc.count();
    d["silence_before_response_ns"] = line.silence_before_response.count();
    d["max_inner_gap_ns"] = line.max_inner_gap.count();
    d["max_gap_after_byte"] = line.max_gap_after_byte;
  }
  return d;
}

}  // namespace

void bind_timing(py::module_& m) {
  py::class_<LatencyHistogram>(
      m, "LatencyHistogram",
      "Streaming log-linear histogram of durations in ns (constant memory, mergeable, "
      "JSON for the journal): harness/include/hilbench/measure/histogram.hpp.")
      .def(py::init<>())
      .def(
          "record_ns", [](LatencyHistogram& h, std::int64_t ns) { h.record(nanoseconds{ns}); },
          py::arg("ns"))
      .def("merge", &LatencyHistogram::merge, py::arg("other"))
      .def_property_readonly("count", &LatencyHistogram::count)
      .def_property_readonly("min_ns", [](const LatencyHistogram& h) { return h.min().count(); })
      .def_property_readonly("max_ns", [](const LatencyHistogram& h) { return h.max().count(); })
      .def_property_readonly("mean_ns", &LatencyHistogram::mean_ns)
      .def_property_readonly("stddev_ns", &LatencyHistogram::stddev_ns)
      .def_property_readonly("jitter_ns", &LatencyHistogram::jitter_ns)
      .def(
          "quantile_ns", [](const LatencyHistogram& h, double q) { return h.quantile(q).count(); },
          py::arg("q"))
      .def("to_json", [](const LatencyHistogram& h) { return to_python(h.to_json()); })
      .def_static(
          "from_json",
          [](const py::dict& j) { return LatencyHistogram::from_json(to_json(j, "histogram", 0)); },
          py::arg("data"));

  m.def(
      "exchange_timings",
      [](const py::list& chunks, std::optional<double> character_time) {
        const auto parsed = to_chunks(chunks);
        py::list out;
        for (const auto& e : measure::exchange_timings(parsed))
          out.append(exchange_dict(e, character_time));
        return out;
      },
      py::arg("chunks"), py::arg("character_time") = py::none(),
      "Per-exchange timing from ChunkCapture.drain() (oldest first): dicts with request_end_ns, "
      "response_first_ns/last_ns, to_first_ns, to_last_ns, byte counts; with a serial line's "
      "character_time (s) also silence_before_response_ns, max_inner_gap_ns (docs/timing.md).");
  m.def(
      "rtu_limits_ns",
      [](int baud, double character_time) {
        const auto limits = measure::rtu_limits(
            baud,
            std::chrono::duration_cast<nanoseconds>(std::chrono::duration<double>(character_time)));
        return py::make_tuple(limits.t1_5.count(), limits.t3_5.count());
      },
      py::arg("baud"), py::arg("character_time"),
      "Modbus RTU (t1.5, t3.5) in ns: 1.5 / 3.5 characters up to 19200 baud, 750 / 1750 us "
      "above.");
}

}  // namespace hilbench::python
