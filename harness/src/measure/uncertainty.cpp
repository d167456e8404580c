#include "hilbench/measure/uncertainty.hpp"

#include <cmath>
#include <numeric>
#include <string_view>

#include "hilbench/errors.hpp"

namespace hilbench::measure {
namespace {

[[noreturn]] void invalid(const std::string& operation, const std::string& detail) {
  throw ConfigError({.device = "", .operation = operation, .deadline = std::nullopt}, detail);
}

void check_input(const std::string& operation, double input) {
  if (!std::isfinite(input) || input < 0.0) {
    invalid(operation, "the input must be finite and >= 0, not " + std::to_string(input));
  }
}

Distribution distribution_from_string(std::string_view text) {
  for (auto d : {Distribution::type_a, Distribution::normal, Distribution::rectangular,
                 Distribution::resolution}) {
    if (text == to_string(d)) return d;
  }
  invalid("measure.budget", "unknown distribution '" + std::string(text) +
                                "' (type_a, normal, rectangular, resolution)");
}

}  // namespace

double percentage_error(double measured, double reference) {
  if (!std::isfinite(reference) || reference == 0.0 || !std::isfinite(measured)) {
    invalid("measure.percentage_error",
            "needs a finite, non-zero reference and a finite value (reference " +
                std::to_string(reference) + ", measured " + std::to_string(measured) + ")");
  }
  return (measured - reference) / reference * 100.0;
}

ReadingStatistics statistics(std::span<const double> readings) {
  if (readings.empty()) invalid("measure.statistics", "no readings");
  ReadingStatistics out;
  out.n = readings.size();
  for (double r : readings) {
    if (!std::isfinite(r)) invalid("measure.statistics", "a reading is not finite");
  }
  out.mean = std::accumulate(readings.begin(), readings.end(), 0.0) / double(out.n);
  if (out.n >= 2) {
    double squares = 0.0;
    for (double r : readings) squares += (r - out.mean) * (r - out.mean);
    out.stddev = std::sqrt(squares / double(out.n - 1));
    out.type_a = out.stddev / std::sqrt(double(out.n));
    out.spread_known = true;
  }
  return out;
}

const char* to_string(Distribution distribution) noexcept {
  switch (distribution) {
    case Distribution::type_a:
      return "type_a";
    case Distribution::normal:
      return "normal";
    case Distribution::rectangular:
      return "rectangular";
    case Distribution::resolution:
      return "resolution";
  }
  return "?";
}

void UncertaintyBudget::add(Contribution c) {
  check_input("measure.budget(" + c.name + ")", c.input);
  if (!std::isfinite(c.sensitivity)) invalid("measure.budget(" + c.name + ")", "sensitivity");
  c.standard_uncertainty = c.input / c.divisor;
  contributions_.push_back(std::move(c));
}

void UncertaintyBudget::add_type_a(const std::string& name, std::span<const double> readings,
                                   double sensitivity) {
  const auto stats = statistics(readings);
  if (!stats.spread_known) invalid("measure.budget(" + name + ")", "Type A needs n >= 2");
  add({.name = name,
       .distribution = Distribution::type_a,
       .input = stats.type_a,
       .divisor = 1.0,
       .standard_uncertainty = 0.0,
       .sensitivity = sensitivity,
       .degrees_of_freedom = double(stats.n - 1)});
}

void UncertaintyBudget::add_certificate(const std::string& name, double expanded, double k,
                                        double sensitivity) {
  if (!std::isfinite(k) || k <= 0.0) invalid("measure.budget(" + name + ")", "k must be > 0");
  add({.name = name,
       .distribution = Distribution::normal,
       .input = expanded,
       .divisor = k,
       .standard_uncertainty = 0.0,
       .sensitivity = sensitivity,
       .degrees_of_freedom = std::numeric_limits<double>::infinity()});
}

void UncertaintyBudget::add_rectangular(const std::string& name, double half_width,
                                        double sensitivity) {
  add({.name = name,
       .distribution = Distribution::rectangular,
       .input = half_width,
       .divisor = std::sqrt(3.0),
       .standard_uncertainty = 0.0,
       .sensitivity = sensitivity,
       .degrees_of_freedom = std::numeric_limits<double>::infinity()});
}

void UncertaintyBudget::add_resolution(const std::string& name, double resolution,
                                       double sensitivity) {
  add({.name = name,
       .distribution = Distribution::resolution,
       .input = resolution,
       .divisor = 2.0 * std::sqrt(3.0),
       .standard_uncertainty = 0.0,
       .sensitivity = sensitivity,
       .degrees_of_freedom = std::numeric_limits<double>::infinity()});
}

double UncertaintyBudget::combined() const noexcept {
  double sum = 0.0;
  for (const auto& c : contributions_) {
    const double u = c.sensitivity * c.standard_uncertainty;
    sum += u * u;
  }
  return std::sqrt(sum);
}

double UncertaintyBudget::effective_degrees_of_freedom() const noexcept {
  const double uc = combined();
  double denominator = 0.0;
  for (const auto& c : contributions_) {
    if (std::isfinite(c.degrees_of_freedom) && c.degrees_of_freedom > 0.0) {
      denominator += std::pow(c.sensitivity * c.standard_uncertainty, 4) / c.degrees_of_freedom;
    }
  }
  if (denominator == 0.0) return std::numeric_limits<double>::infinity();
  return std::pow(uc, 4) / denominator;
}

nlohmann::ordered_json UncertaintyBudget::to_json(double k) const {
  auto contributions = nlohmann::ordered_json::array();
  for (const auto& c : contributions_) {
    nlohmann::ordered_json item{{"name", c.name},
                                {"distribution", to_string(c.distribution)},
                                {"input", c.input},
                                {"divisor", c.divisor},
                                {"sensitivity", c.sensitivity},
                                {"standard_uncertainty", c.standard_uncertainty}};
    item["degrees_of_freedom"] = std::isfinite(c.degrees_of_freedom)
                                     ? nlohmann::ordered_json(c.degrees_of_freedom)
                                     : nlohmann::ordered_json(nullptr);
    contributions.push_back(std::move(item));
  }
  const double nu = effective_degrees_of_freedom();
  return {{"contributions", contributions},
          {"combined", combined()},
          {"k", k},
          {"expanded", expanded(k)},
          {"coverage", coverage_statement(k)},
          {"effective_degrees_of_freedom",
           std::isfinite(nu) ? nlohmann::ordered_json(nu) : nlohmann::ordered_json(nullptr)}};
}

UncertaintyBudget UncertaintyBudget::from_json(const nlohmann::json& contributions) {
  UncertaintyBudget budget;
  if (!contributions.is_array()) invalid("measure.budget", "contributions must be a list");
  budget.contributions_.reserve(contributions.size());
  for (const auto& item : contributions) {
    try {
      const auto distribution =
          distribution_from_string(item.at("distribution").get<std::string>());
      Contribution c{.name = item.at("name").get<std::string>(),
                     .distribution = distribution,
                     .input = item.at("input").get<double>(),
                     .divisor = 1.0,
                     .standard_uncertainty = 0.0,
                     .sensitivity = item.value("sensitivity", 1.0),
                     .degrees_of_freedom = std::numeric_limits<double>::infinity()};
      switch (distribution) {
        case Distribution::type_a: {
          const auto& dof = item.at("degrees_of_freedom");
          c.degrees_of_freedom = dof.is_null() ? c.degrees_of_freedom : dof.get<double>();
          break;
        }
        case Distribution::normal:
          c.divisor = item.at("divisor").get<double>();
          break;  // k
        case Distribution::rectangular:
          c.divisor = std::sqrt(3.0);
          break;
        case Distribution::resolution:
          c.divisor = 2.0 * std::sqrt(3.0);
          break;
      }
      if (!std::isfinite(c.divisor) || c.divisor <= 0.0) {
        invalid("measure.budget(" + c.name + ")", "the divisor must be > 0");
      }
      budget.add(std::move(c));
    } catch (const nlohmann::json::exception& error) {
      invalid("measure.budget", std::string("a contribution is malformed: ") + error.what());
    }
  }
  return budget;
}

std::string coverage_statement(double k) {
  if (k == 2.0) return "k = 2, approximately 95 % coverage (normal distribution)";
  return "k = " + std::to_string(k);
}

}  // namespace hilbench::measure
