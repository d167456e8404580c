// hilbench._core.measure: the uncertainty budget and decision rules (harness/measure) for
// Python. Adapts only: readings are lists of floats, contributions and budgets are dicts
// (py_json.hpp), verdicts and rules are the C++ to_string texts. Pure computation: nothing
// blocks, so no call guard; hilbench/measure.py builds declared measurements on top.
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "hilbench/errors.hpp"
#include "hilbench/measure/decision.hpp"
#include "hilbench/measure/uncertainty.hpp"
#include "py_json.hpp"

namespace py = pybind11;

namespace hilbench::python {
namespace {

/// Type A from the readings (n >= 2) first, then the Type B inputs in the order given; every
/// derived figure recomputed by the core.
nlohmann::json budget_of(const std::vector<double>& readings, const nlohmann::json& contributions,
                         double k) {
  measure::UncertaintyBudget type_a;
  if (readings.size() >= 2) type_a.add_type_a("repeatability (Type A, s/sqrt(n))", readings);
  nlohmann::json all = type_a.to_json(k)["contributions"];
  if (!contributions.is_array()) {
    throw ConfigError({.device = "", .operation = "measure.budget", .deadline = {}},
                      "type_b must be a list of contributions");
  }
  for (const auto& item : contributions) all.push_back(item);
  return measure::UncertaintyBudget::from_json(all).to_json(k);
}

}  // namespace

void bind_measure(py::module_& m) {
  auto sub = m.def_submodule(
      "measure", "Uncertainty budgets (GUM) and decision rules (ILAC-G8): harness/measure");
  sub.def("percentage_error", &measure::percentage_error, py::arg("measured"), py::arg("reference"),
          "(measured - reference) / reference x 100.");
  sub.def(
      "statistics",
      [](const std::vector<double>& readings) {
        const auto s = measure::statistics(readings);
        py::dict out;
        out["n"] = s.n;
        out["mean"] = s.mean;
        out["stddev"] = s.spread_known ? py::cast(s.stddev) : py::none();
        out["type_a"] = s.spread_known ? py::cast(s.type_a) : py::none();
        return out;
      },
      py::arg("readings"),
      "n, mean, experimental standard deviation s and s/sqrt(n) (None for n = 1).");
  sub.def(
      "budget",
      [](const std::vector<double>& readings, const py::object& type_b, double k) {
        return to_python(budget_of(readings, to_json(type_b, "type_b", 0), k));
      },
      py::arg("readings"), py::arg("type_b"), py::arg("k") = 2.0,
      "The budget of repeated readings (Type A when n >= 2) and Type B inputs "
      "([{name, distribution: normal|rectangular|resolution|type_a, input, divisor (k, for "
      "normal), sensitivity, degrees_of_freedom (type_a)}]): contributions with their standard "
      "uncertainties, combined, k, expanded, coverage, effective degrees of freedom.");
  sub.def(
      "decide",
      [](double value, std::optional<double> lower, std::optional<double> upper, double expanded_u,
         const std::string& rule) {
        return std::string(measure::to_string(measure::decide(
            value, {lower, upper}, expanded_u, measure::decision_rule_from_string(rule))));
      },
      py::arg("value"), py::arg("lower"), py::arg("upper"), py::arg("expanded_u"), py::arg("rule"),
      "'pass', 'fail', 'conditional pass' or 'conditional fail' under rule "
      "'simple_acceptance' or 'guard_band' (w = U).");
  sub.attr("RULES") = py::make_tuple("simple_acceptance", "guard_band");
  sub.attr("VERDICTS") = py::make_tuple("pass", "fail", "conditional pass", "conditional fail");
}

}  // namespace hilbench::python
