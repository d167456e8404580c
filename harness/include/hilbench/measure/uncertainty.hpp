#pragma once
// Measurement uncertainty after the GUM (JCGM 100:2008; research notes metrology §4.1):
// statistics of repeated readings, Type A and Type B contributions, combined and expanded
// uncertainty. Pure functions and values: no I/O, nothing journaled here (the Python layer
// journals the budget's to_json() with the measurement, hilbench/measure.py).
// Thread-safety: an UncertaintyBudget is a value; distinct objects on distinct threads.
// Units: every figure is in the unit of the measurand the caller chose (for meter errors:
// percent of the reference value); nothing here converts units.
#include <cstddef>
#include <limits>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

namespace hilbench::measure {

/// Percentage error of a measured value against the reference: (measured - reference) /
/// reference x 100. ConfigError when the reference is 0 or not finite.
double percentage_error(double measured, double reference);

/// Mean, experimental standard deviation s (n - 1) and the standard uncertainty of the mean
/// s / sqrt(n) of repeated readings. n >= 1; with n = 1 the spread is unknown: s and the
/// Type A uncertainty are 0 and `spread_known` is false.
struct ReadingStatistics {
  std::size_t n = 0;
  double mean = 0.0;
  double stddev = 0.0;
  double type_a = 0.0;
  bool spread_known = false;
};
ReadingStatistics statistics(std::span<const double> readings);

/// How a contribution's input turns into a standard uncertainty.
enum class Distribution {
  type_a,       ///< s / sqrt(n) of repeated readings (input: s/sqrt(n), divisor 1)
  normal,       ///< a certificate's expanded uncertainty U with its coverage factor k: U / k
  rectangular,  ///< half-width a of a rectangular interval: a / sqrt(3)
  resolution,   ///< resolution (one digit, one pulse) d: half-width d / 2, rectangular
};
const char* to_string(Distribution distribution) noexcept;

struct Contribution {
  std::string name;
  Distribution distribution = Distribution::normal;
  double input = 0.0;    ///< s/sqrt(n), U, a or d, as the distribution says
  double divisor = 1.0;  ///< what the input is divided by (1, k, sqrt(3), 2 sqrt(3))
  double standard_uncertainty = 0.0;
  double sensitivity = 1.0;                                             ///< c_i
  double degrees_of_freedom = std::numeric_limits<double>::infinity();  ///< n - 1 for Type A
};

/// An uncertainty budget: contributions combined in quadrature (uncorrelated inputs),
/// expanded with a coverage factor k (default 2: about 95 % coverage for large effective
/// degrees of freedom). Every add_* throws ConfigError for a negative or non-finite input.
class UncertaintyBudget {
 public:
  /// Type A from repeated readings (needs n >= 2; ConfigError otherwise).
  void add_type_a(const std::string& name, std::span<const double> readings,
                  double sensitivity = 1.0);
  /// Type B from a calibration certificate: expanded uncertainty U stated with factor k.
  void add_certificate(const std::string& name, double expanded, double k,
                       double sensitivity = 1.0);
  /// Type B, rectangular: half-width a.
  void add_rectangular(const std::string& name, double half_width, double sensitivity = 1.0);
  /// Type B, the resolution d of an indication (half-width d / 2, rectangular).
  void add_resolution(const std::string& name, double resolution, double sensitivity = 1.0);

  const std::vector<Contribution>& contributions() const noexcept { return contributions_; }
  /// u_c = sqrt(sum (c_i u_i)^2).
  double combined() const noexcept;
  /// U = k u_c.
  double expanded(double k = 2.0) const noexcept { return k * combined(); }
  /// Welch-Satterthwaite effective degrees of freedom (infinity with only Type B inputs).
  double effective_degrees_of_freedom() const noexcept;

  /// The budget as plain data (contributions, combined, k, expanded, coverage statement,
  /// effective degrees of freedom: null when infinite).
  nlohmann::ordered_json to_json(double k = 2.0) const;
  /// Rebuilds a budget from the contribution list of to_json() (name, distribution, input,
  /// sensitivity, degrees_of_freedom for type_a); recomputes every derived figure.
  static UncertaintyBudget from_json(const nlohmann::json& contributions);

 private:
  void add(Contribution contribution);
  std::vector<Contribution> contributions_;
};

/// The coverage statement for k ("k = 2, approximately 95 % coverage").
std::string coverage_statement(double k);

}  // namespace hilbench::measure
