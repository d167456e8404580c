#pragma once
// Decision rules for a conformity statement (ILAC-G8:09/2019; ISO/IEC 17025 §7.8.6; research
// notes metrology §4.2). Pure functions; nothing journaled here (the caller records the rule
// and the verdict with the measurement). Units: value, limits and U share the measurand's unit.
#include <optional>
#include <string>

namespace hilbench::measure {

enum class DecisionRule {
  simple_acceptance,  ///< ILAC-G8 §4.2.1: w = 0, acceptance limit = tolerance limit
  guard_band,         ///< ILAC-G8 §4.2.3, non-binary, w = U: conditional inside the band
};
enum class Verdict { pass, fail, conditional_pass, conditional_fail };

const char* to_string(DecisionRule rule) noexcept;
const char* to_string(Verdict verdict) noexcept;  ///< "pass", "fail", "conditional pass", ...
/// ConfigError naming the unknown text.
DecisionRule decision_rule_from_string(const std::string& text);

/// Tolerance interval [lower, upper]; a missing side is unbounded (at least one is given).
struct Limits {
  std::optional<double> lower;
  std::optional<double> upper;
};

/// The verdict for `value` with expanded uncertainty `expanded_u` (>= 0):
///   simple_acceptance: pass inside the limits (bounds included), else fail;
///   guard_band (w = U): pass inside the limits by at least U; fail outside by more than U;
///   conditional pass inside the limits but within U of one; conditional fail outside the
///   limits but within U of one. ConfigError for no limit, lower > upper or U < 0.
Verdict decide(double value, const Limits& limits, double expanded_u, DecisionRule rule);

}  // namespace hilbench::measure
