#include "hilbench/measure/decision.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "hilbench/errors.hpp"

namespace hilbench::measure {
namespace {
[[noreturn]] void invalid(const std::string& detail) {
  throw ConfigError({.device = "", .operation = "measure.decide", .deadline = std::nullopt},
                    detail);
}
}  // namespace

const char* to_string(DecisionRule rule) noexcept {
  switch (rule) {
    case DecisionRule::simple_acceptance:
      return "simple_acceptance";
    case DecisionRule::guard_band:
      return "guard_band";
  }
  return "?";
}

const char* to_string(Verdict verdict) noexcept {
  switch (verdict) {
    case Verdict::pass:
      return "pass";
    case Verdict::fail:
      return "fail";
    case Verdict::conditional_pass:
      return "conditional pass";
    case Verdict::conditional_fail:
      return "conditional fail";
  }
  return "?";
}

DecisionRule decision_rule_from_string(const std::string& text) {
  for (auto rule : {DecisionRule::simple_acceptance, DecisionRule::guard_band}) {
    if (text == to_string(rule)) return rule;
  }
  invalid("unknown decision rule '" + text + "' (simple_acceptance, guard_band)");
}

Verdict decide(double value, const Limits& limits, double expanded_u, DecisionRule rule) {
  if (!limits.lower && !limits.upper) invalid("no limit given");
  if (limits.lower && limits.upper && *limits.lower > *limits.upper) {
    invalid("the lower limit is above the upper limit");
  }
  if (!std::isfinite(expanded_u) || expanded_u < 0.0) invalid("U must be finite and >= 0");
  if (!std::isfinite(value)) return Verdict::fail;
  // Distance inside the tolerance interval (negative: outside), to the nearer limit.
  double inside = std::numeric_limits<double>::infinity();
  if (limits.lower) inside = std::min(inside, value - *limits.lower);
  if (limits.upper) inside = std::min(inside, *limits.upper - value);
  if (rule == DecisionRule::simple_acceptance) return inside >= 0.0 ? Verdict::pass : Verdict::fail;
  if (inside >= expanded_u) return Verdict::pass;
  if (-inside > expanded_u) return Verdict::fail;
  return inside >= 0.0 ? Verdict::conditional_pass : Verdict::conditional_fail;
}

}  // namespace hilbench::measure
